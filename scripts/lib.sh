# scripts/lib.sh - helpers shared by the project's scripts. Source it after
# setting LOG_PREFIX (the word every output line starts with):
#
#   LOG_PREFIX=setup
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck shell=bash

say() { printf '%s: %s\n' "$LOG_PREFIX" "$*"; }
warn() { printf '%s: warning: %s\n' "$LOG_PREFIX" "$*" >&2; }
err() { printf '%s: error: %s\n' "$LOG_PREFIX" "$*" >&2; }

# Problems a script cannot fix itself, and the commands that fix them.
PROBLEMS=()
FIXES=()
problem() { # problem MESSAGE [FIX-COMMAND]
	PROBLEMS+=("$1")
	if [[ $# -gt 1 ]]; then FIXES+=("$2"); fi
}

# finish_problems CI-MESSAGE OTHERWISE-MESSAGE: the end of a checking
# script. Prints every problem and its fix; fails under CI=true, else warns.
finish_problems() {
	if [[ ${#PROBLEMS[@]} -eq 0 ]]; then
		say "ready"
		return 0
	fi
	local p f
	for p in "${PROBLEMS[@]}"; do err "$p"; done
	if [[ ${#FIXES[@]} -gt 0 ]]; then
		say "to fix, run:"
		for f in "${FIXES[@]}"; do say "    $f"; done
	fi
	if is_ci; then
		err "CI=true: $1; failing"
		return 1
	fi
	warn "continuing without them: $2"
	return 0
}

is_ci() {
	case "${CI:-}" in
	true | TRUE | True | 1) return 0 ;;
	*) return 1 ;;
	esac
}

# Microseconds since the epoch. EPOCHREALTIME's decimal mark follows the
# locale ("." or ","), so it is dropped rather than parsed.
now() {
	if [[ -n "${EPOCHREALTIME:-}" ]]; then
		printf '%s' "${EPOCHREALTIME//[.,]/}"
	else
		printf '%s000000' "$(date +%s)"
	fi
}

# elapsed START END (microseconds) -> "1.2s"
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fs", (b - a) / 1000000 }'; }

# die MESSAGE: an error line, then exit 1.
die() {
	err "$*"
	exit 1
}

# positive_int NAME VALUE: dies unless VALUE is a positive integer.
positive_int() {
	[[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer, got '$2'"
}

# seconds MICROSECONDS -> "1.234"
seconds() { awk -v us="$1" 'BEGIN { printf "%.3f", us / 1000000 }'; }

# The 1, 5 and 15 minute load averages (benchmarks print them).
load_avg() { cut -d ' ' -f 1-3 /proc/loadavg 2>/dev/null || echo unknown; }

# release_matrix ROOT: sets MATRIX to an absolute path of the matrix binary
# to measure: $MATRIX if set (it must be executable), else the release
# build of the checkout at ROOT (`cargo build --release`, honouring
# CARGO_TARGET_DIR). Dies when there is none.
release_matrix() {
	local root=$1
	if [[ -n "${MATRIX:-}" ]]; then
		[[ -x "$MATRIX" ]] || die "MATRIX=$MATRIX is not an executable file"
	else
		[[ -f "$root/Cargo.toml" ]] || die "no $root/Cargo.toml to build matrix from; set MATRIX to a matrix binary"
		command -v cargo >/dev/null || die "cargo is needed to build matrix; or set MATRIX to a matrix binary"
		local target=${CARGO_TARGET_DIR:-$root/target}
		say "cargo build --release (CARGO_TARGET_DIR=$target)"
		(cd "$root" && CARGO_TARGET_DIR=$target cargo build --release -q) || die "cargo build --release failed"
		MATRIX=$target/release/matrix
		[[ -x "$MATRIX" ]] || die "cargo build --release did not produce $MATRIX"
	fi
	MATRIX=$(cd "$(dirname "$MATRIX")" && pwd)/$(basename "$MATRIX")
}

# apt_get ARGS...: apt-get with its output prefixed, waiting for a held lock
# (unattended-upgrades) instead of failing at once.
apt_get() {
	DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 "$@" 2>&1 |
		sed -u "s/^/$LOG_PREFIX: apt: /"
}

# Installs packages in one apt-get call; runs `apt-get update` only when the
# install failed because the package lists are missing or stale (fresh
# containers ship none).
apt_install() {
	local log status
	log=$(mktemp)
	say "installing: $*"
	status=0
	apt_get install -y --no-install-recommends "$@" | tee "$log" || status=$?
	if [[ $status -ne 0 ]] &&
		grep -qE 'Unable to locate package|has no installation candidate|is not available, but|Failed to fetch' "$log"; then
		say "the package lists are missing or stale; running apt-get update"
		status=0
		apt_get update || status=$?
		if [[ $status -eq 0 ]]; then
			apt_get install -y --no-install-recommends "$@" || status=$?
		fi
	fi
	rm -f "$log"
	if [[ $status -ne 0 ]]; then
		err "apt-get install $* failed with status $status (see the apt lines above)"
	fi
	return "$status"
}
