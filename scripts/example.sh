#!/usr/bin/env bash
# scripts/example.sh - the README's main job, end to end: build matrix, let it
# release examples/hello-go (a Go program) for the 16 targets of its
# matrix.toml, then check the result with coreutils' own sha256sum.
#
#   scripts/example.sh [MATRIX-BUILD-ARGS...]
#
# Extra arguments go to `matrix build` (e.g. `-j 1`, `--target 'linux/*'`, `-v`).
# --snapshot is always given because the example has no release tag at HEAD.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
readonly EXAMPLE="$ROOT/examples/hello-go"
readonly MATRIX="$ROOT/target/release/matrix"

say() { printf 'example: %s\n' "$*"; }
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

main() {
	read_build_args "$@"
	say "==> setup"
	bash "$ROOT/scripts/setup.sh"

	say "==> cargo build --release"
	local status=0
	(cd "$ROOT" && cargo build --release) || status=$?
	[[ $status -eq 0 ]] || die "cargo build --release failed with status $status"
	[[ -x "$MATRIX" ]] || die "cargo build --release did not produce $MATRIX"

	say "==> matrix build --snapshot --clean $* (in examples/hello-go)"
	(cd "$EXAMPLE" && "$MATRIX" build --snapshot --clean "$@") || status=$?
	[[ $status -eq 0 ]] || die "matrix build failed with status $status"

	say "==> verify"
	verify_dist
	say "done"
}

main "$@"
