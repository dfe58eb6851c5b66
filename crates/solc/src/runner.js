'use strict';
// Runs one solcjs release on a standard-JSON input. Arguments: soljson.js, input file, output
// file. Writes {"version": <long version>, "output": <standard-JSON output>} to the output file;
// a failure is reported on stderr with a non-zero exit. Every source is in the input (the caller
// resolved the imports), so no import callback is given to the compiler.
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
} else {
  process.stderr.write(`solc ${version} has no standard-JSON interface (0.4.11 or later has)\n`);
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
