#!/usr/bin/env bash
# scripts/bench-cross.sh - wall time of whole cross-compiled releases:
# examples/hello-go (16 targets) and examples/hello-c (13 targets) built by
# `matrix build` at -j1 and -j2, against the same builds run by a plain
# sequential shell loop (the same compiler commands, one after another, then
# tar/zip and sha256sum). Prints a table with the parallel speed-up.
#
#   bash scripts/bench-cross.sh            # both examples
#   BENCH_EXAMPLES=hello-go bash scripts/bench-cross.sh
#
# Go's build cache is empty at the start of every measured run (a fresh
# HOME), so each run compiles the standard library for every target, as a
# clean release build does. zig's own libc cache is warmed once first: it is
# a one-off per machine, not part of a release.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
readonly ROOT
if [[ -z "${MATRIX:-}" ]]; then
	# Always built: a no-op when fresh, and a stale binary would time old code.
	(cd "$ROOT" && cargo build --release -q) || {
		printf 'bench-cross: error: cargo build --release failed\n' >&2
		exit 1
	}
	MATRIX=$ROOT/target/release/matrix
fi
EXAMPLES=${BENCH_EXAMPLES:-hello-go hello-c}
export PATH="${MATRIX_TOOLS:-$HOME/.cache/matrix-tools}/bin:$PATH"

say() { printf 'bench-cross: %s\n' "$*" >&2; }
die() {
	say "error: $*"
	exit 1
}

[[ -x "$MATRIX" ]] || (cd "$ROOT" && cargo build --release -q) || die "cannot build matrix"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

seconds() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# A copy of the example in a git repository tagged v1.2.3.
prepare() {
	local name=$1 dir=$WORK/$1
	mkdir -p "$dir"
	cp -r "$ROOT/examples/$name/." "$dir/"
	rm -rf "$dir/dist" "$dir/target"
	(
		cd "$dir"
		git init -q -b main
		printf 'dist/\nloop/\n' >.gitignore
		git add -A
		git -c user.name=bench -c user.email=bench@example.org commit -q -m bench
		git tag v1.2.3
	)
	printf '%s' "$dir"
}

# The plan's build steps as shell lines, one per target, taken from
# `matrix plan --json` so the loop runs exactly the commands matrix runs,
# then packs and hashes the results like matrix does.
cat >"$WORK/loop.py" <<'PY'
import json, shlex, sys

plan = json.load(sys.stdin)
q = shlex.quote
for t in plan["targets"]:
    b, art = t["build"], t["archive"]
    env = " ".join(q(k + "=" + v) for k, v in sorted(b["env"].items()))
    stage = q(b["out_dir"] + ".stage")
    name = q(plan["dist"] + "/" + art["file_name"])
    print("mkdir -p " + q(b["out_dir"]) + " " + stage)
    print("(cd " + q(b["dir"]) + " && env " + env + " " + " ".join(q(a) for a in b["argv"]) + ")")
    print("cp " + q(b["artifact"]) + " " + stage + "/" + q(b["binary"]) + " && cp LICENSE " + stage + "/")
    if art["format"] == "zip":
        print("(cd " + stage + " && python3 -m zipfile -c " + name + " *)")
    else:
        print("tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C " + stage
              + " -cf - . | gzip -9 -n > " + name)
print("(cd " + q(plan["dist"]) + " && sha256sum *.tar.gz *.zip > checksums.txt)")
PY

loop_script() {
	local dir=$1 out=$2
	(cd "$dir" && "$MATRIX" plan --json --dist "$out") | python3 "$WORK/loop.py" >"$WORK/$(basename "$dir")-loop.sh"
}

# Each measured run gets a fresh HOME, so Go's build cache (which the
# examples keep under $HOME) starts empty; zig's libc cache stays warm.
REAL_HOME=$HOME
export ZIG_GLOBAL_CACHE_DIR=${ZIG_GLOBAL_CACHE_DIR:-$REAL_HOME/.cache/zig}
fresh_home() {
	HOME=$(mktemp -d "$WORK/home.XXXXXX")
	export HOME
	export GOCACHE="$HOME/.cache/go-build"
}

run_matrix() {
	local dir=$1 jobs=$2 start end
	fresh_home
	start=$(seconds)
	(cd "$dir" && "$MATRIX" build --clean -q -j "$jobs" >/dev/null) || die "matrix build failed in $dir"
	end=$(seconds)
	elapsed "$start" "$end"
}

run_loop() {
	local dir=$1 start end
	fresh_home
	rm -rf "$dir/loop"
	mkdir -p "$dir/loop"
	loop_script "$dir" "$dir/loop"
	start=$(seconds)
	(cd "$dir" && bash -e "$WORK/$(basename "$dir")-loop.sh") || die "the shell loop failed in $dir"
	end=$(seconds)
	elapsed "$start" "$end"
}

printf '%-10s %8s %10s %10s %10s %12s\n' example targets "loop" "matrix -j1" "matrix -j2" "speed-up -j2"
for name in $EXAMPLES; do
	dir=$(prepare "$name")
	targets=$(cd "$dir" && "$MATRIX" plan --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["targets"]))')
	# Warm-up (zig's libc cache, page cache); not measured.
	fresh_home
	(cd "$dir" && "$MATRIX" build --clean -q -j 2 >/dev/null) || die "warm-up build failed for $name"
	loop=$(run_loop "$dir")
	j1=$(run_matrix "$dir" 1)
	j2=$(run_matrix "$dir" 2)
	speedup=$(awk -v a="$loop" -v b="$j2" 'BEGIN { printf "%.2fx", a / b }')
	printf '%-10s %8s %9ss %9ss %9ss %12s\n' "$name" "$targets" "$loop" "$j1" "$j2" "$speedup"
done
say "host: $(nproc) CPUs; load $(cut -d' ' -f1-3 /proc/loadavg); Go cache empty at the start of each run"
