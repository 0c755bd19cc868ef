#!/usr/bin/env bash
# scripts/install-toolchains.sh - the cross toolchains matrix's examples and
# tests build with, installed by matrix itself: it builds matrix, then runs
# `matrix doctor --install --yes --smoke` for examples/hello-go and
# examples/hello-c, which installs what their targets need and is missing:
#
#   Debian packages   golang-go, gcc-<triple> + libc6-dev-<arch>-cross,
#                     the MinGW-w64 win32 compilers, make, qemu-user-static
#                     (one apt-get call; as root, or with `sudo -n`)
#   zig               from PyPI (ziglang, pinned) into a venv in matrix's
#                     tool cache, with the wrapper $MATRIX_TOOLS/bin/zig
#   binfmt_misc       qemu's handlers (root only; optional)
#   zig's cache       warmed for the examples' zig targets
#
# Safe to run any number of times: matrix installs only what is missing.
# Not root and no sudo: matrix prints the apt-get command; this script then
# exits 1 when CI=true, else 0 with a warning.
#
# Environment (read by matrix):
#   MATRIX_TOOLS   the tool cache (default: $HOME/.cache/matrix-tools)
#   MATRIX_PYTHON  the Python that makes zig's venv (default: the first of
#                  /usr/bin/python3 and `python3` that has venv+ensurepip)
#   MATRIX_BINFMT  0 skips the binfmt_misc registration
set -euo pipefail

LOG_PREFIX=toolchains
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
# The examples whose targets the tests build on the host.
readonly EXAMPLES=(hello-go hello-c)

main() {
	say "installing the examples' toolchains with matrix doctor --install (CI=${CI:-unset}, user $(id -un))"
	if ! command -v cargo >/dev/null 2>&1; then
		problem "no cargo on PATH, so matrix cannot be built to install the toolchains"
		finish_problems "a CI machine must have every toolchain" \
			"cross builds will fail where a toolchain is missing"
		return
	fi
	local start
	start=$(now)
	if ! (cd "$ROOT" && cargo build --quiet --bin matrix); then
		problem "cargo build of matrix failed (see above)"
		finish_problems "a CI machine must have every toolchain" \
			"cross builds will fail where a toolchain is missing"
		return
	fi
	# cargo ran in $ROOT, so a relative CARGO_TARGET_DIR starts there.
	local target=${CARGO_TARGET_DIR:-$ROOT/target}
	[[ $target == /* ]] || target=$ROOT/$target
	local matrix=$target/debug/matrix
	say "built $matrix ($(elapsed "$start" "$(now)"))"
	local example
	for example in "${EXAMPLES[@]}"; do
		start=$(now)
		say "==> matrix doctor --install --yes --smoke (examples/$example)"
		if "$matrix" doctor --install --yes --smoke \
			-c "$ROOT/examples/$example/matrix.toml"; then
			say "<== examples/$example: ready ($(elapsed "$start" "$(now)"))"
		else
			problem "matrix doctor --install left examples/$example incomplete (see above)"
		fi
	done
	finish_problems "a CI machine must have every toolchain" \
		"cross builds for the missing targets will fail"
}

main "$@"
