#!/usr/bin/env bash
# scripts/bench-cache.sh - what the action cache saves: a release of N
# targets whose build each takes S seconds, built cold (empty cache: every
# build runs and is stored) and rebuilt unchanged (every build restored),
# with the ratio of the two medians.
#
#   bash scripts/bench-cache.sh
#
# Settings come from the environment:
#   BENCH_TARGETS   targets of the matrix                        (default 4)
#   BENCH_SECONDS   seconds each build sleeps                     (default 3)
#   BENCH_PARALLEL  -j of every build                             (default 4)
#   BENCH_RUNS      rounds; each is a cold build then a warm one  (default 3)
#   MATRIX          the matrix binary; without it `cargo build --release`
#                   runs first and $CARGO_TARGET_DIR/release/matrix is used
#   BENCH_KEEP=1    keep the temporary folder
#
# Both sides' releases are checked: the warm build must not run a single
# build command (each appends a line to a file outside the project) and
# must make the same checksums file as the cold one.
set -euo pipefail
export LC_ALL=C

LOG_PREFIX=bench-cache
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
	if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

TARGETS=${BENCH_TARGETS:-4}
SECONDS_EACH=${BENCH_SECONDS:-3}
PARALLEL=${BENCH_PARALLEL:-4}
RUNS=${BENCH_RUNS:-3}
positive_int BENCH_TARGETS "$TARGETS"
positive_int BENCH_SECONDS "$SECONDS_EACH"
positive_int BENCH_PARALLEL "$PARALLEL"
positive_int BENCH_RUNS "$RUNS"
readonly TARGETS SECONDS_EACH PARALLEL RUNS

for tool in git awk sort; do
	command -v "$tool" >/dev/null || die "$tool is needed but not installed"
done

if [[ -n "${MATRIX:-}" ]]; then
	[[ -x "$MATRIX" ]] || die "MATRIX=$MATRIX is not an executable file"
else
	command -v cargo >/dev/null || die "cargo is needed to build matrix; or set MATRIX to a matrix binary"
	target=${CARGO_TARGET_DIR:-$ROOT/target}
	say "cargo build --release (CARGO_TARGET_DIR=$target)"
	(cd "$ROOT" && CARGO_TARGET_DIR=$target cargo build --release -q) || die "cargo build --release failed"
	MATRIX=$target/release/matrix
fi
"$MATRIX" build --help 2>/dev/null | grep -q -- --no-cache || die "$MATRIX has no action cache (--no-cache)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/matrix-bench-cache.XXXXXX")
readonly WORK
cleanup() {
	if [[ "${BENCH_KEEP:-0}" == 1 ]]; then say "kept $WORK (BENCH_KEEP=1)"; else rm -rf -- "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

readonly PROJECT=$WORK/project CACHE=$WORK/cache RUNS_FILE=$WORK/runs
mkdir -p "$PROJECT"
values=$(seq -f '"%02g"' 1 "$TARGETS" | paste -sd, -)
# shellcheck disable=SC2016 # $0 and $1 are for the build's sh
cat >"$PROJECT/matrix.toml" <<EOF
[project]
name = "bench"

[matrix]
os = ["linux"]
arch = ["amd64"]
n = [$values]

[build]
command = ["sh", "-c", "echo run >> \"\$1\"; sleep $SECONDS_EACH; printf '#!/bin/sh\\\\necho {{ n }}\\\\n' > \"\$0\"; chmod +x \"\$0\"", "{{ out }}/{{ bin }}", "$RUNS_FILE"]
binary = "hello"
verify = false

[archive]
name = "{{ project }}_{{ version }}_{{ n }}"
format = "tar.gz"

[checksum]
name = "checksums.txt"

[cache]
dir = "$CACHE"
EOF
(
	cd "$PROJECT"
	printf 'dist/\n' >.gitignore
	git init -q -b main
	git add -A
	git -c user.name=bench -c user.email=bench@invalid commit -qm bench
	git tag v1.0.0
)

runs() { if [[ -f $RUNS_FILE ]]; then wc -l <"$RUNS_FILE"; else echo 0; fi; }
# build -> microseconds; fails the bench when matrix fails.
build() {
	local t0 t1
	t0=$(now)
	(cd "$PROJECT" && "$MATRIX" -q build --clean -j "$PARALLEL" >"$WORK/out.log" 2>&1) ||
		die "matrix build failed: $(tail -n 20 "$WORK/out.log")"
	t1=$(now)
	echo $((t1 - t0))
}

COLD=()
WARM=()
for ((round = 1; round <= RUNS; round++)); do
	"$MATRIX" cache clear --cache-dir "$CACHE" >/dev/null
	before=$(runs)
	COLD+=("$(build)")
	[[ $(runs) -eq $((before + TARGETS)) ]] || die "round $round: the cold build ran $(($(runs) - before)) builds, not $TARGETS"
	cold_sums=$(cat "$PROJECT/dist/checksums.txt")
	before=$(runs)
	WARM+=("$(build)")
	[[ $(runs) -eq $before ]] || die "round $round: the unchanged rebuild ran $(($(runs) - before)) builds"
	[[ $(cat "$PROJECT/dist/checksums.txt") == "$cold_sums" ]] || die "round $round: the restored release differs"
	say "round $round: cold $(seconds "${COLD[-1]}")s, unchanged $(seconds "${WARM[-1]}")s"
done

cold=$(median "${COLD[@]}")
warm=$(median "${WARM[@]}")
cat <<EOF
bench-cache: $TARGETS targets x ${SECONDS_EACH}s builds, -j $PARALLEL, $RUNS rounds (median)
  cold build (empty cache)      $(seconds "$cold")s
  unchanged rebuild (restored)  $(seconds "$warm")s
  unchanged / cold              $(ratio "$warm" "$cold")
  matrix                        $MATRIX
  load average                  $(cut -d ' ' -f 1-3 /proc/loadavg 2>/dev/null || echo unknown)
EOF
