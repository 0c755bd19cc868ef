#!/usr/bin/env bash
# scripts/bench-cache.sh - what the action cache saves: a release of N
# targets whose build each takes S seconds, built cold (empty cache: every
# job runs and is stored), then again after a change, with the ratio of the
# two medians. The change is the mode:
#
#   bash scripts/bench-cache.sh [unchanged|override|description|all|hello-go]
#
#   unchanged    nothing: every build, archive and package is restored
#   override     one target's `[build] overrides` env: that target's build,
#                archive and deb package run, every other build and
#                archive is restored
#   description  `[project] description`: only the deb package (and the
#                channels and release-wide files: notes, checksums,
#                manifest, which always run) run
#   hello-go     examples/hello-go instead of the generated project (16
#                Go targets, homebrew, snap, chocolatey and scoop channels),
#                tagged v1.2.3: three builds a round. Cold: an empty matrix
#                cache and an empty Go build cache, what a CI runner with
#                no cache at all does (the ratio's denominator); cold with
#                Go's cache warm: an empty matrix cache only (a runner that
#                keeps GOCACHE); then the unchanged rebuild. matrix runs
#                with HOME=<temporary folder>/home, so the example's
#                GOCACHE ({{ env.HOME }}/.cache/matrix-go-build) is the
#                bench's own and is emptied for each cold build.
#                (BENCH_TARGETS and BENCH_SECONDS do not apply.)
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
# Each mode checks what reran: the build commands that ran (each appends a
# line to a file outside the project) and the build, archive and package
# jobs (the cached kinds) the manifest does not mark restored; unchanged must make the same
# checksums file as the cold build. The override and description modes
# edit matrix.toml without a commit and build with --snapshot (a commit
# would move the time every archive holds).
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

MODE=${1:-unchanged}
case "$MODE" in
unchanged | override | description | all | hello-go) ;;
*) die "unknown mode $MODE: unchanged, override, description, all or hello-go" ;;
esac
readonly MODE
TARGETS=${BENCH_TARGETS:-4}
SECONDS_EACH=${BENCH_SECONDS:-3}
PARALLEL=${BENCH_PARALLEL:-4}
RUNS=${BENCH_RUNS:-3}
positive_int BENCH_TARGETS "$TARGETS"
positive_int BENCH_SECONDS "$SECONDS_EACH"
positive_int BENCH_PARALLEL "$PARALLEL"
positive_int BENCH_RUNS "$RUNS"
readonly TARGETS SECONDS_EACH PARALLEL RUNS

tools=(git awk sort)
[[ $MODE != hello-go ]] || tools+=(go mksquashfs)
for tool in "${tools[@]}"; do
	command -v "$tool" >/dev/null || die "$tool is needed but not installed"
done

release_matrix "$ROOT"
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

# commit_project TAG: the project as a git repository, committed and tagged.
commit_project() {
	(
		cd "$PROJECT"
		git init -q -b main
		git add -A
		git -c user.name=bench -c user.email=bench@invalid commit -qm bench
		git tag "$1"
	)
}

# generated_project: the N-target project whose builds sleep.
generated_project() {
	local values
	values=$(seq -f '"%02g"' 1 "$TARGETS" | paste -sd, -)
	# shellcheck disable=SC2016 # $0 and $1 are for the build's sh
	cat >"$PROJECT/matrix.toml" <<EOF
[project]
name = "bench"
description = "A benchmark."

[matrix]
os = ["linux"]
arch = ["amd64"]
n = [$values]

[build]
command = ["sh", "-c", "echo run >> \"\$1\"; sleep $SECONDS_EACH; printf '#!/bin/sh\\\\necho {{ n }} %s\\\\n' \"\$FLAVOR\" > \"\$0\"; chmod +x \"\$0\"", "{{ out }}/{{ bin }}", "$RUNS_FILE"]
env = { FLAVOR = "plain" }
binary = "hello"
verify = false
overrides = [ { when = { n = "01" }, env = { FLAVOR = "first" } } ]

[archive]
name = "{{ project }}_{{ version }}_{{ n }}"
format = "tar.gz"

[checksum]
name = "checksums.txt"

[cache]
dir = "$CACHE"

[channels.deb]
kind = "deb"
maintainer = "Bench <bench@example.org>"
when = { n = "01" }
EOF
printf 'dist/\n' >"$PROJECT/.gitignore"
printf '# Changelog\n\n## [1.0.0]\n\n- First.\n' >"$PROJECT/CHANGELOG.md"
commit_project v1.0.0
}

