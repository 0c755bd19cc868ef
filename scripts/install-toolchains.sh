#!/usr/bin/env bash
# scripts/install-toolchains.sh - the cross toolchains that matrix's
# cross-compilation presets point CC/CXX/AR at, plus qemu to run what they
# build (Debian/Ubuntu). Safe to run any number of times: it only installs
# what is missing.
#
#   GNU cross compilers   gcc-<triple> + libc6-dev-<arch>-cross from apt
#                         (linux arm64, 386, ppc64le, s390x, riscv64, armv7)
#   MinGW-w64             windows amd64 and 386 (apt, the win32 thread model)
#   qemu-user-static      runs the foreign Linux binaries; binfmt_misc
#                         handlers are registered when the kernel lets us
#   zig                   from PyPI (package ziglang) into a venv of its own,
#                         for macOS and musl targets (`zig cc -target ...`)
#
# As root: installs the missing Debian packages in one apt-get call.
# Not root: prints what is missing and the commands that install it; exits 1
# when CI=true, else 0 with a warning. zig needs no root (it lives under
# $MATRIX_TOOLS) and is installed either way when Python can make a venv.
#
# Environment:
#   MATRIX_TOOLS   where zig's venv and the bin/ directory with the `zig`
#                  wrapper go (default: $HOME/.cache/matrix-tools)
#   MATRIX_PYTHON  the Python used to create zig's venv (default: the first
#                  of /usr/bin/python3 and `python3` that has venv+ensurepip)
#   MATRIX_BINFMT  0 skips the binfmt_misc registration
set -euo pipefail

LOG_PREFIX=toolchains
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The pinned zig. A newer zig changes flags and diagnostics under the
# builds, so this moves on purpose only (`pip index versions ziglang`).
readonly ZIG_VERSION=0.15.2

# package:probe pairs. A package counts as present when dpkg says it is
# installed or when its probe is satisfied: a command on PATH, or (for a
# probe starting with /) an existing file. So a compiler installed outside
# apt is used as it is, and the check still works where dpkg-query is absent.
# The libc probes are libc.a: the presets link Linux targets statically.
readonly REQUIREMENTS=(
	gcc-aarch64-linux-gnu:aarch64-linux-gnu-gcc
	libc6-dev-arm64-cross:/usr/aarch64-linux-gnu/lib/libc.a
	gcc-i686-linux-gnu:i686-linux-gnu-gcc
	libc6-dev-i386-cross:/usr/i686-linux-gnu/lib/libc.a
	gcc-powerpc64le-linux-gnu:powerpc64le-linux-gnu-gcc
	libc6-dev-ppc64el-cross:/usr/powerpc64le-linux-gnu/lib/libc.a
	gcc-s390x-linux-gnu:s390x-linux-gnu-gcc
	libc6-dev-s390x-cross:/usr/s390x-linux-gnu/lib/libc.a
	gcc-riscv64-linux-gnu:riscv64-linux-gnu-gcc
	libc6-dev-riscv64-cross:/usr/riscv64-linux-gnu/lib/libc.a
	gcc-arm-linux-gnueabihf:arm-linux-gnueabihf-gcc
	libc6-dev-armhf-cross:/usr/arm-linux-gnueabihf/lib/libc.a
	# The native target's compiler and static libc (x86_64-linux-gnu-gcc on
	# amd64 Debian comes from `gcc`).
	gcc:gcc
	libc6-dev:/usr/include/stdio.h
	make:make
	# gcc-mingw-w64-x86-64 would pull both the posix and win32 thread-model
	# compilers (~120 MB each); C needs only one, and the win32 one registers
	# the plain x86_64-w64-mingw32-gcc alternative.
	gcc-mingw-w64-x86-64-win32:x86_64-w64-mingw32-gcc
	gcc-mingw-w64-i686-win32:i686-w64-mingw32-gcc
	golang-go:go
	qemu-user-static:qemu-aarch64-static
	binfmt-support:update-binfmts
	file:file
)

# The qemu-user-static handlers matrix's targets need, by binfmt name.
readonly QEMU_BINFMTS=(qemu-aarch64 qemu-i386 qemu-ppc64le qemu-s390x qemu-riscv64 qemu-arm)

