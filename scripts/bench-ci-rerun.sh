#!/usr/bin/env bash
# scripts/bench-ci-rerun.sh - a CI rerun with a shared registry cache: four
# shards (`matrix build --shard i/4`), each in its own checkout with its own
# empty cache folder, all pulling from and pushing to one registry
# repository (--cache-from/--cache-to). One shard is killed (SIGKILL, a
# runner that dies) after some of its builds finished; it is then rerun on
# a fresh runner: its checkout deleted and cloned again at the same path
# (CI checks a job out at the same path on every runner, and the absolute
# working folder is part of a build's cache key) with a fresh, empty
# cache folder. The rerun should restore every build the killed shard
# finished and run only the others.
#
#   bash scripts/bench-ci-rerun.sh
#
# Settings come from the environment:
#   BENCH_TARGETS     targets of the matrix                       (default 12)
#   BENCH_SECONDS     seconds each build sleeps                   (default 3)
#   BENCH_KILL_AFTER  builds the killed shard finishes first      (default 2)
#   BENCH_REGISTRY    registry host:port    (default 127.0.0.1:5000, started
#                     by scripts/setup-containers.sh)
#   MATRIX            the matrix binary; without it `cargo build --release`
#                     runs first and $CARGO_TARGET_DIR/release/matrix is used
#   BENCH_KEEP=1      keep the temporary folder
#
# Every shard builds with -j 1, so the killed one has finished some builds
# and not others when it dies. Its rerun's release must hold the same
# binaries as a build without any cache.
set -euo pipefail
export LC_ALL=C

LOG_PREFIX=bench-ci-rerun
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT

TARGETS=${BENCH_TARGETS:-12}
SECONDS_EACH=${BENCH_SECONDS:-3}
KILL_AFTER=${BENCH_KILL_AFTER:-2}
REGISTRY=${BENCH_REGISTRY:-127.0.0.1:5000}
readonly SHARDS=4 VICTIM=1
positive_int BENCH_TARGETS "$TARGETS"
positive_int BENCH_SECONDS "$SECONDS_EACH"
positive_int BENCH_KILL_AFTER "$KILL_AFTER"
readonly TARGETS SECONDS_EACH KILL_AFTER REGISTRY
((TARGETS >= SHARDS * (KILL_AFTER + 1))) ||
	die "BENCH_TARGETS must be at least $((SHARDS * (KILL_AFTER + 1))): each shard needs builds left after BENCH_KILL_AFTER"

for tool in git awk curl setsid grep; do
	command -v "$tool" >/dev/null || die "$tool is needed but not installed"
done
curl -fsS -m 5 "http://$REGISTRY/v2/" >/dev/null ||
	die "no registry answers at http://$REGISTRY/v2/; start one with scripts/setup-containers.sh or set BENCH_REGISTRY"

release_matrix "$ROOT"
"$MATRIX" build --help 2>/dev/null | grep -q -- --cache-from || die "$MATRIX has no registry cache (--cache-from)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/matrix-bench-ci-rerun.XXXXXX")
readonly WORK
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
	if [[ "${BENCH_KEEP:-0}" == 1 ]]; then say "kept $WORK (BENCH_KEEP=1)"; else rm -rf -- "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

REPO="$REGISTRY/matrix-bench-$$-$(date +%s)/cache"
readonly REPO PROJECT=$WORK/project
mkdir -p "$PROJECT"
values=$(seq -f '"%02g"' 1 "$TARGETS" | paste -sd, -)
# shellcheck disable=SC2016 # $0 is for the build's sh
cat >"$PROJECT/matrix.toml" <<EOF
[project]
name = "bench"

[matrix]
os = ["linux"]
arch = ["amd64"]
n = [$values]

[build]
command = ["sh", "-c", "sleep $SECONDS_EACH; printf '#!/bin/sh\\\\necho {{ n }}\\\\n' > \"\$0\"; chmod +x \"\$0\"", "{{ out }}/{{ bin }}"]
binary = "hello"
verify = false

[archive]
name = "{{ project }}_{{ version }}_{{ n }}"
format = "tar.gz"
EOF
(
	cd "$PROJECT"
	printf 'dist/\n' >.gitignore
	git init -q -b main
	git add -A
	git -c user.name=bench -c user.email=bench@invalid commit -qm bench
	git tag v1.0.0
)

