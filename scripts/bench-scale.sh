#!/usr/bin/env bash
# scripts/bench-scale.sh - does a job cost the same in a release of 4,000
# targets as in one of 1,000, how close is it to `xargs -P` doing the same
# work, how long does a 10,000-target plan take, and how close do the jobs'
# start order bring a run to the shortest possible one?
#
#   scripts/bench-scale.sh
#
# Settings come from the environment:
#   BENCH_JOBS   parallel jobs for matrix and xargs   (default 2)
#   BENCH_RUNS   timed runs of each measure, medians  (default 3)
#   BENCH_SMALL  targets of the small trivial release (default 1000)
#   BENCH_LARGE  targets of the large trivial release (default 4000)
#   BENCH_PLAN   targets of the planned-only release  (default 10000)
#   MATRIX       the matrix binary (default target/release/matrix, built
#                with `cargo build --release` first)
#   BENCH_KEEP=1 keep the temporary folder
#   TMPDIR       where the projects are made (default /tmp); /dev/shm puts
#                them on tmpfs, to see matrix's own cost without the disk's
#
# Measures, each the median of BENCH_RUNS runs:
#  1. trivial: each target's build writes a 10-byte file (format "binary");
#     `matrix build --clean -j N` against `xargs -P N` running the same
#     `sh -c` for each target, and the large release against the small one.
#     A second xargs baseline does the work matrix does, timed the same
#     way: the clean of the output folder, then for each target a folder,
#     the file, a build log, its copy into the output folder and an archive
#     log (five new inodes, as matrix makes), then one sha256sum of every
#     copy into checksums.txt; matrix also syncs each file it ships;
#  2. `matrix plan --json` of BENCH_PLAN targets, in milliseconds;
#  3. makespan / lower bound, the lower bound being max(longest job,
#     total work / slots), on two job mixes with known durations (`sleep`):
#     "six 1 s jobs then one 6 s job" and "1,1,1,1,2,2,3,5 s", listed
#     shortest first on 2 slots. The first run has no previous manifest
#     (plan order); the timed runs each start from the one before. A run's
#     makespan is its summary's time (first job's start to last job's end);
#     the command's wall time is shown beside it.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT

LOG_PREFIX=bench-scale
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

JOBS=${BENCH_JOBS:-2}
RUNS=${BENCH_RUNS:-3}
SMALL=${BENCH_SMALL:-1000}
LARGE=${BENCH_LARGE:-4000}
PLAN_TARGETS=${BENCH_PLAN:-10000}
for v in JOBS RUNS SMALL LARGE PLAN_TARGETS; do positive_int "$v" "${!v}"; done
readonly JOBS RUNS SMALL LARGE PLAN_TARGETS

if [[ -n "${MATRIX:-}" ]]; then
	[[ -x "$MATRIX" ]] || die "MATRIX=$MATRIX is not an executable file"
else
	MATRIX=$ROOT/target/release/matrix
	say "cargo build --release"
	(cd "$ROOT" && cargo build --release -q) || die "cargo build --release failed"
fi
for tool in git xargs awk sh sort sha256sum; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/matrix-bench-scale.XXXXXX")
readonly WORK
cleanup() { if [[ "${BENCH_KEEP:-0}" == 1 ]]; then say "kept $WORK"; else rm -rf "$WORK"; fi; }
trap cleanup EXIT
say "load average at start: $(load_avg)"

# median of the arguments (integers)
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
secs() { awk -v us="$1" 'BEGIN { printf "%.3f", us / 1000000 }'; }

