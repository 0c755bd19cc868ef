#!/usr/bin/env bash
# scripts/test.sh - the project's whole test command, as CI runs it:
#
#   setup.sh -> cargo fmt --check -> cargo clippy -D warnings -> cargo test
#
# Runs from the repository root whatever the current directory is. CI is
# passed through unchanged: with CI=true, setup.sh fails on a missing tool and
# the tests that need a tool fail instead of skipping. Every cargo step runs
# even when an earlier one failed, so one run shows all the problems; the exit
# status is non-zero if any step failed.
set -euo pipefail

LOG_PREFIX="test"
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT



SUMMARY=()
FAILED=0

# step NAME COMMAND...: runs one step, records its status and duration.
step() {
	local name=$1 start status
	shift
	say "==> $name: $*"
	start=$(now)
	status=0
	"$@" || status=$?
	local took
	took=$(elapsed "$start" "$(now)")
	if [[ $status -eq 0 ]]; then
		say "<== $name: ok ($took)"
		SUMMARY+=("ok      $took  $name")
	else
		say "<== $name: FAILED with status $status ($took)"
		SUMMARY+=("FAILED  $took  $name (status $status)")
		FAILED=1
	fi
	return "$status"
}

summary() {
	local line
	say "summary (CI=${CI:-unset}):"
	for line in "${SUMMARY[@]}"; do say "  $line"; done
}

main() {
	cd "$ROOT"
	local total
	total=$(now)
	# Without the tools nothing after this can mean anything: stop here.
	if ! step setup bash scripts/setup.sh; then
		summary
		exit 1
	fi
	# zig lives in the folder install-toolchains.sh manages, not on PATH.
	export PATH="${MATRIX_TOOLS:-$HOME/.cache/matrix-tools}/bin:$PATH"
	step fmt cargo fmt --check || true
	step clippy cargo clippy --all-targets -- -D warnings || true
	step test cargo test --all-targets --no-fail-fast || true
	summary
	say "total: $(elapsed "$total" "$(now)")"
	if [[ $FAILED -ne 0 ]]; then
		say "FAILED"
		exit 1
	fi
	say "all steps passed"
}

main "$@"
