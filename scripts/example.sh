#!/usr/bin/env bash
# scripts/example.sh - the README's main job, end to end: build matrix, let it
# install the Go toolchain if missing, release examples/hello-go (a Go
# program) for the 16 targets of its matrix.toml, then check the result
# with coreutils' own sha256sum. It sets up only what the Go example needs:
# no container engine, registry, base images or cross compilers (the test
# command, scripts/test.sh, sets those up).
#
#   scripts/example.sh [MATRIX-BUILD-ARGS...]
#
# Phases, each timed (the times are printed at the end):
#   setup        git, tar, gzip and sha256sum (apt-get as root, else the
#                command to run), and a Rust toolchain (only checked)
#   cargo build  cargo build --release
#   toolchains   matrix doctor --install --yes in examples/hello-go
#                (golang-go from apt when there is no go)
#   release      matrix build, then sha256sum --check of dist/
#
# Extra arguments go to `matrix build` (e.g. `-j 1`, `--target 'linux/*'`, `-v`).
# --snapshot is always given because the example has no release tag at HEAD.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
readonly EXAMPLE="$ROOT/examples/hello-go"
# cargo runs in $ROOT, so a relative CARGO_TARGET_DIR starts there.
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
[[ $TARGET_DIR == /* ]] || TARGET_DIR=$ROOT/$TARGET_DIR
readonly MATRIX="$TARGET_DIR/release/matrix"

LOG_PREFIX=example
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

die() {
	printf 'example: error: %s\n' "$*" >&2
	exit 1
}

# The dist directory matrix writes to: ./dist unless --dist says otherwise.
# Sets DIST from the arguments passed to `matrix build`.
read_build_args() {
	DIST="$EXAMPLE/dist"
	while [[ $# -gt 0 ]]; do
		case "$1" in
		--dist)
			[[ $# -ge 2 ]] || die "--dist needs a directory"
			DIST=$2
			shift
			;;
		--dist=*) DIST=${1#--dist=} ;;
		*) ;; # everything else is only for matrix
		esac
		shift
	done
	# A relative --dist is relative to the example, where matrix runs.
	[[ "$DIST" == /* ]] || DIST="$EXAMPLE/$DIST"
}

verify_dist() {
	[[ -d "$DIST" ]] || die "matrix build succeeded but wrote no $DIST"
	local -a sums
	mapfile -t sums < <(cd "$DIST" && find . -maxdepth 1 -type f -name '*_checksums.txt' | sort)
	case ${#sums[@]} in
	0) die "no *_checksums.txt in $DIST" ;;
	1) ;;
	*) die "more than one *_checksums.txt in $DIST: ${sums[*]}" ;;
	esac
	local file=${sums[0]#./}
	local count
	count=$(grep -c . "$DIST/$file" || true)
	[[ $count -gt 0 ]] || die "$DIST/$file lists no files"
	say "checking $count checksums in $file with sha256sum"
	if ! (cd "$DIST" && sha256sum --check --strict -- "$file") | sed 's/^/example:   /'; then
		die "sha256sum --check failed for $DIST/$file (see the lines above)"
	fi
	say "contents of $DIST:"
	# type (f file, d directory), size in bytes, name; sorted by name
	(cd "$DIST" && find . -mindepth 1 -maxdepth 1 -printf '%y %10s  %P\n' | LC_ALL=C sort -k3) |
		sed 's/^/example:   /'
}

# package:command pairs: what the Go example needs besides Go and Rust.
readonly BASICS=(git:git tar:tar gzip:gzip coreutils:sha256sum)

setup_basics() {
	local -a missing=()
	local req
	for req in "${BASICS[@]}"; do
		command -v "${req#*:}" >/dev/null 2>&1 || missing+=("${req%%:*}")
	done
	if [[ ${#missing[@]} -gt 0 ]]; then
		if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
			apt_install "${missing[@]}" || die "apt-get install ${missing[*]} failed"
		else
			die "missing ${missing[*]}; install them: sudo apt-get install -y --no-install-recommends ${missing[*]}"
		fi
	fi
	if ! command -v cargo >/dev/null 2>&1; then
		if [[ -n "${HOME:-}" && -x "$HOME/.cargo/bin/cargo" ]]; then
			die "cargo is installed in $HOME/.cargo/bin but that is not on PATH: . \"\$HOME/.cargo/env\""
		fi
		die "no Rust toolchain (cargo); install it: curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal"
	fi
	say "  $(cargo --version)"
}

PHASES=()
# phase NAME COMMAND...: runs one phase and records its time.
phase() {
	local name=$1 start
	shift
	say "==> $name"
	start=$(now)
	"$@"
	PHASES+=("$(printf '%-12s %s' "$name" "$(elapsed "$start" "$(now)")")")
}

cargo_build() {
	local status=0
	(cd "$ROOT" && cargo build --release) || status=$?
	[[ $status -eq 0 ]] || die "cargo build --release failed with status $status"
	[[ -x "$MATRIX" ]] || die "cargo build --release did not produce $MATRIX"
}

toolchains() {
	local status=0
	(cd "$EXAMPLE" && "$MATRIX" doctor --install --yes) || status=$?
	[[ $status -eq 0 ]] || die "matrix doctor --install failed with status $status"
}

release() {
	local status=0
	say "matrix build --snapshot --clean $* (in examples/hello-go)"
	(cd "$EXAMPLE" && "$MATRIX" build --snapshot --clean "$@") || status=$?
	[[ $status -eq 0 ]] || die "matrix build failed with status $status"
	verify_dist
}

main() {
	read_build_args "$@"
	local total
	total=$(now)
	phase setup setup_basics
	phase "cargo build" cargo_build
	phase toolchains toolchains
	phase release release "$@"
	say "times:"
	local line
	for line in "${PHASES[@]}"; do say "  $line"; done
	say "  $(printf '%-12s %s' total "$(elapsed "$total" "$(now)")")"
	say "done"
}

main "$@"
