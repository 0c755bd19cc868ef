#!/usr/bin/env bash
# scripts/bench.sh - how fast does `matrix build` package a release compared
# with the shell pipeline people would otherwise write (cp, tar | gzip -6 or
# zstd -3 -T2, sha256sum), on the same binaries and at the same parallelism?
#
#   scripts/bench.sh
#
# Settings come from the environment:
#   BENCH_BINARIES  targets, one binary each          (default 8)
#   BENCH_SIZE_MB   size of each binary in MiB        (default 40)
#   BENCH_JOBS      parallel jobs for both sides      (default: nproc)
#   BENCH_RUNS      timed runs of each side           (default 3)
#   BENCH_FORMAT    tar.gz (default) or tar.zst: the archive format of both
#                   sides
#   BENCH_GZIP_LEVEL  the tar.gz baseline's gzip level (default 6)
#   BENCH_GZIP      the tar.gz baseline's compressor: gzip (default) or pigz
#                   (apt-get install pigz), which deflates on every core
#   BENCH_ZSTD_LEVEL  zstd level of both tar.zst sides (default 3, matrix's
#                   default; the baseline runs `zstd -LEVEL -T2`)
#   MATRIX          the matrix binary (default target/release/matrix, built
#                   with `cargo build --release` first, a no-op when fresh)
#   BENCH_KEEP=1    keep the temporary folder (inputs, both outputs, logs)
#
# The binaries are real ELF files from /usr concatenated and truncated to the
# size: they compress like executables do, where random bytes would not
# compress at all and zeros would compress to nothing, either of which would
# measure something other than a release. The sides run alternately (ABBA
# order, so neither always runs on a warmer machine) after a `sync`, and the
# median wall time of each is reported. Both outputs are verified after the
# runs (checksums, archive entries, archive contents, byte-identical across
# runs) so a broken build cannot pass as a fast one.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT

say() { printf 'bench: %s\n' "$*"; }
die() {
	printf 'bench: error: %s\n' "$*" >&2
	exit 1
}

# Microseconds since the epoch. EPOCHREALTIME's decimal mark follows the
# locale, so it is dropped rather than parsed.
now() { printf '%s' "${EPOCHREALTIME//[.,]/}"; }
seconds() { awk -v us="$1" 'BEGIN { printf "%.3f", us / 1000000 }'; }

positive_int() {
	local name=$1 value=$2
	[[ "$value" =~ ^[1-9][0-9]*$ ]] || die "$name must be a positive integer, got '$value'"
}

BINARIES=${BENCH_BINARIES:-8}
SIZE_MB=${BENCH_SIZE_MB:-40}
JOBS=${BENCH_JOBS:-$(nproc)}
RUNS=${BENCH_RUNS:-3}
GZIP_LEVEL=${BENCH_GZIP_LEVEL:-6}
FORMAT=${BENCH_FORMAT:-tar.gz}
GZIP_TOOL=${BENCH_GZIP:-gzip}
ZSTD_LEVEL=${BENCH_ZSTD_LEVEL:-3}
positive_int BENCH_BINARIES "$BINARIES"
positive_int BENCH_SIZE_MB "$SIZE_MB"
positive_int BENCH_JOBS "$JOBS"
positive_int BENCH_RUNS "$RUNS"
[[ "$GZIP_LEVEL" =~ ^[1-9]$ ]] || die "BENCH_GZIP_LEVEL must be 1..9, got '$GZIP_LEVEL'"
[[ "$ZSTD_LEVEL" =~ ^[1-9]$|^1[0-9]$ ]] || die "BENCH_ZSTD_LEVEL must be 1..19, got '$ZSTD_LEVEL'"
[[ "$GZIP_TOOL" == gzip || "$GZIP_TOOL" == pigz ]] || die "BENCH_GZIP must be gzip or pigz, got '$GZIP_TOOL'"
# The baseline's compressor, as one word list for the pack_one children.
case $FORMAT in
tar.gz) COMPRESS="$GZIP_TOOL -$GZIP_LEVEL -n" ;;
tar.zst) COMPRESS="zstd -$ZSTD_LEVEL -T2 -q" ;;
*) die "BENCH_FORMAT must be tar.gz or tar.zst, got '$FORMAT'" ;;
esac
readonly BINARIES SIZE_MB JOBS RUNS GZIP_LEVEL FORMAT GZIP_TOOL ZSTD_LEVEL COMPRESS
readonly SIZE_BYTES=$((SIZE_MB * 1024 * 1024))
readonly VERSION=1.2.3
readonly BIN_NAME=bench

