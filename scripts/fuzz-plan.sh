#!/usr/bin/env bash
# scripts/fuzz-plan.sh - run the plan property test with many more cases
# than `cargo test` does: mutated example configs (lines deleted, swapped,
# garbled; axes blown up; templates with nested loops and huge strings
# injected) must always get a plan within [limits] or an error, never a
# panic or a hang. See src/plan/tests/fuzz.rs.
#
#   scripts/fuzz-plan.sh [CASES]
#
# Settings come from the arguments and the environment:
#   CASES (first argument)    cases to run (default 2000)
#   FUZZ_PROFILE              cargo profile: release (default; ~10x faster
#                             per case) or dev
#   MATRIX_PROPTEST_MAX_SECS  the most one case may take (default 30)
#
# Prints the number of cases, how many planned, how many failed with an
# error (and how many of those came from [limits]), and the slowest and
# mean time per case. A failing case is shrunk and printed with its
# mutations.
set -euo pipefail
export LC_ALL=C
LOG_PREFIX=fuzz-plan
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cases="${1:-2000}"
profile="${FUZZ_PROFILE:-release}"
if ! [[ "$cases" =~ ^[0-9]+$ ]] || [[ "$cases" -lt 1 ]]; then
	err "CASES must be a positive number, not '$cases'"
	exit 2
fi
case "$profile" in
release) flags=(--release) ;;
dev) flags=() ;;
*)
	err "FUZZ_PROFILE must be release or dev, not '$profile'"
	exit 2
	;;
esac

cd "$(dirname "${BASH_SOURCE[0]}")/.."
say "running $cases cases ($profile build)"
MATRIX_PROPTEST_CASES="$cases" cargo test "${flags[@]}" --lib \
	plan::tests::fuzz::mutated_examples_always_get_an_answer -- --nocapture
