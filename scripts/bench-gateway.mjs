// A contract call through the platform's REST gateway beside the same call sent as a raw
// eth_sendRawTransaction, on one machine, in one run, at the same load. Starts `ricaas up`
// (one node, one organization, the platform beside it), compiles the repository's ERC-20 with
// POST /compile, deploys one instance through the platform (approved by org1's vote, created
// with org1's custodial admin key) and one directly with the developer key (ethers), then, for
// ROUNDS rounds, TRANSFERS ERC-20 transfers per phase with CONCURRENCY requests in flight:
//   gateway submit   POST …/contracts/token/invoke/transfer            (202: admitted)
//   raw submit       eth_sendRawTransaction of a transfer the client signed (ethers)
//   gateway confirm  POST …/invoke/transfer?confirm=true                (200: committed receipt)
//   raw confirm      eth_sendRawTransaction, then eth_getTransactionReceipt every 200 ms
// Each phase waits for its last transaction to commit before the next starts. Prints every
// phase (requests/s, p50, p99 of the request latency) and, per mode, the medians and the
// gateway/raw ratio of throughput and p50.
// Usage: node scripts/bench-gateway.mjs <path to ricaas> [rounds] [transfers] [concurrency] [submit|confirm|submit,confirm]
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { mkdtempSync, readFileSync, rmSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
// ethers comes from the end-to-end tests' packages (scripts/install-test-deps installs them).
const { ethers } = createRequire(join(ROOT, "tests", "e2e", "package.json"))("ethers");
const [binary, roundsArg, transfersArg, concurrencyArg, modesArg] = process.argv.slice(2);
if (!binary) { console.error("usage: node scripts/bench-gateway.mjs <path to ricaas> [rounds] [transfers] [concurrency]"); process.exit(2); }
const ROUNDS = Number(roundsArg || 3);
const TRANSFERS = Number(transfersArg || 2000);
const CONCURRENCY = Number(concurrencyArg || 16);
// `submit`, `confirm`, or both (default).
const MODES = (modesArg || "submit,confirm").split(",");

const dir = mkdtempSync(join(tmpdir(), "ricaas-bench-gateway-"));
const up = spawn(binary, ["up", "--nodes", "1", "--orgs", "1", "--data-dir", join(dir, "data"), "--rpc-port", "0", "--platform-listen", "127.0.0.1:0"], {
  stdio: ["ignore", "pipe", openSync(join(dir, "up.log"), "a")], env: { ...process.env, RICAAS_LOG: "warn" },
});
let platformPid = null;
const stop = () => {
  for (const pid of [up.pid, platformPid]) { try { if (pid) process.kill(pid, "SIGKILL"); } catch { /* gone */ } }
  rmSync(dir, { recursive: true, force: true });
};
process.on("exit", stop);
process.on("SIGINT", () => process.exit(130));

const printed = await new Promise((resolvePrinted, reject) => {
  let text = "";
  const timer = setTimeout(() => reject(new Error(`ricaas up did not start:\n${text}`)), 120_000);
  createInterface({ input: up.stdout }).on("line", (line) => {
    text += line + "\n";
    if (line.startsWith("Press Ctrl-C")) { clearTimeout(timer); resolvePrinted(text); }
  });
  up.on("exit", (code) => reject(new Error(`ricaas up exited with ${code}:\n${text}`)));
});
const rpc = printed.match(/JSON-RPC HTTP:\s+(\S+)/)[1];
const api = printed.match(/platform API:\s+(\S+)/)[1];
platformPid = Number(printed.match(/platform pid:\s+(\d+)/)[1]);
const chainId = Number(printed.match(/chain id (\d+)/)[1]);
const channel = rpc.split("/channels/")[1];
const devKey = readFileSync(printed.match(/developer key:\s+(\S+)/)[1], "utf8").trim();
const [root] = JSON.parse(readFileSync(join(dir, "data", "platform", "tenant-credentials.json"), "utf8"));

async function call(method, path, token, body) {
  const response = await fetch(`${api}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}
const expect = (result, status, what) => {
  if (result.status !== status) throw new Error(`${what}: ${result.status} ${JSON.stringify(result.body)}`);
  return result.body;
};

// Read access for the raw client: a read token signed by the developer key.
const expires = Math.floor(Date.now() / 1000) + 24 * 3600;
const wallet = new ethers.Wallet(devKey);
const readToken = `ricaas-read.${expires}.${await wallet.signMessage(`RiCaaS read access\nchannel: ${channel}\nchain id: ${chainId}\nexpires: ${expires}`)}`;
let rpcId = 0;
async function jsonRpc(method, params) {
  const response = await fetch(rpc, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${readToken}` },
    body: JSON.stringify({ jsonrpc: "2.0", id: ++rpcId, method, params }),
  });
  const answer = await response.json();
  if (answer.error) throw new Error(`${method}: ${answer.error.message}`);
  return answer.result;
}
async function receipt(hash) {
  for (;;) {
    const found = await jsonRpc("eth_getTransactionReceipt", [hash]);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const session = expect(await call("POST", "/sessions", null, { tenant: root.tenant, name: "root", password: root.password }), 201, "sign in");
const token = session.token;
const [network] = expect(await call("GET", "/networks", token), 200, "networks");
const source = readFileSync(join(ROOT, "tests", "e2e", "contracts", "Token.sol"), "utf8");
const compiled = expect(await call("POST", "/compile", token, { sources: { "Token.sol": source } }), 200, "compile");
const erc20 = compiled.contracts.find((c) => c.name === "Token");
const supply = "1000000000000";
expect(await call("POST", `/networks/${network.name}/contracts`, token, {
  name: "token", bytecode: erc20.bytecode, abi: erc20.abi, constructor_args: ["Bench", "BNC", supply],
  source_hash: compiled.source_hash, compiler: compiled.compiler,
}), 201, "propose deployment");
for (let i = 0; ; i++) {
  const listed = expect(await call("GET", `/networks/${network.name}/contracts`, token), 200, "contracts");
  const state = (listed.find((c) => c.name === "token") || {}).state;
  if (state === "normal") break;
  if (i > 600) throw new Error(`the token did not deploy (${state})`);
  await new Promise((r) => setTimeout(r, 100));
}
// The raw client's own instance, created by the developer key.
const gasPrice = BigInt(await jsonRpc("eth_gasPrice", []));
let nonce = Number(await jsonRpc("eth_getTransactionCount", [wallet.address, "pending"]));
const iface = new ethers.Interface(erc20.abi);
const creation = await wallet.signTransaction({
  type: 0, chainId, nonce: nonce++, gasPrice, gasLimit: 3_000_000,
  data: erc20.bytecode + iface.encodeDeploy(["Bench", "BNC", supply]).slice(2),
});
const created = await receipt(await jsonRpc("eth_sendRawTransaction", [creation]));
const rawToken = created.contractAddress;

const recipient = (i) => ethers.getAddress(`0x${(0x100000 + i).toString(16).padStart(40, "0")}`);
const gatewayPath = `/networks/${network.name}/contracts/token/invoke/transfer`;
const phases = {
  "gateway submit": async (i) => expect(await call("POST", gatewayPath, token, { args: [recipient(i), 1] }), 202, "invoke").transaction_hash,
  "gateway confirm": async (i) => {
    const answer = expect(await call("POST", `${gatewayPath}?confirm=true`, token, { args: [recipient(i), 1] }), 200, "invoke");
    if (answer.status !== "succeeded") throw new Error(`transfer ${answer.transaction_hash} ${answer.status}`);
    return answer.transaction_hash;
  },
  "raw submit": async (i) => rawSend(i),
  "raw confirm": async (i) => {
    const found = await receipt(await rawSend(i));
    if (found.status !== "0x1") throw new Error(`transfer ${found.transactionHash} reverted`);
    return found.transactionHash;
  },
};
async function rawSend(i) {
  // Signed by the client as it sends, as a business system would; nonces handed out in order.
  const signed = await wallet.signTransaction({
    type: 0, chainId, nonce: nonce++, gasPrice, gasLimit: 100_000, to: rawToken,
    data: iface.encodeFunctionData("transfer", [recipient(i), 1]),
  });
  return jsonRpc("eth_sendRawTransaction", [signed]);
}

async function run(name) {
  const latencies = [];
  let next = 0;
  let last = null;
  const started = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < TRANSFERS) {
      const i = next++;
      const t0 = performance.now();
      last = await phases[name](i);
      latencies.push(performance.now() - t0);
    }
  }));
  const seconds = (performance.now() - started) / 1000;
  const committed = await receipt(last);
  if (committed.status !== "0x1") throw new Error(`${name}: the last transfer reverted`);
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return { phase: name, requests: TRANSFERS, seconds: +seconds.toFixed(2), rps: Math.round(TRANSFERS / seconds), p50_ms: +pct(0.5).toFixed(1), p99_ms: +pct(0.99).toFixed(1) };
}