START_US=$(now)
readonly START_US
load_avg() { cut -d ' ' -f 1-3 /proc/loadavg 2>/dev/null || echo unknown; }
LOAD_START=$(load_avg)
readonly LOAD_START

# ---------------------------------------------------------------- tools

find_matrix() {
	if [[ -n "${MATRIX:-}" ]]; then
		[[ -x "$MATRIX" ]] || die "MATRIX=$MATRIX is not an executable file"
	else
		MATRIX=$ROOT/target/release/matrix
		# Always: a no-op when fresh, and a stale binary would time old code.
		say "cargo build --release"
		(cd "$ROOT" && cargo build --release) || die "cargo build --release failed"
		[[ -x "$MATRIX" ]] || die "cargo build --release did not produce $MATRIX"
	fi
	MATRIX=$(cd "$(dirname "$MATRIX")" && pwd)/$(basename "$MATRIX")
	readonly MATRIX
}

# GNU time gives peak RSS; busybox's has no -v, so it is tried, not assumed.
HAVE_GNU_TIME=0
if [[ -x /usr/bin/time ]] && /usr/bin/time -v true >/dev/null 2>&1; then
	HAVE_GNU_TIME=1
fi
readonly HAVE_GNU_TIME

for tool in git tar gzip sha256sum xargs awk cmp truncate ${COMPRESS%% *}; do
	command -v "$tool" >/dev/null || die "$tool is needed but not installed"
done
find_matrix

# ---------------------------------------------------------------- workspace

WORK=$(mktemp -d "${TMPDIR:-/tmp}/matrix-bench.XXXXXX")
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

readonly BINS=$WORK/bins         # the inputs, shared by both sides
readonly PROJECT=$WORK/project   # matrix's git repository
readonly DIST=$PROJECT/dist      # matrix's output
readonly BASE=$WORK/baseline     # the baseline's staging and output
readonly BASE_OUT=$BASE/out
readonly SAVED=$WORK/saved       # per-run checksum files and time reports
mkdir -p "$BINS" "$PROJECT" "$BASE" "$SAVED"

