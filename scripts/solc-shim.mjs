#!/usr/bin/env node
// A `solc` command line over a solcjs release from the platform's compiler cache, for tools
// that run the native compiler (Slither through crytic-compile, Mythril) on a machine that
// cannot download it: `--version`, `--standard-json` (input on stdin, output on stdout) and
// `--combined-json <fields> [options] files…`. It compiles with crates/solc/src/runner.js, the
// runner the platform itself uses.
// Usage: node scripts/solc-shim.mjs <path to soljson.js> <solc arguments…>
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const RUNNER = join(ROOT, "crates", "solc", "src", "runner.js");
const [soljson, ...args] = process.argv.slice(2);
if (!soljson) {
  process.stderr.write("usage: node scripts/solc-shim.mjs <soljson.js> <solc arguments…>\n");
  process.exit(2);
}

function run(input) {
  const dir = mkdtempSync(join(tmpdir(), "solc-shim-"));
  try {
    writeFileSync(join(dir, "in.json"), JSON.stringify(input));
    execFileSync(process.execPath, [RUNNER, resolve(soljson), join(dir, "in.json"), join(dir, "out.json")], { stdio: ["ignore", "ignore", "inherit"] });
    return JSON.parse(readFileSync(join(dir, "out.json"), "utf8"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function version() {
  const { version } = run({ language: "Solidity", sources: {}, settings: {} });
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${version}\n`, () => process.exit(0));
}

function standardJson() {
  // Sources given by `urls` (Mythril names files) are read here: the runner has no import
  // callback, as native solc reads them itself.
  const input = JSON.parse(readFileSync(0, "utf8"));
  for (const source of Object.values(input.sources || {})) {
    if (source.content === undefined && Array.isArray(source.urls) && source.urls.length) {
      source.content = readFileSync(source.urls[0], "utf8");
      delete source.urls;
    }
  }
  const { output } = run(input);
  // Exit once stdout is flushed: exiting at once cuts a pipe's output at 64 KiB.
  process.stdout.write(JSON.stringify(output), () => process.exit(0));
}

function combinedJson() {
const at = args.indexOf("--combined-json");
if (at < 0) {
  process.stderr.write(`solc-shim: only --version, --standard-json and --combined-json are supported (got ${args.join(" ")})\n`);
  process.exit(2);
}
// Options that take a value; everything else not starting with -- is a source file.
const withValue = new Set(["--combined-json", "--allow-paths", "--base-path", "--evm-version", "--optimize-runs", "--include-path"]);
const files = [];
for (let i = 0; i < args.length; i++) {
  if (withValue.has(args[i])) { i++; continue; }
  if (args[i].startsWith("-")) continue;
  if (args[i].includes("=") && !args[i].endsWith(".sol")) continue; // remappings
  files.push(args[i]);
}
const sources = Object.fromEntries(files.map((f) => [f, { content: readFileSync(f, "utf8") }]));
const { version, output } = run({
  language: "Solidity",
  sources,
  settings: {
    optimizer: { enabled: args.includes("--optimize"), runs: 200 },
    outputSelection: { "*": { "": ["ast"], "*": ["abi", "evm.bytecode.object", "evm.bytecode.sourceMap", "evm.deployedBytecode.object", "evm.deployedBytecode.sourceMap", "evm.methodIdentifiers", "userdoc", "devdoc"] } },
  },
});
const errors = (output.errors || []).filter((e) => e.severity === "error");
for (const e of output.errors || []) process.stderr.write(`${e.formattedMessage || e.message}\n`);
if (errors.length) process.exit(1);
// Before 0.8 the combined JSON held the ABI and the docs as JSON text.
const minor = Number(version.split(".")[1]);
const text = (value) => (minor < 8 ? JSON.stringify(value) : value);
const contracts = {};
for (const [file, byName] of Object.entries(output.contracts || {})) {
  for (const [name, c] of Object.entries(byName)) {
    contracts[`${file}:${name}`] = {
      abi: text(c.abi), bin: c.evm.bytecode.object, "bin-runtime": c.evm.deployedBytecode.object,
      srcmap: c.evm.bytecode.sourceMap || "", "srcmap-runtime": c.evm.deployedBytecode.sourceMap || "",
      userdoc: text(c.userdoc || {}), devdoc: text(c.devdoc || {}), hashes: c.evm.methodIdentifiers || {},
    };
  }
}
const ordered = Object.entries(output.sources || {}).sort((a, b) => a[1].id - b[1].id);
process.stdout.write(JSON.stringify({
  contracts,
  sources: Object.fromEntries(ordered.map(([file, s]) => [file, { AST: s.ast }])),
  sourceList: ordered.map(([file]) => file),
  version,
}));
}

if (args.includes("--version")) version();
else if (args.includes("--standard-json")) standardJson();
else combinedJson();
