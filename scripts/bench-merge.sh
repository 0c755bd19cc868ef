#!/usr/bin/env bash
# scripts/bench-merge.sh - does `matrix merge` and `matrix verify` keep a flat
# memory profile when a release holds a huge binary?
#
#   scripts/bench-merge.sh
#
# Builds a one-target release (as shard 1/1) whose binary is BENCH_SIZE_MIB
# of executable-like bytes behind a real ELF header (so it is inspected as
# an x86-64 binary), then merges the shard and verifies the merged release.
# Both stream every archive member, so their peak RSS (GNU time's "Maximum
# resident set size") must stay under BENCH_LIMIT_MIB whatever the size of
# the binary; before streaming, a 2 GiB member took 2.1 GB. The baselines,
# measured in the same run on the same archive, are `sha256sum` and
# `tar -tzf` (which also reads every byte through gzip), and the script
# prints matrix's peak RSS as a ratio of theirs.
#
# Settings come from the environment:
#   BENCH_SIZE_MIB   the binary's size in MiB          (default 2048)
#   BENCH_LIMIT_MIB  the peak RSS matrix may reach     (default 100)
#   MATRIX           the matrix binary (default: `cargo build --bin matrix`
#                    into ${CARGO_TARGET_DIR:-target}; the debug profile is
#                    enough: memory does not depend on optimisation)
#   BENCH_KEEP=1     keep the temporary folder
#
# The bytes are ELF files from /usr concatenated (they compress like
# executables, where zeros would compress to nothing). It needs about five
# times BENCH_SIZE_MIB of free disk under TMPDIR (binary, archive, shard,
# merged release, the scratch copy of the binary being checked). Exits 1
# when a peak passes the limit or a command fails.
set -euo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT

say() { printf 'bench-merge: %s\n' "$*"; }
die() {
	printf 'bench-merge: error: %s\n' "$*" >&2
	exit 1
}

SIZE_MIB=${BENCH_SIZE_MIB:-2048}
LIMIT_MIB=${BENCH_LIMIT_MIB:-100}
[[ "$SIZE_MIB" =~ ^[1-9][0-9]*$ ]] || die "BENCH_SIZE_MIB must be a positive integer, got '$SIZE_MIB'"
[[ "$LIMIT_MIB" =~ ^[1-9][0-9]*$ ]] || die "BENCH_LIMIT_MIB must be a positive integer, got '$LIMIT_MIB'"
readonly SIZE_MIB LIMIT_MIB

[[ -x /usr/bin/time ]] && /usr/bin/time -v true >/dev/null 2>&1 ||
	die "GNU time is needed at /usr/bin/time for peak RSS (apt-get install time; scripts/setup.sh installs it)"
for tool in git tar gzip sha256sum head find awk; do
	command -v "$tool" >/dev/null || die "$tool is needed but not installed"
done

if [[ -n "${MATRIX:-}" ]]; then
	[[ -x "$MATRIX" ]] || die "MATRIX=$MATRIX is not an executable file"
else
	say "cargo build --bin matrix"
	(cd "$ROOT" && cargo build --quiet --bin matrix) || die "cargo build failed"
	MATRIX=${CARGO_TARGET_DIR:-$ROOT/target}/debug/matrix
	[[ -x "$MATRIX" ]] || die "cargo build did not produce $MATRIX"
fi
readonly MATRIX

WORK=$(mktemp -d "${TMPDIR:-/tmp}/matrix-bench-merge.XXXXXX")
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

need_kib=$((SIZE_MIB * 1024 * 5))
free_kib=$(df -Pk "$WORK" | awk 'NR == 2 { print $4 }')
((free_kib > need_kib)) ||
	die "about $((need_kib / 1024)) MiB of free disk is needed under $WORK, $((free_kib / 1024)) MiB free"

readonly PROJECT=$WORK/project SHARD=$WORK/shard-1 MERGED=$WORK/merged
readonly POOL=$WORK/pool TIMES=$WORK/times
mkdir -p "$PROJECT" "$TIMES"

# ---------------------------------------------------------------- inputs

# Up to 256 MiB of ELF files from /usr, sorted so runs on one machine agree.
say "collecting executable bytes from /usr"
elf_files() {
	local path magic
	while IFS= read -r path; do
		magic=
		IFS= read -r -N 4 magic <"$path" 2>/dev/null || true
		[[ "$magic" == $'\x7fELF' ]] && printf '%s\n' "$path"
	done < <(find /usr/bin /usr/sbin "/usr/lib/$(uname -m)-linux-gnu" -maxdepth 1 \
		-type f -size +8k -readable 2>/dev/null | sort)
}
# head closes the pipe at 256 MiB; the writers' SIGPIPE is expected.
elf_files | while IFS= read -r f; do cat -- "$f"; done | head -c $((256 << 20)) >"$POOL" || true
[[ -s "$POOL" ]] || die "found no ELF files under /usr to make the binary from"
say "pool: $(($(stat -c %s "$POOL") >> 20)) MiB of ELF files"