const results = {};
for (let round = 1; round <= ROUNDS; round++) {
  // Alternate which side goes first, so neither always runs on a warmer chain.
  const order = round % 2 ? ["gateway submit", "raw submit", "gateway confirm", "raw confirm"] : ["raw submit", "gateway submit", "raw confirm", "gateway confirm"];
  for (const name of order.filter((phase) => MODES.includes(phase.split(" ")[1]))) {
    const result = await run(name);
    console.log(JSON.stringify({ round, ...result }));
    (results[name] ||= []).push(result);
  }
}
const median = (values) => { const v = [...values].sort((a, b) => a - b); const m = v.length >> 1; return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2; };
for (const mode of MODES) {
  const g = results[`gateway ${mode}`];
  const r = results[`raw ${mode}`];
  const row = (list) => ({ rps: median(list.map((x) => x.rps)), p50_ms: median(list.map((x) => x.p50_ms)), p99_ms: median(list.map((x) => x.p99_ms)) });
  const [gm, rm] = [row(g), row(r)];
  console.log(`${mode}: gateway ${gm.rps}/s p50 ${gm.p50_ms} ms p99 ${gm.p99_ms} ms | raw ${rm.rps}/s p50 ${rm.p50_ms} ms p99 ${rm.p99_ms} ms | raw/gateway throughput ${(rm.rps / gm.rps).toFixed(2)}x, gateway/raw p50 ${(gm.p50_ms / rm.p50_ms).toFixed(2)}x`);
}
process.exit(0);
