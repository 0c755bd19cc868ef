#!/usr/bin/env bash
# scripts/bench-containers.sh - what running build jobs in containers through
# `matrix build` costs: N trivial container jobs (each writes a small file
# as its binary) through matrix one at a time, against a plain sequential
# shell loop of N `docker run --rm` doing the same work; and what running
# the containers in parallel gains. Prints a table with the per-job
# overhead, the matrix/loop ratio and the parallel speed-up.
#
#   bash scripts/bench-containers.sh
#
# Needs a running docker daemon and the local busybox image that
# scripts/setup-containers.sh makes; nothing is pulled.
#
# Settings come from the environment:
#   BENCH_JOBS      container jobs per build: the matrix's targets and the
#                   loop's `docker run`s                       (default 16)
#   BENCH_PARALLEL  -j and --container-jobs of the parallel run (default 4)
#   BENCH_RUNS      timed runs of each side                    (default 3)
#   BENCH_IMAGE     the image every job runs in (default matrix-base/busybox:amd64)
#   MATRIX          the matrix binary; without it `cargo build --release`
#                   runs first (a no-op when the build is fresh) and
#                   $CARGO_TARGET_DIR/release/matrix is used, the target
#                   folder bench.sh and bench-cross.sh use by default
#   BENCH_KEEP=1    keep the temporary folder (project, outputs, logs)
#
# Four sides run alternately (in order, then in reverse order: ABCD DCBA),
# after one untimed warm-up of each, and the median wall time of each is
# reported:
#   loop        N times `docker run --rm --user U:G -v OUT:OUT IMAGE sh -c ...`
#   matrix -j1  matrix build -j1 --container-jobs 1 (containers one at a time)
#   matrix -jP  matrix build -jP --container-jobs P (P containers at once)
#   matrix host the same matrix without `container`: the jobs run on the
#               host, which shows matrix's own work around the containers
# matrix's times include that work (plan, engine probes, N tar.gz archives,
# checksums, manifest, the end-of-run container sweep); the files are a few
# bytes, so the packaging is small. Both sides' outputs are checked after
# the runs so a broken build cannot pass as a fast one.
set -euo pipefail
export LC_ALL=C

LOG_PREFIX=bench-containers
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT


COUNT=${BENCH_JOBS:-16}
PARALLEL=${BENCH_PARALLEL:-4}
RUNS=${BENCH_RUNS:-3}
IMAGE=${BENCH_IMAGE:-matrix-base/busybox:amd64}
positive_int BENCH_JOBS "$COUNT"
positive_int BENCH_PARALLEL "$PARALLEL"
positive_int BENCH_RUNS "$RUNS"
readonly COUNT PARALLEL RUNS IMAGE
readonly VERSION=1.0.0
readonly BIN_NAME=hello
USER_ID=$(id -u)
GROUP_ID=$(id -g)
readonly USER_ID GROUP_ID

START_US=$(now)
readonly START_US
LOAD_START=$(load_avg)
readonly LOAD_START

# ---------------------------------------------------------------- tools

for tool in git tar sha256sum awk timeout; do
	command -v "$tool" >/dev/null || die "$tool is needed but not installed"
done
command -v docker >/dev/null || die "no docker command on PATH: run scripts/setup-containers.sh"

# The daemon must answer and the image must be there: no registry is
# asked for anything, so a missing image would only fail later, per job.
check_engine() {
	local out status=0
	out=$(timeout 20 docker version --format '{{.Server.Version}}' 2>&1) || status=$?
	out=${out//$'\n'/ }
	out=${out#"${out%%[! ]*}"}
	if [[ $status -ne 0 ]]; then
		die "the docker daemon does not answer (${out:-no message}): run scripts/setup-containers.sh"
	fi
	DAEMON_VERSION=$out
	CLIENT_VERSION=$(docker version --format '{{.Client.Version}}' 2>/dev/null || echo unknown)
	local arch
	if ! arch=$(timeout 20 docker image inspect --format '{{.Architecture}}' "$IMAGE" 2>/dev/null); then
		die "the image $IMAGE is not on the docker daemon: run scripts/setup-containers.sh (or set BENCH_IMAGE to a local image with sh)"
	fi
	local host
	case $(uname -m) in
	x86_64) host=amd64 ;;
	aarch64) host=arm64 ;;
	*) host=$(uname -m) ;;
	esac
	if [[ $arch != "$host" ]]; then
		warn "$IMAGE is $arch on a $host host: every job runs emulated, which is not what this measures"
	fi
}