TOOLS=${MATRIX_TOOLS:-${HOME:+$HOME/.cache/matrix-tools}}
# The zig wrapper names its venv by this path, so it must not depend on the
# directory the script happened to run in.
if [[ -n $TOOLS && $TOOLS != /* ]]; then TOOLS=$PWD/$TOOLS; fi





# ---------------------------------------------------------------- apt

dpkg_installed() { # dpkg_installed PACKAGE
	command -v dpkg-query >/dev/null 2>&1 || return 1
	[[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]
}

probe_ok() { # probe_ok PROBE
	if [[ $1 == /* ]]; then
		[[ -e $1 ]]
	else
		command -v "$1" >/dev/null 2>&1
	fi
}

# Prints the packages that are missing, one per line.
missing_packages() {
	local req
	for req in "${REQUIREMENTS[@]}"; do
		if ! dpkg_installed "${req%%:*}" && ! probe_ok "${req#*:}"; then
			printf '%s\n' "${req%%:*}"
		fi
	done
}



install_packages() {
	local -a missing
	mapfile -t missing < <(missing_packages)
	if [[ ${#missing[@]} -eq 0 ]]; then
		say "packages: all present"
		return 0
	fi
	if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
		local start
		start=$(now)
		if ! apt_install "${missing[@]}"; then
			problem "apt-get install failed for: ${missing[*]}"
			return 0
		fi
		say "apt-get install of ${#missing[@]} packages took $(elapsed "$start" "$(now)")"
		mapfile -t missing < <(missing_packages)
		if [[ ${#missing[@]} -gt 0 ]]; then
			problem "still missing after apt-get install: ${missing[*]}"
		fi
		return 0
	fi
	local pkg
	for pkg in "${missing[@]}"; do
		problem "missing package $pkg"
	done
	if command -v apt-get >/dev/null 2>&1; then
		FIXES+=("sudo apt-get install -y --no-install-recommends ${missing[*]}")
	else
		FIXES+=("install the equivalents of these Debian packages: ${missing[*]}")
	fi
}

# ---------------------------------------------------------------- binfmt

# Lets the kernel run foreign Linux binaries directly through qemu. Optional:
# matrix calls qemu-<arch>-static explicitly, so a container that forbids
# mounting binfmt_misc only loses the convenience.
register_binfmt() {
	local dir=/proc/sys/fs/binfmt_misc
	if [[ ${MATRIX_BINFMT:-1} == 0 ]]; then
		say "binfmt: skipped (MATRIX_BINFMT=0)"
		return 0
	fi
	if [[ $EUID -ne 0 ]]; then
		if [[ ! -e $dir/qemu-aarch64 ]]; then
			say "binfmt: qemu handlers not registered and not root; run foreign binaries as qemu-<arch>-static ./prog"
		fi
		return 0
	fi
	if ! command -v qemu-aarch64-static >/dev/null 2>&1; then
		return 0 # already reported as a missing package
	fi
	if [[ ! -e $dir/register ]]; then
		local out
		if ! out=$(mount -t binfmt_misc binfmt_misc "$dir" 2>&1); then
			say "binfmt: cannot mount binfmt_misc on $dir (${out:-no message}; a container usually forbids it); not registering qemu handlers: run foreign binaries as qemu-<arch>-static ./prog"
			return 0
		fi
	fi
	local -a absent=()
	local name
	for name in "${QEMU_BINFMTS[@]}"; do
		# qemu-user-static ships no handler for what the host runs natively
		# (qemu-i386 on amd64): nothing to register there.
		if [[ ! -e /usr/share/binfmts/$name && ! -e /usr/lib/binfmt.d/$name.conf ]]; then
			continue
		fi
		[[ -e $dir/$name ]] || absent+=("$name")
	done
	if [[ ${#absent[@]} -eq 0 ]]; then
		say "binfmt: qemu handlers registered"
		return 0
	fi
	for name in "${absent[@]}"; do
		if command -v update-binfmts >/dev/null 2>&1 && [[ -e /usr/share/binfmts/$name ]]; then
			update-binfmts --enable "$name" >/dev/null 2>&1 || true
		fi
		# Without binfmt-support's database (or if it did not take), write
		# the systemd-binfmt line that qemu-user-static ships straight into
		# the kernel's register file.
		if [[ ! -e $dir/$name && -r /usr/lib/binfmt.d/$name.conf ]]; then
			grep -v '^[#;]' "/usr/lib/binfmt.d/$name.conf" | head -n 1 >"$dir/register" 2>/dev/null || true
		fi
	done
	local -a failed=()
	for name in "${absent[@]}"; do
		[[ -e $dir/$name ]] || failed+=("$name")
	done
	if [[ ${#failed[@]} -eq 0 ]]; then
		say "binfmt: registered ${absent[*]}"
	else
		say "binfmt: could not register ${failed[*]} (the kernel refused); run foreign binaries as qemu-<arch>-static ./prog"
	fi
}

# ---------------------------------------------------------------- zig

# Prints the first Python that can create a venv with pip in it.
find_python() {
	local py
	for py in ${MATRIX_PYTHON:+"$MATRIX_PYTHON"} /usr/bin/python3 python3; do
		if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import venv, ensurepip' >/dev/null 2>&1; then
			command -v "$py"
			return 0
		fi
	done
	return 1
}

# The venv records the Python it was made from; if that Python went away
# (a pyenv version removed, a Debian upgrade) the venv is made anew.
install_zig() {
	if [[ -z $TOOLS ]]; then
		problem "neither MATRIX_TOOLS nor HOME is set; no place for zig's venv" \
			"export MATRIX_TOOLS=/some/writable/dir"
		return 0
	fi
	local venv=$TOOLS/zig-venv wrapper=$TOOLS/bin/zig have
	if [[ -x $wrapper ]] && have=$("$wrapper" version 2>/dev/null) && [[ $have == "$ZIG_VERSION" ]]; then
		say "zig $ZIG_VERSION: present ($wrapper)"
		return 0
	fi
	local py
	if ! py=$(find_python); then
		problem "no Python with the venv and ensurepip modules, needed to install zig from PyPI" \
			"sudo apt-get install -y --no-install-recommends python3-venv"
		return 0
	fi
	local start
	start=$(now)
	say "installing zig $ZIG_VERSION from PyPI (ziglang) into $venv with $py"
	if ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
		if ! "$py" -m venv --clear "$venv" 2>&1 | sed -u 's/^/toolchains: venv: /'; then
			problem "\`$py -m venv $venv\` failed (see the venv lines above)"
			return 0
		fi
	fi
	if ! PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install --no-input -q \
		"ziglang==$ZIG_VERSION" 2>&1 | sed -u 's/^/toolchains: pip: /'; then
		problem "pip install ziglang==$ZIG_VERSION failed (see the pip lines above)"
		return 0
	fi
	mkdir -p "$TOOLS/bin"
	# The wrapper names the venv's Python by absolute path, so `zig` works
	# from any directory and whatever python3 PATH finds first.
	local quoted
	quoted=$(printf '%s' "$venv/bin/python" | sed "s/'/'\\\\''/g")
	printf '#!/bin/sh\n# Written by scripts/install-toolchains.sh: zig %s from PyPI (ziglang).\nexec '\''%s'\'' -m ziglang "$@"\n' \
		"$ZIG_VERSION" "$quoted" >"$wrapper.tmp"
	chmod 755 "$wrapper.tmp"
	mv -f "$wrapper.tmp" "$wrapper"
	if ! have=$("$wrapper" version 2>&1) || [[ $have != "$ZIG_VERSION" ]]; then
		problem "the installed zig wrapper $wrapper does not report $ZIG_VERSION: $have"
		return 0
	fi
	say "pip install of zig $ZIG_VERSION took $(elapsed "$start" "$(now)")"
}

# zig builds libc (musl, the macOS stubs) and compiler_rt for a target the
# first time it links for it: minutes on a cold cache, which a build job
# with a timeout (hello-c has 5m) must not pay. Linking the hello-c example
# once per zig target here fills zig's global cache; when it is already
# warm this takes a second per target.
warm_zig() {
	local zig=$TOOLS/bin/zig
	[[ -n $TOOLS && -x $zig ]] || return 0
	local src tmp start target failed=()
	src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../examples/hello-c" && pwd)
	tmp=$(mktemp -d)
	start=$(now)
	for target in x86_64-linux-musl aarch64-linux-musl x86_64-macos aarch64-macos; do
		# make's outputs go to $tmp; the example's folder is only read.
		if ! PATH="$TOOLS/bin:$PATH" make -s -C "$src" "OUT=$tmp/hello-$target" \
			"CC=zig cc -target $target" "AR=zig ar" VERSION=warm >"$tmp/$target.log" 2>&1; then
			sed "s/^/toolchains: zig $target: /" "$tmp/$target.log"
			failed+=("$target")
		fi
	done
	rm -rf "$tmp"
	if ((${#failed[@]})); then
		problem "zig could not link the hello-c example for ${failed[*]} (see the lines above)"
	else
		say "zig's cache holds libc for the example's targets ($(elapsed "$start" "$(now)"))"
	fi
}

# ---------------------------------------------------------------- report

report_tools() {
	local cmd
	for cmd in aarch64-linux-gnu-gcc i686-linux-gnu-gcc powerpc64le-linux-gnu-gcc \
		s390x-linux-gnu-gcc riscv64-linux-gnu-gcc arm-linux-gnueabihf-gcc x86_64-linux-gnu-gcc \
		x86_64-w64-mingw32-gcc i686-w64-mingw32-gcc go qemu-aarch64-static file; do
		if command -v "$cmd" >/dev/null 2>&1; then
			say "  $cmd: $(command -v "$cmd")"
		fi
	done
	if [[ -n $TOOLS && -x $TOOLS/bin/zig ]]; then
		say "  zig: $TOOLS/bin/zig ($("$TOOLS/bin/zig" version 2>/dev/null || echo broken))"
		case ":$PATH:" in
		*":$TOOLS/bin:"*) ;;
		*)
			say "zig is not on PATH; add it with:"
			say "    export PATH=\"$TOOLS/bin:\$PATH\""
			;;
		esac
	fi
}

main() {
	say "checking the cross toolchains (CI=${CI:-unset}, user $(id -un), tools in ${TOOLS:-<unset>})"
	install_packages
	register_binfmt
	install_zig
	warm_zig
	report_tools

	finish_problems "a CI machine must have every toolchain" \
		"cross builds for the missing targets will fail"
}

main "$@"