# Target ids 01..NN: a custom matrix axis, so any count of targets works and
# no target is a windows one with a different binary name.
IDS=()
width=${#BINARIES}
for ((i = 1; i <= BINARIES; i++)); do
	IDS+=("$(printf '%0*d' "$width" "$i")")
done
readonly IDS
archive_name() { printf '%s_%s_linux_amd64_%s.%s' "$BIN_NAME" "$VERSION" "$1" "$FORMAT"; }

# ---------------------------------------------------------------- inputs

# Every ELF file directly in the usual binary and library folders, sorted so
# the inputs are the same on every run on one machine.
elf_pool() {
	local -a dirs=()
	local d
	for d in /usr/bin /usr/sbin "/usr/lib/$(uname -m)-linux-gnu" /usr/lib64 /usr/libexec; do
		[[ -d "$d" ]] && dirs+=("$d")
	done
	[[ ${#dirs[@]} -gt 0 ]] || die "none of /usr/bin, /usr/sbin, /usr/lib*/ exists"
	local size path magic
	while read -r size path; do
		magic=
		IFS= read -r -N 4 magic <"$path" 2>/dev/null || true
		if [[ "$magic" == $'\x7fELF' ]]; then
			printf '%s %s\n' "$size" "$path"
		fi
	done < <(find "${dirs[@]}" -maxdepth 1 -type f -size +8k -readable -printf '%s %p\n' | sort -k2)
}

# Binary i starts at its own offset in the pool and takes files until it is
# big enough, so the binaries differ from each other as real ones do.
make_inputs() {
	local -a sizes=() paths=()
	local size path total=0
	while read -r size path; do
		sizes+=("$size")
		paths+=("$path")
		total=$((total + size))
	done < <(elf_pool)
	local count=${#paths[@]}
	[[ $count -gt 0 && $total -gt 0 ]] || die "found no ELF files under /usr to build inputs from"
	say "inputs: $BINARIES binaries x $SIZE_MB MiB from $count ELF files ($((total / 1048576)) MiB) in /usr"

	local i k n have
	local -a pick
	for ((i = 0; i < BINARIES; i++)); do
		pick=()
		have=0
		k=$((i * count / BINARIES))
		for ((n = 0; have < SIZE_BYTES; n++)); do
			pick+=("${paths[(k + n) % count]}")
			have=$((have + sizes[(k + n) % count]))
		done
		cat -- "${pick[@]}" >"$BINS/${IDS[i]}"
		truncate -s "$SIZE_BYTES" "$BINS/${IDS[i]}"
		chmod 0755 "$BINS/${IDS[i]}"
	done

	local distinct
	distinct=$(cd "$BINS" && sha256sum -- * | awk '{ print $1 }' | sort -u | wc -l)
	[[ $distinct -eq $BINARIES ]] ||
		die "only $distinct of $BINARIES inputs differ: the ELF pool in /usr is too small"
}

# ---------------------------------------------------------------- matrix side

make_project() {
	local values
	values=$(printf '"%s", ' "${IDS[@]}")
	values=${values%, }
	cat >"$PROJECT/matrix.toml" <<EOF
[project]
name = "$BIN_NAME"

[matrix]
os = ["linux"]
arch = ["amd64"]
n = [$values]

[build]
command = ["cp", "$BINS/{{ n }}", "{{ out }}/{{ bin }}"]
binary = "$BIN_NAME"

[archive]
name = "{{ project }}_{{ version }}_{{ os }}_{{ arch }}_{{ n }}"
format = "$FORMAT"
zstd-level = $ZSTD_LEVEL
files = ["LICENSE", "README.md"]

[checksum]
name = "checksums.txt"
EOF
	# Sized like real ones, so the extra files are not free to add.
	{
		printf 'MIT License\n\nCopyright (c) 2026 bench\n\n'
		for ((i = 0; i < 20; i++)); do
			printf 'Permission is hereby granted, free of charge, to any person obtaining a copy line %d.\n' "$i"
		done
	} >"$PROJECT/LICENSE"
	{
		printf '# bench\n\nA release made by scripts/bench.sh.\n\n'
		for ((i = 0; i < 40; i++)); do
			printf -- '- usage note %d: run "bench --help" for the options of this build.\n' "$i"
		done
	} >"$PROJECT/README.md"
	printf 'dist/\n' >"$PROJECT/.gitignore"

	local -a git=(git -C "$PROJECT" -c user.name=bench -c user.email=bench@example.invalid
		-c commit.gpgsign=false -c tag.gpgsign=false -c init.defaultBranch=main)
	"${git[@]}" init -q
	"${git[@]}" add -A
	"${git[@]}" commit -q -m "bench project"
	"${git[@]}" tag "v$VERSION"
	[[ -z "$("${git[@]}" status --porcelain)" ]] || die "the bench project's git tree is not clean"
}

# One timed matrix run; appends the wall time in microseconds to MATRIX_US.
run_matrix() {
	local run=$1
	local -a timev=()
	[[ $HAVE_GNU_TIME -eq 1 ]] && timev=(/usr/bin/time -v -o "$SAVED/matrix-time.$run")
	sync
	local t0 t1 status=0
	t0=$(now)
	(cd "$PROJECT" && "${timev[@]}" "$MATRIX" build --clean -q -j "$JOBS") \
		>"$SAVED/matrix.log" 2>&1 || status=$?
	t1=$(now)
	if [[ $status -ne 0 ]]; then
		sed 's/^/bench:   /' "$SAVED/matrix.log" >&2
		die "matrix build failed with status $status in run $run (output above)"
	fi
	MATRIX_US+=($((t1 - t0)))
	cp "$DIST/checksums.txt" "$SAVED/matrix-sums.$run"
	say "run $run/$RUNS  matrix    $(seconds $((t1 - t0))) s"
}

# ---------------------------------------------------------------- baseline side

# Exported for the `bash -c` children that xargs starts: one target's archive,
# built the way a release shell script would.
pack_one() {
	set -euo pipefail
	local id=$1
	local stage=$BENCH_BASE/stage/$id
	mkdir -p "$stage"
	cp -- "$BENCH_BINS/$id" "$stage/$BENCH_BIN_NAME"
	cp -- "$BENCH_PROJECT/LICENSE" "$BENCH_PROJECT/README.md" "$stage/"
	# shellcheck disable=SC2086 # $BENCH_COMPRESS: the command and its flags
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
		-cf - -C "$stage" LICENSE README.md "$BENCH_BIN_NAME" |
		$BENCH_COMPRESS >"$BENCH_BASE/out/${BENCH_BIN_NAME}_${BENCH_VERSION}_linux_amd64_$id.$BENCH_FORMAT"
}

# The whole baseline release, as one command so it can run under GNU time
# just as matrix does: clean, archive every target in parallel, checksum.
baseline_build() {
	set -euo pipefail
	rm -rf -- "$BENCH_BASE/stage" "$BENCH_BASE/out"
	mkdir -p "$BENCH_BASE/stage" "$BENCH_BASE/out"
	# shellcheck disable=SC2016 # $1 is for the child bash, not this one
	tr ' ' '\n' <<<"$BENCH_IDS" | xargs -P "$BENCH_JOBS" -n 1 bash -c 'pack_one "$1"' pack_one
	(cd "$BENCH_BASE/out" && sha256sum -- *."$BENCH_FORMAT" >checksums.txt)
}

export -f pack_one baseline_build
export BENCH_BASE=$BASE BENCH_BINS=$BINS BENCH_PROJECT=$PROJECT BENCH_BIN_NAME=$BIN_NAME \
	BENCH_VERSION=$VERSION BENCH_JOBS=$JOBS BENCH_IDS="${IDS[*]}" BENCH_COMPRESS=$COMPRESS \
	BENCH_FORMAT=$FORMAT

# One timed baseline run; appends the wall time in microseconds to BASE_US.
run_baseline() {
	local run=$1
	local -a timev=()
	[[ $HAVE_GNU_TIME -eq 1 ]] && timev=(/usr/bin/time -v -o "$SAVED/baseline-time.$run")
	sync
	local t0 t1 status=0
	t0=$(now)
	"${timev[@]}" bash -c baseline_build >"$SAVED/baseline.log" 2>&1 || status=$?
	t1=$(now)
	if [[ $status -ne 0 ]]; then
		sed 's/^/bench:   /' "$SAVED/baseline.log" >&2
		die "the baseline failed with status $status in run $run (output above)"
	fi
	BASE_US+=($((t1 - t0)))
	cp "$BASE_OUT/checksums.txt" "$SAVED/baseline-sums.$run"
	say "run $run/$RUNS  baseline  $(seconds $((t1 - t0))) s"
}

# ---------------------------------------------------------------- checks

# mode, owner, size and name of each entry; the dates differ on purpose
# (matrix uses the commit date, the baseline the epoch).
# GNU tar finds the decompressor from the file's first bytes.
entries() { tar -tvf "$1" | awk '{ print $1, $2, $3, $6 }'; }

verify() {
	local side dir sums
	for side in matrix baseline; do
		if [[ $side == matrix ]]; then dir=$DIST; else dir=$BASE_OUT; fi
		(cd "$dir" && sha256sum --check --strict --quiet checksums.txt) ||
			die "sha256sum --check failed in $side's $dir"
		sums=$(grep -c . "$dir/checksums.txt")
		[[ $sums -eq $BINARIES ]] || die "$side's checksums.txt lists $sums files, not $BINARIES"
		# Every run must have written the same bytes: both sides claim to
		# be reproducible.
		local run
		for ((run = 2; run <= RUNS; run++)); do
			cmp -s "$SAVED/$side-sums.1" "$SAVED/$side-sums.$run" ||
				die "$side's archives differ between run 1 and run $run"
		done
	done
	# Same archive names on both sides.
	diff <(awk '{ print $2 }' "$DIST/checksums.txt" | sort) \
		<(awk '{ print $2 }' "$BASE_OUT/checksums.txt" | sort) >/dev/null ||
		die "matrix and the baseline made differently named archives"

	local id name x
	local want=$WORK/want
	mkdir -p "$want"
	cp "$PROJECT/LICENSE" "$PROJECT/README.md" "$want/"
	for id in "${IDS[@]}"; do
		name=$(archive_name "$id")
		[[ -f "$DIST/$name" ]] || die "matrix wrote no $name"
		diff <(entries "$DIST/$name") <(entries "$BASE_OUT/$name") >"$WORK/entries.diff" || {
			sed 's/^/bench:   /' "$WORK/entries.diff" >&2
			die "$name: matrix's entries differ from the baseline's (< matrix, > baseline)"
		}
		cp "$BINS/$id" "$want/$BIN_NAME"
		for side in matrix baseline; do
			if [[ $side == matrix ]]; then dir=$DIST; else dir=$BASE_OUT; fi
			x=$WORK/x
			rm -rf "$x" && mkdir "$x"
			tar -xf "$dir/$name" -C "$x" || die "$side's $name does not extract"
			diff -r "$want" "$x" >/dev/null ||
				die "$side's $name does not hold the input binary, LICENSE and README.md"
		done
	done
	rm -rf "$want" "$WORK/x"
}

# ---------------------------------------------------------------- numbers

median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
	if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
total_bytes() {
	local dir=$1 sum=0 id
	for id in "${IDS[@]}"; do
		sum=$((sum + $(stat -c %s "$dir/$(archive_name "$id")")))
	done
	printf '%s' "$sum"
}
# Largest "Maximum resident set size" of a side's runs, in KiB.
peak_rss_kib() {
	awk -F': *' '/Maximum resident set size/ { if ($2 > m) m = $2 } END { print m + 0 }' \
		"$SAVED/$1-time."*
}
# "Percent of CPU this job got" of each of a side's runs: 100% is one busy
# core, so it shows whether the jobs really ran side by side.
cpu_percents() {
	local run out=
	for ((run = 1; run <= RUNS; run++)); do
		out+="$(awk -F': *' '/Percent of CPU/ { print $2 }' "$SAVED/$1-time.$run") "
	done
	printf '%s' "${out% }"
}
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

# ---------------------------------------------------------------- main

matrix_version() {
	local v
	v=$("$MATRIX" --version 2>/dev/null) || v='version unknown'
	printf '%s' "${v:-version unknown}"
}

cpu_model() {
	local model
	model=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)
	printf '%s' "${model:-unknown CPU}"
}

main() {
	say "matrix: $MATRIX ($(matrix_version))"
	say "workdir: $WORK"
	[[ $HAVE_GNU_TIME -eq 1 ]] ||
		say "no GNU time at /usr/bin/time: peak RSS is not measured (apt-get install time)"
	make_inputs
	make_project

	MATRIX_US=()
	BASE_US=()
	local run
	for ((run = 1; run <= RUNS; run++)); do
		if ((run % 2)); then
			run_matrix "$run"
			run_baseline "$run"
		else
			run_baseline "$run"
			run_matrix "$run"
		fi
	done

	say "verifying both outputs"
	verify

	local m_us b_us m_bytes b_bytes in_bytes speed size_ratio m_rss b_rss m_cpu b_cpu
	m_us=$(median "${MATRIX_US[@]}")
	b_us=$(median "${BASE_US[@]}")
	m_bytes=$(total_bytes "$DIST")
	b_bytes=$(total_bytes "$BASE_OUT")
	in_bytes=$((BINARIES * SIZE_BYTES))
	speed=$(awk -v m="$m_us" -v b="$b_us" 'BEGIN {
		if (b >= m) printf "matrix is %.2fx faster than the baseline", b / m
		else printf "matrix is %.2fx slower than the baseline", m / b }')
	size_ratio=$(awk -v m="$m_bytes" -v b="$b_bytes" 'BEGIN { printf "%.4f", m / b }')
	if [[ $HAVE_GNU_TIME -eq 1 ]]; then
		m_rss="$(mib $(($(peak_rss_kib matrix) * 1024))) MiB"
		b_rss="$(mib $(($(peak_rss_kib baseline) * 1024))) MiB"
		m_cpu=$(cpu_percents matrix)
		b_cpu=$(cpu_percents baseline)
	else
		m_rss="n/a (apt-get install time)"
		b_rss="n/a"
		m_cpu="n/a"
		b_cpu="n/a"
	fi
	local all_m all_b
	all_m=$(for v in "${MATRIX_US[@]}"; do printf '%s ' "$(seconds "$v")"; done)
	all_b=$(for v in "${BASE_US[@]}"; do printf '%s ' "$(seconds "$v")"; done)
	rate() { awk -v b="$in_bytes" -v us="$1" 'BEGIN { printf "%.0f", b / 1048576 / (us / 1000000) }'; }
	pct() { awk -v a="$1" -v b="$in_bytes" 'BEGIN { printf "%.1f", 100 * a / b }'; }

	cat <<EOF

----- matrix bench summary -----
matrix build ($FORMAT) vs cp + tar | $COMPRESS + sha256sum (xargs -P $JOBS)
host:     $(cpu_model), $(nproc) CPUs, $(uname -sr)
matrix:   $(matrix_version); $(${COMPRESS%% *} --version 2>&1 | head -n 1); $(tar --version | head -n 1)
inputs:   $BINARIES binaries x $SIZE_MB MiB = $(mib "$in_bytes") MiB of real ELF content
jobs:     $JOBS   runs: $RUNS (median; alternating ABBA, sync before each)
time:     matrix   $(seconds "$m_us") s  ($(rate "$m_us") MiB/s)   runs: ${all_m% }
          baseline $(seconds "$b_us") s  ($(rate "$b_us") MiB/s)   runs: ${all_b% }
speed:    $speed (baseline/matrix = $(awk -v m="$m_us" -v b="$b_us" 'BEGIN { printf "%.2f", b / m }'))
size:     matrix   $m_bytes B ($(pct "$m_bytes")% of input)
          baseline $b_bytes B ($(pct "$b_bytes")% of input)
          matrix/baseline = $size_ratio
peak RSS: matrix $m_rss; baseline $b_rss (largest single process)
CPU use:  matrix $m_cpu; baseline $b_cpu (100% = one core)
load avg: $LOAD_START at start, $(load_avg) at end (other work on the machine skews times)
verified: sha256sum -c on both, same entries (mode owner size name), contents
          match the inputs, archives byte-identical across the $RUNS runs
bench took $(seconds $(($(now) - START_US))) s
--------------------------------
EOF
}

main "$@"