# hello_go_project: a copy of examples/hello-go (not its dist/), tagged
# v1.2.3 as the tests do.
hello_go_project() {
	local src=$ROOT/examples/hello-go
	[[ -f $src/matrix.toml ]] || die "$src/matrix.toml is missing"
	(cd "$src" && tar --exclude=./dist --exclude=./target -cf - .) | (cd "$PROJECT" && tar -xf -)
	printf 'dist/\n' >>"$PROJECT/.gitignore"
	commit_project v1.2.3
}

# How matrix runs: hello-go gives it a HOME of its own (see the top).
readonly GO_HOME=$WORK/home GO_CACHE=$WORK/home/.cache/matrix-go-build
MATRIX_ENV=(env)
if [[ $MODE == hello-go ]]; then
	mkdir -p "$GO_HOME"
	MATRIX_ENV+=("HOME=$GO_HOME")
	hello_go_project
else
	generated_project
fi
readonly MATRIX_ENV

runs() { if [[ -f $RUNS_FILE ]]; then wc -l <"$RUNS_FILE"; else echo 0; fi; }
# build [ARGS...] -> microseconds; fails the bench when matrix fails.
build() {
	local t0 t1
	t0=$(now)
	(cd "$PROJECT" && "${MATRIX_ENV[@]}" "$MATRIX" -q build --clean -j "$PARALLEL" "$@" >"$WORK/out.log" 2>&1) ||
		die "matrix build failed: $(tail -n 20 "$WORK/out.log")"
	t1=$(now)
	echo $((t1 - t0))
}
# The build, archive and package jobs the last build ran (not restored),
# in manifest order, then their total: ` id id ... / total`.
ran_jobs() {
	awk '
		/"jobs": \[/ { in_jobs = 1; next }
		!in_jobs { next }
		/"id":/ { id = $0; sub(/.*"id": "/, "", id); sub(/".*/, "", id); restored = 0 }
		/"kind":/ { kind = $0; sub(/.*"kind": "/, "", kind); sub(/".*/, "", kind) }
		/"restored": true/ { restored = 1 }
		/^ *}/ && id != "" {
			if (kind == "build" || kind == "archive" || kind == "package") {
				total++
				if (!restored) list = list " " id
			}
			id = ""
		}
		/^ *\]/ { in_jobs = 0 }
		END { printf "%s / %d\n", (list == "" ? " none" : list), total }
	' "$PROJECT/dist/manifest.json"
}
edit_config() { # edit_config FROM TO: one replacement, left uncommitted
	local text
	text=$(cat "$PROJECT/matrix.toml")
	[[ $text == *"$1"* ]] || die "matrix.toml has no $1"
	printf '%s\n' "${text/"$1"/"$2"}" >"$PROJECT/matrix.toml"
}
reset_config() { (cd "$PROJECT" && git checkout -q -- matrix.toml); }

