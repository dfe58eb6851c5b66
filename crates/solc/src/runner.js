'use strict';
// Runs one solcjs release on a standard-JSON input. Arguments: soljson.js, input file, output
// file. Writes {"version": <long version>, "output": <standard-JSON output>} to the output file;
// a failure is reported on stderr with a non-zero exit. Every source is in the input (the caller
// resolved the imports), so no import callback is given to the compiler.
//
// Releases before 0.4.11 have no standard-JSON interface: they are run through
// `compileJSONMulti`, and its answer is put in standard-JSON form here (errors with their
// place, contracts by file, each unit's legacy AST as `legacyAST`, which the caller converts).
const fs = require('fs');
const [soljsonPath, inputPath, outputPath] = process.argv.slice(2);
const soljson = require(soljsonPath);
const exported = (name) => ('_' + name) in soljson;
const version = exported('solidity_version')
  ? soljson.cwrap('solidity_version', 'string', [])()
  : soljson.cwrap('version', 'string', [])();
const [major, minor] = version.split('.').map((part) => parseInt(part, 10));
const input = fs.readFileSync(inputPath, 'utf8');
let compile;
if (exported('solidity_compile')) {
  // 0.6 added a context argument to the callback pair.
  compile = major > 0 || minor >= 6
    ? (text) => soljson.cwrap('solidity_compile', 'string', ['string', 'number', 'number'])(text, 0, 0)
    : (text) => soljson.cwrap('solidity_compile', 'string', ['string', 'number'])(text, 0);
} else if (exported('compileStandard')) {
  compile = (text) => soljson.cwrap('compileStandard', 'string', ['string', 'number'])(text, 0);
} else if (exported('compileJSONMulti')) {
  const multi = soljson.cwrap('compileJSONMulti', 'string', ['string', 'number']);
  compile = (text) => JSON.stringify(fromLegacy(JSON.parse(text), (legacyInput, optimize) =>
    JSON.parse(multi(JSON.stringify(legacyInput), optimize))));
} else {
  process.stderr.write(`solc ${version} has neither the standard-JSON nor the multi-file interface\n`);
  process.exit(3);
}
let output;
try {
  output = compile(input);
} catch (error) {
  // Node would print the throwing line of soljson.js (megabytes of minified code): say what
  // happened instead. Deeply nested sources exhaust the compiler's stack.
  const stack = error instanceof RangeError && /call stack/i.test(error.message);
  process.stderr.write(stack
    ? `solc ${version} ran out of stack: the sources nest too deeply for it (${error.message})\n`
    : `solc ${version} failed: ${error && error.name ? `${error.name}: ${error.message}` : String(error)}\n`);
  process.exit(4);
}
fs.writeFileSync(outputPath, JSON.stringify({ version, output: JSON.parse(output) }));

// A standard-JSON input run through a pre-0.4.11 release, with the output in standard-JSON form.
function fromLegacy(input, run) {
  const names = Object.keys(input.sources);
  const texts = {};
  for (const name of names) texts[name] = input.sources[name].content;
  const optimize = input.settings && input.settings.optimizer && input.settings.optimizer.enabled ? 1 : 0;
  const legacy = run({ sources: texts }, optimize);
  const output = { sources: {}, contracts: {}, errors: [] };
  for (const text of legacy.errors || []) output.errors.push(legacyError(text, texts));
  const order = legacy.sourceList || names;
  for (const [name, unit] of Object.entries(legacy.sources || {})) {
    output.sources[name] = { id: order.indexOf(name), legacyAST: unit.AST };
  }
  // 0.4.9 and later name contracts `file:Name`; earlier releases only `Name`, found here in the
  // unit that defines it.
  const definedIn = (contract) => names.find((name) => {
    const ast = output.sources[name] && output.sources[name].legacyAST;
    return ast && (ast.children || []).some((c) => c.name === 'ContractDefinition' && c.attributes && c.attributes.name === contract);
  });
  for (const [key, contract] of Object.entries(legacy.contracts || {})) {
    const colon = key.lastIndexOf(':');
    const file = colon >= 0 ? key.slice(0, colon) : definedIn(key);
    const name = colon >= 0 ? key.slice(colon + 1) : key;
    if (file === undefined) continue;
    let abi = [];
    try { abi = JSON.parse(contract.interface); } catch (_) { /* left empty: no ABI given */ }
    (output.contracts[file] = output.contracts[file] || {})[name] = {
      abi,
      evm: { bytecode: { object: contract.bytecode || '' }, deployedBytecode: { object: contract.runtimeBytecode || '' } },
    };
  }
  return output;
}

// `file:line:column: Type: message` followed by the source line and a caret line.
function legacyError(text, texts) {
  const match = /^([^\n]*?):(\d+):(\d+): (\w+): ([^\n]*)/.exec(text);
  if (!match) {
    const type = (/^(\w+):/.exec(text) || [])[1] || 'Error';
    return { severity: type === 'Warning' ? 'warning' : 'error', type, message: text.split('\n')[0], formattedMessage: text };
  }
  const [, file, line, column, type, message] = match;
  const error = { severity: type === 'Warning' ? 'warning' : 'error', type, message, formattedMessage: text };
  const content = texts[file];
  if (content !== undefined) {
    const lines = content.split('\n');
    let start = 0;
    for (let i = 0; i < Number(line) - 1 && i < lines.length; i++) start += Buffer.byteLength(lines[i]) + 1;
    start += Number(column) - 1;
    const caret = /\^-*\^?/.exec(text.split('\n').slice(2).join('\n'));
    error.sourceLocation = { file, start, end: start + (caret ? caret[0].length : 1) };
  }
  return error;
}