# start_shard NAME I LOG: a fresh checkout of the project at $WORK/NAME (a
# CI runner) building shard I/4 with its own empty cache folder and the
# shared registry, in its own process group, whose id (its pid) goes to
# STARTED; its output goes to $WORK/LOG.log.
STARTED=
start_shard() {
	rm -rf -- "${WORK:?}/$1" "${WORK:?}/$1-cache"
	git clone -q "$PROJECT" "$WORK/$1"
	(
		cd "$WORK/$1"
		exec setsid "$MATRIX" build -j 1 --shard "$2/$SHARDS" --cache-dir "$WORK/$1-cache" \
			--cache-from "$REPO" --cache-to "$REPO" >"$WORK/$3.log" 2>&1
	) &
	STARTED=$!
	PIDS+=("$STARTED")
}
# finished NAME: the builds the run reported done.
finished() { grep -cE '^ok +build ' "$WORK/$1.log" || true; }
# builds NAME: the build jobs of the run's manifest and how many were restored.
restored() {
	awk '/"kind": "build"/ { b++ } /"restored": true/ { r++ } END { printf "%d %d\n", b, r }' \
		"$WORK/$1/dist/manifest.json"
}

say "registry repository $REPO; $TARGETS targets x ${SECONDS_EACH}s, $SHARDS shards at -j 1"
t0=$(now)
declare -A PID
for ((i = 1; i <= SHARDS; i++)); do
	start_shard "shard-$i" "$i" "shard-$i"
	PID[$i]=$STARTED
done

# Kill the victim once it has finished KILL_AFTER builds.
victim=shard-$VICTIM
while (($(finished "$victim") < KILL_AFTER)); do
	kill -0 "${PID[$VICTIM]}" 2>/dev/null || die "$victim ended before it was killed: $(tail -n 20 "$WORK/$victim.log")"
	sleep 0.1
done
kill -KILL -- "-${PID[$VICTIM]}"
wait "${PID[$VICTIM]}" 2>/dev/null || true
killed_at=$(now)
done_before=$(finished "$victim")
say "killed $victim after $(seconds $((killed_at - t0)))s, $done_before builds finished"

FIRST=()
for ((i = 1; i <= SHARDS; i++)); do
	((i == VICTIM)) && continue
	wait "${PID[$i]}" || die "shard-$i failed: $(tail -n 20 "$WORK/shard-$i.log")"
	FIRST+=("$(($(now) - t0))")
done
read -r first_builds first_restored < <(restored shard-2)

# The rerun: a fresh runner (the same path), a fresh cache folder, the
# same registry.
t1=$(now)
start_shard "$victim" "$VICTIM" rerun
wait "$STARTED" || die "the rerun failed: $(tail -n 20 "$WORK/rerun.log")"
t2=$(now)
read -r builds restored_n < <(restored "$victim")
rebuilt=$((builds - restored_n))

# The rerun's binaries are what the builds make.
while IFS= read -r -d '' bin; do
	n=$(basename "$(dirname "$bin")")
	[[ $(sh "$bin") == "${n##*-}" ]] || die "the rerun's $bin prints $(sh "$bin"), not ${n##*-}"
done < <(find "$WORK/$victim/dist/build" -name hello -type f -print0)

full=$((builds * SECONDS_EACH))
cat <<EOF
bench-ci-rerun: $TARGETS targets x ${SECONDS_EACH}s builds, $SHARDS shards at -j 1, shared registry cache
  first run, other shards done   $(seconds "${FIRST[-1]}")s (shard-2: $first_builds builds, $first_restored restored)
  shard $VICTIM killed after         $(seconds $((killed_at - t0)))s, $done_before of its $builds builds finished
  rerun of shard $VICTIM             $(seconds $((t2 - t1)))s (its $builds builds uncached: about ${full}s)
  rerun restored                 $restored_n of the $done_before finished builds
  rerun rebuilt                  $rebuilt of the $((builds - done_before)) unfinished
  matrix                         $MATRIX
  load average                   $(load_avg)
EOF
((restored_n >= done_before)) || die "the rerun restored $restored_n builds, fewer than the $done_before finished"