# A project of `$2` targets (ids 1..N) in `$1`, whose build runs `$3...`.
# `[matrix] n` is the custom axis; the trivial build writes 10 bytes.
make_project() {
	local dir=$1 count=$2 command=$3
	mkdir -p "$dir"
	{
		printf '[project]\nname = "scale"\n\n[limits]\nmax-targets = %d\n\n' "$((count + 1))"
		printf '[matrix]\nos = ["linux"]\narch = ["amd64"]\nn = ['
		seq -f '"%g",' 1 "$count" | tr -d '\n' | sed 's/,$//'
		printf ']\n\n[build]\ncommand = %s\nbinary = "scale"\nverify = false\n\n' "$command"
		printf '[archive]\nname = "{{ project }}_{{ os }}_{{ arch }}_{{ n }}"\nformat = "binary"\n\n'
		printf '[checksum]\nname = "checksums.txt"\n'
	} >"$dir/matrix.toml"
	printf 'dist/\n' >"$dir/.gitignore"
	local -a git=(git -C "$dir" -c user.name=bench -c user.email=bench@example.invalid
		-c commit.gpgsign=false -c tag.gpgsign=false -c init.defaultBranch=main)
	"${git[@]}" init -q
	"${git[@]}" add -A
	"${git[@]}" commit -q -m bench
	"${git[@]}" tag v1.0.0
}

# Wall time in microseconds of a `matrix build` in project `$1`.
time_build() {
	local t0 t1
	t0=$(now)
	(cd "$1" && "$MATRIX" build --clean -q -j "$JOBS") >"$WORK/build.log" 2>&1 ||
		{ cat "$WORK/build.log" >&2; die "matrix build failed in $1"; }
	t1=$(now)
	echo $((t1 - t0))
}

# ---------------------------------------------------------------- 1. trivial

readonly TRIVIAL='["sh", "-c", "printf 0123456789 > \"$1\"", "sh", "{{ out }}/{{ bin }}"]'
make_project "$WORK/small" "$SMALL" "$TRIVIAL"
make_project "$WORK/large" "$LARGE" "$TRIVIAL"
mkdir -p "$WORK/xargs"
seq -f "$WORK/xargs/%g" 1 "$SMALL" >"$WORK/xargs.list"

time_xargs() {
	local t0 t1
	rm -rf "$WORK/xargs" && mkdir -p "$WORK/xargs"
	t0=$(now)
	xargs -P "$JOBS" -n 1 sh -c 'printf 0123456789 > "$1"' sh <"$WORK/xargs.list"
	t1=$(now)
	echo $((t1 - t0))
}

# The same work as matrix's, clean included: see the header.
readonly SAME_WORK='d=$0 n=$1
mkdir "$d/build/$n" && printf 0123456789 > "$d/build/$n/scale" &&
echo "# command" > "$d/logs/build-$n.log" && cp "$d/build/$n/scale" "$d/scale_$n" &&
echo "# ok" > "$d/logs/archive-$n.log"'
seq 1 "$SMALL" >"$WORK/same.list"
time_same_work() {
	local t0 t1 d=$WORK/same/dist
	t0=$(now)
	rm -rf "$d" && mkdir -p "$d/build" "$d/logs"
	xargs -P "$JOBS" -n 1 sh -c "$SAME_WORK" "$d" <"$WORK/same.list"
	(cd "$d" && sha256sum scale_* >checksums.txt)
	t1=$(now)
	echo $((t1 - t0))
}

time_build "$WORK/small" >/dev/null # warm-up: page cache, binary
small=() large=() xargs=() same=()
for ((r = 1; r <= RUNS; r++)); do
	small+=("$(time_build "$WORK/small")")
	xargs+=("$(time_xargs)")
	same+=("$(time_same_work)")
	large+=("$(time_build "$WORK/large")")
	say "run $r/$RUNS: matrix $SMALL $(secs "${small[-1]}") s, xargs $SMALL $(secs "${xargs[-1]}") s, same work $(secs "${same[-1]}") s, matrix $LARGE $(secs "${large[-1]}") s"
done
count=$(find "$WORK/small/dist" -maxdepth 1 -name 'scale_*' | wc -l)
[[ $count -eq $SMALL ]] || die "the small release has $count binaries, not $SMALL"
m_small=$(median "${small[@]}")
m_xargs=$(median "${xargs[@]}")
m_same=$(median "${same[@]}")
m_large=$(median "${large[@]}")

