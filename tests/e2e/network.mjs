// Starts a real `ricaas up` process for a test and stops it (by PID) afterwards.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export async function startNetwork() {
  const binary = process.env.RICAAS_BIN || join(ROOT, "target", "debug", "ricaas");
  const dir = mkdtempSync(join(tmpdir(), "ricaas-ethers-"));
  const log = openSync(join(dir, "node.log"), "a");
  const child = spawn(binary, ["up", "--nodes", "1", "--data-dir", join(dir, "data"), "--rpc-port", "0"], {
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
  return {
    http,
    ws,
    devKey: readFileSync(keyFile, "utf8").trim(),
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
