// Starts a real `ricaas up` process for a test and stops it (by PID) afterwards.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { ethers } from "ethers";
import WebSocket from "ws";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export async function startNetwork() {
  const binary = process.env.RICAAS_BIN || join(ROOT, "target", "debug", "ricaas");
  const dir = mkdtempSync(join(tmpdir(), "ricaas-ethers-"));
  const log = openSync(join(dir, "node.log"), "a");
  const child = spawn(binary, ["up", "--nodes", "1", "--data-dir", join(dir, "data"), "--rpc-port", "0", "--platform-listen", "127.0.0.1:0"], {
    stdio: ["ignore", "pipe", log],
  });
  const lines = createInterface({ input: child.stdout });
  const text = await new Promise((resolvePromise, reject) => {
    let acc = "";
    const timer = setTimeout(() => reject(new Error(`ricaas up did not start:\n${acc}`)), 60_000);
    lines.on("line", (line) => {
      acc += line + "\n";
      if (line.startsWith("Press Ctrl-C")) {
        clearTimeout(timer);
        resolvePromise(acc);
      }
    });
    child.on("exit", (code) => reject(new Error(`ricaas up exited with ${code}:\n${acc}`)));
  });
  const http = text.match(/JSON-RPC HTTP:\s+(\S+)/)[1];
  const ws = text.match(/JSON-RPC WS:\s+(\S+)/)[1];
  const keyFile = text.match(/developer key:\s+(\S+)/)[1];
  const chainId = Number(text.match(/chain id (\d+)/)[1]);
  const channel = http.split("/channels/")[1].replace(/\/$/, "");
  const devKey = readFileSync(keyFile, "utf8").trim();
  const headers = await readHeaders(devKey, channel, chainId);
  return {
    http,
    ws,
    devKey,
    chainId,
    channel,
    headers,
    // ethers providers that present the developer account's read token.
    provider(options) {
      const request = new ethers.FetchRequest(http);
      for (const [name, value] of Object.entries(headers)) request.setHeader(name, value);
      return new ethers.JsonRpcProvider(request, undefined, options);
    },
    wsProvider() {
      return new ethers.WebSocketProvider(() => new WebSocket(ws, { headers }));
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        process.kill(child.pid, "SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// `Authorization` header with a RiCaaS read token: a personal_sign of the read statement.
export async function readHeaders(key, channel, chainId, lifetime = 3600) {
  const expires = Math.floor(Date.now() / 1000) + lifetime;
  const statement = `RiCaaS read access\nchannel: ${channel}\nchain id: ${chainId}\nexpires: ${expires}`;
  const signature = await new ethers.Wallet(key).signMessage(statement);
  return { Authorization: `Bearer ricaas-read.${expires}.${signature}` };
}
