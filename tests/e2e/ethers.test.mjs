// ethers v6, unmodified, against a RiCaaS node: deploy, transfer, balances, receipts, logs,
// newHeads over WebSocket, revert reasons, and the bench's embedded token bytecode.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { ethers } from "ethers";
import { compileContracts } from "./compile.mjs";
import { startNetwork, readHeaders } from "./network.mjs";

let net, provider, wallet, owner, token, artifacts;

before(async () => {
  artifacts = compileContracts();
  net = await startNetwork();
  provider = net.provider({ staticNetwork: true, pollingInterval: 50 });
  // ethers caches identical requests for 250 ms, so back-to-back sends from one Wallet can reuse
  // a stale "pending" nonce on any fast chain; NonceManager is ethers' answer to that.
  wallet = new ethers.Wallet(net.devKey, provider);
  owner = new ethers.NonceManager(wallet);
  const factory = new ethers.ContractFactory(artifacts.Token.abi, artifacts.Token.bytecode, owner);
  token = await factory.deploy("Ether Token", "ETK", ethers.parseEther("1000000"));
  await token.waitForDeployment();
});

after(async () => {
  provider?.destroy();
  await net?.stop();
});

test("the bench's embedded token bytecode is the compiled Token.sol", { timeout: 30_000 }, () => {
  const embedded = readFileSync(new URL("../../crates/cli/contracts/Token.bin", import.meta.url), "utf8").trim();
  assert.equal("0x" + embedded, artifacts.Token.bytecode);
});

test("network identity", { timeout: 30_000 }, async () => {
  const network = await provider.getNetwork();
  assert.equal(network.chainId, 1337n);
  const genesis = await provider.getBlock(0);
  assert.equal(genesis.number, 0);
});

test("deployed token answers reads", { timeout: 30_000 }, async () => {
  assert.equal(await token.name(), "Ether Token");
  assert.equal(await token.balanceOf(wallet.address), ethers.parseEther("1000000"));
});

test("EIP-1559 transfer moves tokens and yields a receipt with the event", { timeout: 30_000 }, async () => {
  const recipient = ethers.Wallet.createRandom().address;
  // ethers picks EIP-1559 only when baseFeePerGas is non-zero; on this gas-free chain ask for it.
  const tx = await token.transfer(recipient, 500n, { type: 2, maxFeePerGas: 0n, maxPriorityFeePerGas: 0n });
  assert.equal(tx.type, 2);
  const receipt = await tx.wait();
  assert.equal(receipt.status, 1);
  assert.equal(await token.balanceOf(recipient), 500n);
  const parsed = receipt.logs.map((l) => token.interface.parseLog(l));
  assert.deepEqual(parsed.map((e) => [e.name, e.args.to, e.args.value]), [["Transfer", recipient, 500n]]);
  const fetched = await provider.getTransactionReceipt(tx.hash);
  assert.equal(fetched.blockHash, receipt.blockHash);
  const block = await provider.getBlock(receipt.blockNumber);
  assert.ok(block.transactions.includes(tx.hash));
});

test("legacy and EIP-2930 transactions are accepted", { timeout: 30_000 }, async () => {
  const recipient = ethers.Wallet.createRandom().address;
  const legacy = await owner.sendTransaction({ to: recipient, value: 1n, type: 0, gasPrice: 0n });
  assert.equal((await legacy.wait()).status, 1);
  const accessList = await owner.sendTransaction({ to: recipient, value: 2n, type: 1, gasPrice: 0n, accessList: [] });
  assert.equal((await accessList.wait()).status, 1);
  assert.equal(await provider.getBalance(recipient), 3n);
});

test("queryFilter returns logs filtered by indexed topic", { timeout: 30_000 }, async () => {
  const recipient = ethers.Wallet.createRandom().address;
  await (await token.transfer(recipient, 9n)).wait();
  const logs = await token.queryFilter(token.filters.Transfer(null, recipient), 0, "latest");
  assert.equal(logs.length, 1);
  assert.equal(logs[0].args.value, 9n);
});

test("revert reasons reach the client", { timeout: 30_000 }, async () => {
  const stranger = ethers.Wallet.createRandom().connect(provider);
  await assert.rejects(token.connect(stranger).transfer.staticCall(wallet.address, 1n), (error) => {
    assert.equal(error.reason, "Token: transfer amount exceeds balance");
    return true;
  });
  await assert.rejects(token.connect(stranger).restricted.staticCall(), (error) => {
    assert.equal(error.revert?.name, "Unauthorized");
    assert.equal(error.revert?.args[0], stranger.address);
    return true;
  });
  // Through the plain wallet: NonceManager counts a nonce even when gas estimation fails.
  await assert.rejects(token.connect(wallet).transfer(wallet.address, ethers.parseEther("2000000")), (error) => {
    assert.match(error.shortMessage + " " + (error.reason ?? ""), /transfer amount exceeds balance/);
    return true;
  });
});

test("newHeads subscription over WebSocket delivers the block of a new transaction", { timeout: 30_000 }, async () => {
  const ws = net.wsProvider();
  try {
    const heads = [];
    const got = new Promise((resolve) => {
      ws.on("block", (number) => {
        heads.push(number);
        resolve();
      });
    });
    await new Promise((r) => setTimeout(r, 200)); // let ethers install its eth_subscribe
    const receipt = await (await owner.sendTransaction({ to: ethers.Wallet.createRandom().address, value: 1n })).wait();
    await Promise.race([got, new Promise((_, reject) => setTimeout(() => reject(new Error("no newHeads within 20s")), 20_000))]);
    assert.ok(heads.includes(receipt.blockNumber), `heads ${heads} should include ${receipt.blockNumber}`);
  } finally {
    await ws.destroy();
  }
});

test("reads need a read token of an enrolled account", { timeout: 30_000 }, async () => {
  const anonymous = new ethers.JsonRpcProvider(net.http, undefined, { staticNetwork: true });
  try {
    await assert.rejects(anonymous.getBlockNumber(), (error) => {
      assert.match(String(error.error?.message ?? error.message), /read access denied/);
      return true;
    });
    const stranger = ethers.Wallet.createRandom();
    const request = new ethers.FetchRequest(net.http);
    for (const [name, value] of Object.entries(await readHeaders(stranger.privateKey, net.channel, net.chainId))) {
      request.setHeader(name, value);
    }
    const asStranger = new ethers.JsonRpcProvider(request, undefined, { staticNetwork: true });
    await assert.rejects(asStranger.getBlockNumber(), (error) => {
      assert.match(String(error.error?.message ?? error.message), new RegExp(`reader ${stranger.address} is not enrolled`));
      return true;
    });
    asStranger.destroy();
  } finally {
    anonymous.destroy();
  }
});
