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
let output;
if (exported('solidity_compile')) {
  // 0.6 added a context argument to the callback pair.
  output = major > 0 || minor >= 6
    ? soljson.cwrap('solidity_compile', 'string', ['string', 'number', 'number'])(input, 0, 0)
    : soljson.cwrap('solidity_compile', 'string', ['string', 'number'])(input, 0);
} else if (exported('compileStandard')) {
  output = soljson.cwrap('compileStandard', 'string', ['string', 'number'])(input, 0);
} else {
  process.stderr.write(`solc ${version} has no standard-JSON interface (0.4.11 or later has)\n`);
  process.exit(3);
}
fs.writeFileSync(outputPath, JSON.stringify({ version, output: JSON.parse(output) }));