# ---------------------------------------------------------------- 2. plan

make_project "$WORK/plan" "$PLAN_TARGETS" "$TRIVIAL"
plan_us=()
for ((r = 1; r <= RUNS; r++)); do
	t0=$(now)
	(cd "$WORK/plan" && "$MATRIX" plan --json) >"$WORK/plan.json"
	t1=$(now)
	plan_us+=($((t1 - t0)))
done
m_plan=$(median "${plan_us[@]}")

# ---------------------------------------------------------------- 3. makespan

# `$1`: the mix's name, `$2`: its durations in seconds, in plan order.
makespan() {
	local name=$1 durations=$2 i=1 cases='' total=0 longest=0 d
	for d in $durations; do
		cases+="{% if n == \\\"$i\\\" %}$d{% endif %}"
		total=$((total + d))
		((d > longest)) && longest=$d
		i=$((i + 1))
	done
	local bound=$(((total + JOBS - 1) / JOBS))
	((longest > bound)) && bound=$longest
	local command="[\"sh\", \"-c\", \"sleep \\\"\$2\\\"; printf 0123456789 > \\\"\$1\\\"\", \"sh\", \"{{ out }}/{{ bin }}\", \"$cases\"]"
	make_project "$WORK/mix-$name" "$((i - 1))" "$command"
	# The run's own time (first job's start to last job's end, from the
	# summary's "time" line, 0.1 s steps) is the makespan; the command's
	# wall time adds planning (git) and start-up.
	local first wall
	time_build "$WORK/mix-$name" >/dev/null
	first=$(run_us)
	local -a runs=() walls=()
	for ((r = 1; r <= RUNS; r++)); do
		wall=$(time_build "$WORK/mix-$name")
		walls+=("$wall")
		runs+=("$(run_us)")
	done
	local m w
	m=$(median "${runs[@]}")
	w=$(median "${walls[@]}")
	printf '%-30s %6s s %8s s %8s s %8s s %10s %10s\n' "$name ($durations)" "$bound" \
		"$(secs "$first")" "$(secs "$m")" "$(secs "$w")" \
		"$(ratio "$first" "$((bound * 1000000))")" "$(ratio "$m" "$((bound * 1000000))")"
}

# The last build's own time in microseconds, from its summary.
run_us() {
	awk '$1 == "time" && $2 ~ /^[0-9.]+s$/ { sub(/s$/, "", $2); printf "%d\n", $2 * 1000000; found = 1 }
		END { if (!found) exit 1 }' "$WORK/build.log" || die "no run time in the build's summary"
}

mixes=$(
	printf '%-30s %8s %10s %10s %10s %10s %10s\n' "mix (s, plan order)" "bound" "1st run" "next runs" "next wall" "1st/bound" "next/bound"
	makespan six-plus-one "1 1 1 1 1 1 6"
	makespan ascending "1 1 1 1 2 2 3 5"
)

cat <<EOF

matrix $("$MATRIX" --version 2>/dev/null || echo '?'), -j $JOBS, medians of $RUNS runs, $(nproc) cores
trivial jobs (10-byte file each):
  matrix $SMALL targets  $(secs "$m_small") s
  xargs -P $JOBS $SMALL      $(secs "$m_xargs") s   (floor: one file per target, no logs, copies or checksums)
  matrix / xargs         $(ratio "$m_small" "$m_xargs")
  xargs, same work       $(secs "$m_same") s   (matrix's files: see the header)
  matrix / same work     $(ratio "$m_small" "$m_same")   (goal <= 1.2)
  matrix $LARGE targets  $(secs "$m_large") s
  $LARGE / $SMALL            $(ratio "$m_large" "$m_small")   (goal <= 4.4)
plan --json, $PLAN_TARGETS targets: $((m_plan / 1000)) ms   (goal < 200)
makespan, $JOBS slots (goal: next/bound <= 1.05):
$mixes
load average at end: $(load_avg)
EOF
