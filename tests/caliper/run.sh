#!/usr/bin/env bash
# Runs Hyperledger Caliper's Ethereum connector (ERC-20 transfer workload) against a fresh
# `ricaas up` network and fails unless every transaction succeeded.
# Needs: npm (installs @hyperledger/caliper-cli 0.6.0 and web3 1.3 into tests/caliper).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bin="${RICAAS_BIN:-$root/target/release/ricaas}"
work="$(mktemp -d)"
node_pid=""
cleanup() {
  if [ -n "$node_pid" ] && kill -0 "$node_pid" 2>/dev/null; then kill "$node_pid"; wait "$node_pid" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

cd "$here"
# package.json pins what `caliper bind --caliper-bind-sut ethereum:1.3` would install.
[ -d node_modules/@hyperledger/caliper-cli ] || npm ci --no-audit --no-fund --loglevel=error

# Caliper's web3 1.x connector cannot add an Authorization header to its WebSocket, so this
# local developer network serves reads anonymously (its transactions are still admitted only
# from enrolled accounts: the developer key is org1's client).
"$bin" up --nodes 1 --anonymous-reads --data-dir "$work/data" --rpc-port 0 --no-platform > "$work/up.out" 2> "$work/node.log" &
node_pid=$!
for _ in $(seq 1 300); do grep -q "Press Ctrl-C" "$work/up.out" 2>/dev/null && break; sleep 0.1; done
ws=$(grep -o 'ws://[^ ]*/channels/default' "$work/up.out" | head -1)
key=$(tr -d '\n' < "$work/data/keys/dev.key")
address=$(grep -o 'account 0x[0-9a-fA-F]*' "$work/up.out" | cut -d' ' -f2)

node -e '
const solc = require("'"$root"'/tests/e2e/node_modules/solc");
const fs = require("fs");
const read = (p) => ({ contents: fs.readFileSync(require("path").resolve("'"$root"'/tests", p), "utf8") });
const input = { language: "Solidity", sources: { "CaliperToken.sol": { content: fs.readFileSync("CaliperToken.sol", "utf8") } },
  settings: { optimizer: { enabled: true, runs: 200 }, evmVersion: "prague", outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } } } };
const out = JSON.parse(solc.compile(JSON.stringify(input), { import: read }));
const errors = (out.errors || []).filter((e) => e.severity === "error");
if (errors.length) { console.error(errors.map((e) => e.formattedMessage).join("\n")); process.exit(1); }
const c = out.contracts["CaliperToken.sol"].CaliperToken;
fs.writeFileSync(process.argv[1], JSON.stringify({ name: "CaliperToken", abi: c.abi, bytecode: "0x" + c.evm.bytecode.object, gas: 3000000 }));
' "$work/CaliperToken.json"

seed="0x$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# Caliper's workers send from accounts derived from the seed (m/44'/60'/<worker>'/0/0); a
# consortium channel admits enrolled identities only, so org1's CA certifies them and org1's
# admin enrolls them on chain first, as an operator would.
certs=()
for worker in 0 1; do
  node -e '
const HDKey = require("ethereumjs-wallet/hdkey");
const wallet = HDKey.fromMasterSeed(process.argv[1]).derivePath("m/44'"'"'/60'"'"'/" + process.argv[2] + "'"'"'/0/0").getWallet();
process.stdout.write(wallet.getPrivateKey().toString("hex"));
' "$seed" "$worker" > "$work/worker$worker.key"
  "$bin" ca --dir "$work/data/orgs" --org org1 enroll --name "caliper-worker$worker" --role client \
    --key-file "$work/worker$worker.key" --days 1 > /dev/null
  certs+=(--cert "$work/data/orgs/org1/caliper-worker$worker/cert.pem")
done
http=$(grep -o 'http://[^ ]*/channels/default' "$work/up.out" | head -1)
"$bin" member --rpc "$http" --admin-key-file "$work/data/keys/org1-admin.key" enroll "${certs[@]}"
cat > "$work/networkconfig.json" <<JSON
{
  "caliper": { "blockchain": "ethereum" },
  "ethereum": {
    "url": "$ws",
    "contractDeployerAddress": "$address",
    "contractDeployerAddressPrivateKey": "$key",
    "fromAddressSeed": "$seed",
    "transactionConfirmationBlocks": 1,
    "chainId": 1337,
    "gasPrice": 0,
    "contracts": {
      "token": { "path": "$work/CaliperToken.json", "gas": { "faucet": 100000, "transfer": 80000 } }
    }
  }
}
JSON

# Bounded: a transaction that never completes would otherwise keep Caliper waiting forever.
timeout 600 npx caliper launch manager \
  --caliper-workspace "$here" \
  --caliper-benchconfig benchconfig.yaml \
  --caliper-networkconfig "$work/networkconfig.json" \
  --caliper-flow-skip-start --caliper-flow-skip-end \
  --caliper-report-path "$work/report.html" > "$work/caliper.log" 2>&1 || { cat "$work/caliper.log"; exit 1; }
# The manager has exited; its workers sometimes linger on open WebSocket handles.
pkill -f "caliper launch worker --caliper-workspace $here" || true
grep -E 'Worker|Round|Succ|\| transfer|finished' "$work/caliper.log" | tail -12

# Caliper's summary table: | Name | Succ | Fail | Send Rate (TPS) | ... |
summary=$(grep -E '^\| transfer' "$work/caliper.log" | tail -1)
echo "caliper summary: $summary"
succ=$(echo "$summary" | awk -F'|' '{gsub(/ /,"",$3); print $3}')
fail=$(echo "$summary" | awk -F'|' '{gsub(/ /,"",$4); print $4}')
[ -n "$succ" ] && [ "$succ" -gt 0 ] && [ "$fail" = "0" ] || { echo "caliper run failed: succ=$succ fail=$fail"; exit 1; }
echo "caliper: $succ transfers succeeded, none failed"
