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