# One mode's rounds: cold, change, rebuild. $1 the mode; $2 and $3 the
# edit (none for unchanged); $4 how many builds the rebuild must run; $5
# the jobs it must run (as ran_jobs lists them).
REPORT=()
bench_mode() {
	local mode=$1 from=$2 to=$3 want_builds=$4 want_jobs=$5 round before cold_sums ran=""
	local -a cold_times=() warm_times=() snapshot=()
	[[ $mode == unchanged ]] || snapshot=(--snapshot)
	for ((round = 1; round <= RUNS; round++)); do
		reset_config
		"$MATRIX" cache clear --cache-dir "$CACHE" >/dev/null
		before=$(runs)
		cold_times+=("$(build "${snapshot[@]}")")
		[[ $(runs) -eq $((before + TARGETS)) ]] || die "$mode round $round: the cold build ran $(($(runs) - before)) builds, not $TARGETS"
		cold_sums=$(cat "$PROJECT"/dist/*checksums.txt)
		[[ -z $from ]] || edit_config "$from" "$to"
		before=$(runs)
		warm_times+=("$(build "${snapshot[@]}")")
		[[ $(runs) -eq $((before + want_builds)) ]] || die "$mode round $round: the rebuild ran $(($(runs) - before)) builds, not $want_builds"
		ran=$(ran_jobs)
		[[ ${ran% / *} == " $want_jobs" ]] || die "$mode round $round: the rebuild ran${ran% / *}, not $want_jobs"
		if [[ $mode == unchanged ]]; then
			[[ $(cat "$PROJECT"/dist/*checksums.txt) == "$cold_sums" ]] || die "round $round: the restored release differs"
		fi
		say "$mode round $round: cold $(seconds "${cold_times[-1]}")s, after the change $(seconds "${warm_times[-1]}")s"
	done
	reset_config
	local cold warm
	cold=$(median "${cold_times[@]}")
	warm=$(median "${warm_times[@]}")
	REPORT+=("$(printf '  %-12s cold %ss, rebuild %ss, rebuild / cold %s; jobs rerun:%s' \
		"$mode" "$(seconds "$cold")" "$(seconds "$warm")" "$(ratio "$warm" "$cold")" "$ran")")
}

# hello-go's rounds: cold with nothing cached, cold with Go's cache warm,
# then the unchanged rebuild, which must restore every build, archive and
# package (snap) job and make the same checksums file; the channel jobs
# only render files (homebrew, snapcraft.yaml, chocolatey, scoop) and
# always run.
bench_hello_go() {
	local round cold_sums ran_cold ran="" cold cold_go warm
	local -a fresh_times=() warm_go_times=() rebuild_times=()
	for ((round = 1; round <= RUNS; round++)); do
		"$MATRIX" cache clear --cache-dir "$CACHE" >/dev/null
		rm -rf -- "$GO_CACHE"
		fresh_times+=("$(build --cache-dir "$CACHE")")
		ran_cold=$(ran_jobs)
		[[ ${ran_cold% / *} != " none" && $(wc -w <<<"${ran_cold% / *}") -eq ${ran_cold##* / } ]] ||
			die "hello-go round $round: the cold build restored jobs:$ran_cold"
		"$MATRIX" cache clear --cache-dir "$CACHE" >/dev/null
		warm_go_times+=("$(build --cache-dir "$CACHE")")
		cold_sums=$(cat "$PROJECT"/dist/*checksums.txt)
		rebuild_times+=("$(build --cache-dir "$CACHE")")
		ran=$(ran_jobs)
		[[ ${ran% / *} == " none" ]] || die "hello-go round $round: the unchanged rebuild ran${ran% / *}"
		[[ $(cat "$PROJECT"/dist/*checksums.txt) == "$cold_sums" ]] || die "round $round: the restored release differs"
		say "hello-go round $round: cold $(seconds "${fresh_times[-1]}")s, cold with Go's cache $(seconds "${warm_go_times[-1]}")s, rebuild $(seconds "${rebuild_times[-1]}")s"
	done
	cold=$(median "${fresh_times[@]}")
	cold_go=$(median "${warm_go_times[@]}")
	warm=$(median "${rebuild_times[@]}")
	REPORT+=("$(printf '  %-12s cold %ss (no GOCACHE), rebuild %ss, rebuild / cold %s' \
		hello-go "$(seconds "$cold")" "$(seconds "$warm")" "$(ratio "$warm" "$cold")")")
	REPORT+=("$(printf '  %-12s cold with GOCACHE warm %ss, rebuild / that %s' \
		"" "$(seconds "$cold_go")" "$(ratio "$warm" "$cold_go")")")
	REPORT+=("$(printf '  %-12s restored %d of %d build, archive and package jobs; the channels render files and always run' \
		"" "${ran##* / }" "${ran##* / }")")
}

first=linux-amd64-01
if [[ $MODE == hello-go ]]; then
	bench_hello_go
fi
if [[ $MODE == unchanged || $MODE == all ]]; then
	bench_mode unchanged "" "" 0 none
fi
if [[ $MODE == override || $MODE == all ]]; then
	bench_mode override 'FLAVOR = "first"' 'FLAVOR = "changed"' 1 "build-$first archive-$first package-deb-$first"
fi
if [[ $MODE == description || $MODE == all ]]; then
	bench_mode description 'description = "A benchmark."' 'description = "A benchmark, described."' 0 "package-deb-$first"
fi

if [[ $MODE == hello-go ]]; then
	setting="examples/hello-go, go $(go env GOVERSION)"
else
	setting="$TARGETS targets x ${SECONDS_EACH}s builds"
fi
cat <<EOF
bench-cache: $setting, -j $PARALLEL, $RUNS rounds (median)
$(printf '%s\n' "${REPORT[@]}")
  matrix        $MATRIX
  load average  $(load_avg)
EOF