# The build: a 64-byte ELF64 x86-64 header, then the pool again and again.
cat >"$PROJECT/mkbin.sh" <<'EOF'
#!/bin/sh
# mkbin.sh POOL SIZE_MIB OUT
set -e
out=$3
printf '\177ELF\002\001\001\000\000\000\000\000\000\000\000\000\002\000\076\000\001\000\000\000' >"$out"
head -c 28 /dev/zero >>"$out"
printf '\100\000\070\000\000\000\100\000\000\000\000\000' >>"$out"
while :; do cat "$1"; done | head -c $(($2 * 1048576 - 64)) >>"$out"
chmod +x "$out"
EOF
cat >"$PROJECT/matrix.toml" <<EOF
[project]
name = "huge"
description = "A release with a ${SIZE_MIB} MiB binary."
homepage = "https://example.org/huge"
license = "MIT"

[matrix]
os = ["linux"]
arch = ["amd64"]

[build]
command = ["sh", "mkbin.sh", "$POOL", "$SIZE_MIB", "{{ out }}/{{ bin }}"]
binary = "huge"

[archive]
name = "{{ project }}_{{ version }}_{{ os }}_{{ arch }}"
files = ["LICENSE"]
EOF
printf 'MIT License\n' >"$PROJECT/LICENSE"
printf 'dist/\n' >"$PROJECT/.gitignore"
git_q() {
	git -C "$PROJECT" -c user.name=bench -c user.email=bench@example.org "$@" >/dev/null
}
git_q init -q -b main
git_q add -A
git_q commit -q -m release
git_q tag v1.0.0

# ---------------------------------------------------------------- runs

# timed NAME CMD...: runs CMD under GNU time, keeping its report.
timed() {
	local name=$1
	shift
	if ! /usr/bin/time -v -o "$TIMES/$name" "$@" >"$TIMES/$name.out" 2>&1; then
		cat "$TIMES/$name.out" >&2
		die "$name failed: $*"
	fi
}
rss_kib() { awk -F': *' '/Maximum resident set size/ { print $2 }' "$TIMES/$1"; }
wall() { awk '/Elapsed \(wall clock\)/ { print $NF }' "$TIMES/$1"; }

say "matrix build --shard 1/1 (a ${SIZE_MIB} MiB binary; this compresses it once)"
(cd "$PROJECT" && timed build "$MATRIX" build -q -j 1 --shard 1/1 --dist "$SHARD")
ARCHIVE=$SHARD/huge_1.0.0_linux_amd64.tar.gz
[[ -f "$ARCHIVE" ]] || die "the build wrote no $ARCHIVE"
say "archive: $(du -h "$ARCHIVE" | cut -f 1), binary: ${SIZE_MIB} MiB"

sync
say "matrix's own floor: matrix --version"
timed floor "$MATRIX" --version
say "baselines: sha256sum and tar -tzf of the archive"
timed sha256sum sha256sum "$ARCHIVE"
timed tar tar -tzf "$ARCHIVE"
say "matrix merge"
(cd "$PROJECT" && timed merge "$MATRIX" merge -q "$SHARD" --dist "$MERGED")
[[ -f "$MERGED/manifest.json" ]] || die "the merge wrote no manifest.json"
say "matrix verify"
timed verify "$MATRIX" verify "$MERGED"
grep -q '1 binaries checked' "$TIMES/verify.out" || die "verify did not check the binary: $(cat "$TIMES/verify.out")"

# ---------------------------------------------------------------- report

base=$(rss_kib sha256sum)
tar_kib=$(rss_kib tar)
[[ $tar_kib -gt $base ]] && base=$tar_kib
failed=0
printf '\n%-22s %14s %12s %10s\n' "command" "peak RSS MiB" "vs baseline" "wall"
for name in floor sha256sum tar merge verify; do
	kib=$(rss_kib "$name")
	printf '%-22s %14.1f %11.2fx %10s\n' "$name" "$(awk -v k="$kib" 'BEGIN { print k / 1024 }')" \
		"$(awk -v k="$kib" -v b="$base" 'BEGIN { print k / b }')" "$(wall "$name")"
	if [[ $name == merge || $name == verify ]] && ((kib > LIMIT_MIB * 1024)); then
		failed=1
	fi
done
printf '\n'
say "binary ${SIZE_MIB} MiB; baseline = the larger of sha256sum and tar -tzf ($((base / 1024)) MiB); floor = matrix --version"
if ((failed)); then
	say "FAILED: a peak passed ${LIMIT_MIB} MiB"
	exit 1
fi
say "ok: merge and verify stay under ${LIMIT_MIB} MiB"