# Always through cargo (a no-op when fresh) unless MATRIX is given: a
# target/release/matrix left from before container builds existed would
# fail, or measure old code.
find_matrix() {
	release_matrix "$ROOT"
	readonly MATRIX
	local help
	help=$("$MATRIX" build --help 2>/dev/null || true)
	[[ $help == *--container-jobs* ]] || die "$MATRIX has no --container-jobs: it predates container builds"
}

check_engine
find_matrix

# ---------------------------------------------------------------- workspace

WORK=$(mktemp -d "${TMPDIR:-/tmp}/matrix-bench-containers.XXXXXX")
readonly WORK
cleanup() {
	if [[ "${BENCH_KEEP:-0}" == 1 ]]; then
		say "kept $WORK (BENCH_KEEP=1)"
	else
		rm -rf -- "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

readonly PROJECT=$WORK/project # matrix's git repository
readonly LOOP=$WORK/loop       # the loop's outputs, one folder per job
readonly LOGS=$WORK/logs
mkdir -p "$PROJECT" "$LOOP" "$LOGS"

# Target ids 01..NN: a custom matrix axis, so any count of jobs works.
IDS=()
width=${#COUNT}
for ((i = 1; i <= COUNT; i++)); do
	IDS+=("$(printf '%0*d' "$width" "$i")")
done
readonly IDS

# Each job's whole work: its file, a few bytes, so the container start and
# stop is what is measured. $0 is the output path, as in the loop.
# shellcheck disable=SC2016 # $0 is for the container's sh
readonly SCRIPT='echo "bench $1" > "$0"'

make_project() {
	local values
	values=$(printf '"%s", ' "${IDS[@]}")
	values=${values%, }
	local common
	common=$(
		cat <<EOF
[matrix]
os = ["linux"]
arch = ["amd64"]
n = [$values]

[archive]
name = "{{ project }}_{{ version }}_{{ os }}_{{ arch }}_{{ n }}"
format = "tar.gz"

[checksum]
name = "checksums.txt"
EOF
	)
	# The engine is named so MATRIX_CONTAINER_ENGINE cannot make matrix use
	# another one than the loop.
	cat >"$PROJECT/matrix.toml" <<EOF
[project]
name = "bench"

$common

[container]
engine = "docker"

[build]
container = "$IMAGE"
command = ["sh", "-c", '$SCRIPT', "{{ out }}/{{ bin }}", "{{ n }}"]
binary = "$BIN_NAME"
verify = false
EOF
	cat >"$PROJECT/matrix.host.toml" <<EOF
[project]
name = "bench"

$common

[build]
command = ["sh", "-c", '$SCRIPT', "{{ out }}/{{ bin }}", "{{ n }}"]
binary = "$BIN_NAME"
verify = false
EOF
	printf 'dist/\n' >"$PROJECT/.gitignore"
	local -a git=(git -C "$PROJECT" -c user.name=bench -c user.email=bench@example.invalid
		-c commit.gpgsign=false -c tag.gpgsign=false -c init.defaultBranch=main)
	"${git[@]}" init -q
	"${git[@]}" add -A
	"${git[@]}" commit -q -m "bench project"
	"${git[@]}" tag "v$VERSION"
}

# ---------------------------------------------------------------- sides

# The sides by name: what each runs, and where the times of each go.
SIDES=(loop seq par host)
declare -A LABEL=(
	[loop]="docker run --rm loop"
	[seq]="matrix -j1 --container-jobs 1"
	[par]="matrix -j$PARALLEL --container-jobs $PARALLEL"
	[host]="matrix -j1, jobs on the host"
)
declare -A TIMES=([loop]="" [seq]="" [par]="" [host]="")

# The loop: what a release script without matrix would run, one container
# after another, as the caller's user so the files are theirs (matrix does
# the same), with the output folder mounted at the same path.
loop_build() {
	local id out
	rm -rf -- "$LOOP"
	for id in "${IDS[@]}"; do
		out=$LOOP/$id
		mkdir -p "$out"
		docker run --rm --user "$USER_ID:$GROUP_ID" --volume "$out:$out:rw" \
			"$IMAGE" sh -c "$SCRIPT" "$out/$BIN_NAME" "$id" || return 1
	done
}

# run_side SIDE: one build of that side, quietly; its output goes to a log.
run_side() {
	case $1 in
	loop) loop_build ;;
	seq) (cd "$PROJECT" && "$MATRIX" build -q --clean --dist "$WORK/dist-seq" -j 1 --container-jobs 1) ;;
	par) (cd "$PROJECT" && "$MATRIX" build -q --clean --dist "$WORK/dist-par" -j "$PARALLEL" --container-jobs "$PARALLEL") ;;
	host) (cd "$PROJECT" && "$MATRIX" build -q --clean -c matrix.host.toml --dist "$WORK/dist-host" -j 1) ;;
	esac
}

# timed SIDE RUN: one timed build; appends its wall time (microseconds).
timed() {
	local side=$1 run=$2 t0 t1 status=0
	sync
	t0=$(now)
	run_side "$side" >"$LOGS/$side.log" 2>&1 || status=$?
	t1=$(now)
	if [[ $status -ne 0 ]]; then
		sed "s/^/$LOG_PREFIX:   /" "$LOGS/$side.log" >&2
		die "${LABEL[$side]} failed with status $status in run $run (output above)"
	fi
	TIMES[$side]+="$((t1 - t0)) "
	say "run $run/$RUNS  $(printf '%-32s' "${LABEL[$side]}") $(seconds $((t1 - t0))) s"
}

# ---------------------------------------------------------------- checks

verify() {
	local id out got
	for id in "${IDS[@]}"; do
		out=$LOOP/$id/$BIN_NAME
		got=$(cat "$out" 2>/dev/null) || die "the loop wrote no $out"
		[[ $got == "bench $id" ]] || die "the loop's $out holds '$got', not 'bench $id'"
		[[ "$(stat -c %u "$out")" == "$USER_ID" ]] || die "the loop's $out is not owned by uid $USER_ID"
	done
	local side dist sums x name
	for side in seq par host; do
		dist=$WORK/dist-$side
		(cd "$dist" && sha256sum --check --strict --quiet checksums.txt) ||
			die "sha256sum --check failed in ${LABEL[$side]}'s $dist"
		sums=$(grep -c '\.tar\.gz$' "$dist/checksums.txt" || true)
		[[ $sums -eq $COUNT ]] || die "${LABEL[$side]}'s checksums.txt lists $sums archives, not $COUNT"
		# Every job's own file, from the archive that ships it.
		x=$WORK/x
		for id in "${IDS[@]}"; do
			name=bench_${VERSION}_linux_amd64_$id.tar.gz
			rm -rf "$x" && mkdir "$x"
			tar -xzf "$dist/$name" -C "$x" || die "${LABEL[$side]}'s $name does not extract"
			got=$(cat "$x/$BIN_NAME" 2>/dev/null) || die "${LABEL[$side]}'s $name has no $BIN_NAME"
			[[ $got == "bench $id" ]] || die "${LABEL[$side]}'s $name holds '$got', not 'bench $id'"
		done
		rm -rf "$x"
	done
	# matrix runs containers as the caller too: its build outputs are theirs.
	local foreign
	foreign=$(find "$WORK/dist-seq" "$WORK/dist-par" -name "$BIN_NAME" ! -uid "$USER_ID" | head -n 1)
	[[ -z $foreign ]] || die "$foreign, written in a container by matrix, is not owned by uid $USER_ID"
}

# ---------------------------------------------------------------- numbers

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
	if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
# spread "T1 T2 ...": the largest time minus the smallest.
spread() { awk -v s="$1" 'BEGIN { n = split(s, v, " "); lo = hi = v[1]
	for (i = 2; i <= n; i++) { if (v[i] < lo) lo = v[i]; if (v[i] > hi) hi = v[i] }
	print hi - lo }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
per_job_ms() { awk -v us="$1" -v n="$COUNT" 'BEGIN { printf "%.0f", us / n / 1000 }'; }

cpu_model() {
	local model
	model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
	printf '%s' "${model:-unknown CPU}"
}

matrix_version() {
	local v
	v=$("$MATRIX" --version 2>/dev/null) || v='version unknown'
	printf '%s' "${v:-version unknown}"
}

# ---------------------------------------------------------------- main

main() {
	say "matrix: $MATRIX ($(matrix_version))"
	say "docker: client $CLIENT_VERSION, daemon $DAEMON_VERSION; image $IMAGE"
	say "workdir: $WORK"
	say "$COUNT jobs per build, $RUNS runs of each side"
	make_project

	# Untimed: the first container after a quiet spell and a cold page
	# cache would otherwise count against whichever side runs first.
	say "warm-up (not timed)"
	local side
	for side in "${SIDES[@]}"; do
		run_side "$side" >"$LOGS/$side.log" 2>&1 || {
			sed "s/^/$LOG_PREFIX:   /" "$LOGS/$side.log" >&2
			die "${LABEL[$side]} failed in the warm-up (output above)"
		}
	done

	local run i
	for ((run = 1; run <= RUNS; run++)); do
		if ((run % 2)); then
			for ((i = 0; i < ${#SIDES[@]}; i++)); do timed "${SIDES[i]}" "$run"; done
		else
			for ((i = ${#SIDES[@]} - 1; i >= 0; i--)); do timed "${SIDES[i]}" "$run"; done
		fi
	done

	say "verifying the outputs"
	verify

	declare -A MED
	local -a values
	local rows="" v all
	for side in "${SIDES[@]}"; do
		read -r -a values <<<"${TIMES[$side]}"
		MED[$side]=$(median "${values[@]}")
		all=""
		for v in "${values[@]}"; do all+="$(seconds "$v") "; done
		rows+=$(printf '  %-32s %8s s %7s ms   %s' "${LABEL[$side]}" "$(seconds "${MED[$side]}")" \
			"$(per_job_ms "${MED[$side]}")" "${all% }")$'\n'
	done
	local loop=${MED[loop]} seq=${MED[seq]} par=${MED[par]} host=${MED[host]}
	local overhead_ms noise=""
	overhead_ms=$(awk -v m="$seq" -v l="$loop" -v n="$COUNT" 'BEGIN { printf "%+.0f", (m - l) / n / 1000 }')
	# A difference smaller than either side's own run-to-run range is noise.
	if [[ $RUNS -gt 1 ]] && awk -v d=$((seq - loop)) -v a="$(spread "${TIMES[seq]}")" \
		-v b="$(spread "${TIMES[loop]}")" 'BEGIN { exit !((d < 0 ? -d : d) < (a > b ? a : b)) }'; then
		noise=$'\n'"          (smaller than the runs' own spread: noise, not a difference)"
	fi

	cat <<EOF

----- matrix container bench summary -----
$COUNT trivial jobs (sh -c 'echo ... > out/$BIN_NAME') in $IMAGE
host:     $(cpu_model), $(nproc) CPUs, $(uname -sr)
matrix:   $(matrix_version); docker client $CLIENT_VERSION, daemon $DAEMON_VERSION
runs:     $RUNS (median; order ABCD then DCBA, sync before each, one warm-up of each first)

  side                               median     per job   runs (s)
${rows%$'\n'}

overhead: matrix -j1 vs the loop: $overhead_ms ms per job ($(seconds $((seq - loop))) s over $COUNT jobs)$noise
ratio:    matrix -j1 / loop = $(ratio "$seq" "$loop")
parallel: matrix -j1 / matrix -j$PARALLEL = $(ratio "$seq" "$par")x speed-up; loop / matrix -j$PARALLEL = $(ratio "$loop" "$par")x
note:     matrix's times include its own work besides the containers: the plan,
          engine probes (docker info, buildx version, image inspect), $COUNT tar.gz
          archives, checksums, the manifest and the end-of-run container sweep.
          With the jobs on the host that work takes $(seconds "$host") s in all (the
          host row), so it is small here; the overhead above is spread over
          the $COUNT jobs, fixed costs included. Each matrix container also gets a
          name, labels and a read-only project mount that the loop's do not.
load avg: $LOAD_START at start, $(load_avg) at end (other work on the machine skews times)
verified: every job's file in the loop's folders and in matrix's archives,
          sha256sum -c of matrix's checksums, outputs owned by uid $USER_ID
bench took $(seconds $(($(now) - START_US))) s
------------------------------------------
EOF
}

main "$@"
