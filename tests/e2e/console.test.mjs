// The console in a real Chromium (Debian's `chromium`, driven by playwright-core): a tenant's
// root signs in, turns on a second factor and signs in again with a code, gives a sub-account a
// narrow policy; the sub-account, in a second browser context, sees a refused action explained;
// the root creates an API key that this test then uses over HTTP. Screenshots of each step go to
// target/console-screenshots.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHmac, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, existsSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { createServer } from "node:net";
import { chromium } from "playwright-core";
import { execFileSync } from "node:child_process";

// A withdrawal that pays before it clears the balance: the checker's reentrancy, on line 13.
const BANK = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

contract Bank {
    mapping(address => uint256) public balances;

    function deposit() external payable {
        balances[msg.sender] += msg.value;
    }

    function withdraw() external {
        uint256 amount = balances[msg.sender];
        (bool ok, ) = msg.sender.call{value: amount}("");
        require(ok, "payment failed");
        balances[msg.sender] = 0;
    }
}
`;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SHOTS = process.env.RICAAS_SCREENSHOTS || join(ROOT, "target", "console-screenshots");

function chromiumPath() {
  const candidates = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"].filter(Boolean);
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error("Chromium is not installed: apt-get install chromium (or set CHROMIUM_PATH)");
  return found;
}

// RFC 6238 with SHA-1, 6 digits, 30-second steps: what an authenticator app shows.
function totp(secretBase32, unixSeconds) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secretBase32.replace(/=+$/, "")) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unixSeconds / 30)));
  const mac = createHmac("sha1", Buffer.from(bytes)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const code = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(code).padStart(6, "0");
}

let platform;
let dir;
let base;
let browser;
let smtp;
const mails = [];

// A local SMTP server that keeps every message: where the platform's sign-up mail goes.
function startSmtpSink() {
  return new Promise((resolvePromise) => {
    const server = createServer((socket) => {
      let buffer = "";
      let inData = false;
      let message = "";
      socket.write("220 sink ESMTP\r\n");
      socket.on("data", (chunk) => {
        buffer += chunk.toString("utf8");
        let end;
        while ((end = buffer.indexOf("\r\n")) >= 0) {
          const line = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (inData) {
            if (line === ".") { inData = false; mails.push(message); message = ""; socket.write("250 kept\r\n"); }
            else message += line + "\n";
            continue;
          }
          const command = line.toUpperCase();
          if (command.startsWith("EHLO")) socket.write("250-sink\r\n250 8BITMIME\r\n");
          else if (command.startsWith("DATA")) { inData = true; socket.write("354 go ahead\r\n"); }
          else if (command.startsWith("QUIT")) { socket.end("221 bye\r\n"); }
          else socket.write("250 OK\r\n");
        }
      });
      socket.on("error", () => {});
    });
    server.listen(0, "127.0.0.1", () => resolvePromise(server));
  });
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  smtp = await startSmtpSink();
  const binary = process.env.RICAAS_BIN || join(ROOT, "target", "debug", "ricaas");
  dir = mkdtempSync(join(tmpdir(), "ricaas-console-"));
  const log = openSync(join(dir, "platform.log"), "a");
  const env = { ...process.env };
  delete env.RICAAS_DATABASE_URL; // this test's platform keeps its data in SQLite
  const smtpUrl = `smtp://127.0.0.1:${smtp.address().port}`;
  platform = spawn(binary, ["platform", "--data-dir", join(dir, "platform"), "--listen", "127.0.0.1:0", "--smtp-url", smtpUrl], {
    stdio: ["ignore", "pipe", log],
    env,
  });
  const lines = createInterface({ input: platform.stdout });
  const text = await new Promise((resolvePromise, reject) => {
    let acc = "";
    const timer = setTimeout(() => reject(new Error(`ricaas platform did not start:\n${acc}`)), 60_000);
    lines.on("line", (line) => {
      acc += line + "\n";
      if (line.startsWith("Press Ctrl-C")) { clearTimeout(timer); resolvePromise(acc); }
    });
    platform.on("exit", (code) => reject(new Error(`ricaas platform exited with ${code}:\n${acc}`)));
  });
  base = text.match(/RiCaaS console:\s+(\S+)/)[1].replace(/\/$/, "");
  browser = await chromium.launch({ executablePath: chromiumPath(), args: ["--no-sandbox"] });
});

/// Kills, by PID, every node the platform started under `root` (a platform killed with -9
/// leaves its nodes running).
function killNodes(root) {
  if (!existsSync(root)) return;
  for (const network of readdirSync(root)) {
    for (const node of readdirSync(join(root, network))) {
      const pidFile = join(root, network, node, "node.pid");
      if (!existsSync(pidFile)) continue;
      try { process.kill(Number(readFileSync(pidFile, "utf8").trim()), "SIGKILL"); } catch { /* already gone */ }
    }
  }
}

after(async () => {
  if (browser) await browser.close();
  if (platform) platform.kill("SIGKILL");
  if (dir) killNodes(join(dir, "platform", "networks"));
  if (smtp) smtp.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function api(method, path, token, body) {
  const response = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/// Opens a console page from the side navigation and waits until it has replaced the previous
/// one (pages share field names, so filling before that would fill the old page).
async function goTo(page, label, heading = label) {
  await page.click(`nav a:text-is("${label}")`);
  await page.waitForSelector(`main h1:text-is("${heading}")`);
}

async function signIn(page, tenant, name, password, otp) {
  await page.goto(`${base}/`);
  await page.fill("input[name=tenant]", tenant);
  await page.fill("input[name=name]", name);
  await page.fill("input[name=password]", password);
  if (otp) {
    await page.click("button[type=submit]");
    await page.waitForSelector("input[name=otp]", { state: "visible" });
    await page.fill("input[name=otp]", otp);
  }
  await page.click("button[type=submit]");
  await page.waitForSelector('main h1:text-is("Overview")');
}

test("a root with MFA gives a sub-account a narrow policy, the sub-account is refused with the reason, and an API key works from outside", async () => {
  const operatorCredentials = JSON.parse(readFileSync(join(dir, "platform", "operator-credentials.json"), "utf8"));
  const operator = await api("POST", "/sessions", null, { name: operatorCredentials.name, password: operatorCredentials.password });
  assert.equal(operator.status, 201);
  const created = await api("POST", "/tenants", operator.body.token, { name: "acme" });
  assert.equal(created.status, 201);
  const rootPassword = created.body.root.password;

  const rootContext = await browser.newContext();
  const root = await rootContext.newPage();
  await root.goto(`${base}/`);
  await root.screenshot({ path: join(SHOTS, "01-sign-in.png") });
  // A wrong password is refused in plain words.
  await root.fill("input[name=tenant]", "acme");
  await root.fill("input[name=password]", "not the password");
  await root.click("button[type=submit]");
  await root.waitForSelector(".error");
  assert.match(await root.textContent(".error"), /wrong tenant, account name or password/);

  await signIn(root, "acme", "root", rootPassword);
  assert.match(await root.textContent("main"), /Signed in as root of tenant acme/);
  await root.screenshot({ path: join(SHOTS, "02-overview.png") });

  // Second factor: enrol, confirm with a code, then sign in again with the next code.
  await goTo(root, "Security");
  await root.click("text=Enrol an authenticator");
  const secret = (await root.textContent("[data-testid=mfa-secret]")).trim();
  await root.fill("input[name=code]", totp(secret, Date.now() / 1000));
  await root.screenshot({ path: join(SHOTS, "03-mfa-enrolment.png") });
  await root.click("form:has(input[name=code]) button[type=submit]");
  await root.waitForSelector("text=Sign-in asks for a code");
  await root.click("text=Sign out");
  await root.waitForSelector("input[name=password]");
  await signIn(root, "acme", "root", rootPassword, totp(secret, Date.now() / 1000 + 30));
  await root.screenshot({ path: join(SHOTS, "04-signed-in-with-mfa.png") });

  // A narrow policy, and a sub-account that has only it.
  await goTo(root, "Policies");
  await root.fill("input[name=name]", "list-accounts");
  await root.fill("textarea[name=document]", JSON.stringify({ statements: [{ effect: "allow", actions: ["account:List"], resources: ["*"] }] }));
  await root.click("text=Create policy");
  await root.waitForSelector("text=Policy list-accounts created.");
  // The editor says what is wrong before anything is sent.
  await root.fill("textarea[name=document]", "{ not json");
  assert.match(await root.textContent(".badge.bad"), /JSON/);
  await root.screenshot({ path: join(SHOTS, "05-policy-editor.png") });

  await goTo(root, "Accounts");
  await root.fill("input[name=name]", "clerk");
  await root.fill("input[name=password]", "clerk's long passphrase");
  await root.fill("input[name=policy]", "list-accounts");
  await root.click("main button[type=submit]:has-text('Create')");
  await root.waitForSelector("text=Account clerk created.");
  await root.waitForSelector("td >> text=clerk");
  await root.screenshot({ path: join(SHOTS, "06-accounts.png") });

  // Names and descriptions are shown as text, never run as markup.
  await goTo(root, "Groups");
  await root.fill("input[name=name]", "ops");
  await root.fill("input[name=description]", "<img src=x onerror=\"window.pwned=1\">");
  await root.click("text=Create group");
  await root.waitForSelector("td >> text=<img src=x onerror=\"window.pwned=1\">");
  assert.equal(await root.evaluate(() => window.pwned), undefined);
  assert.equal(await root.locator("main img").count(), 0);

  // The clerk, in a browser context of its own: lists accounts, and is refused groups with the
  // reason.
  const clerkContext = await browser.newContext();
  const clerk = await clerkContext.newPage();
  await signIn(clerk, "acme", "clerk", "clerk's long passphrase");
  await goTo(clerk, "Accounts");
  await clerk.waitForSelector("td >> text=clerk");
  await goTo(clerk, "Groups");
  await clerk.waitForSelector(".error");
  const refusal = await clerk.textContent(".error");
  assert.match(refusal, /acme\/clerk may not group:List on group\/\*/);
  assert.match(refusal, /no policy attached/);
  await clerk.screenshot({ path: join(SHOTS, "07-sub-account-refused.png") });

  // An API key for a business system: shown once, then used from outside the browser.
  await goTo(root, "API keys");
  await root.fill("input[name=name]", "erp");
  await root.click("text=Create API key");
  const token = (await root.textContent("[data-testid=api-key-token]")).trim();
  assert.match(token, /^ak_[0-9a-f]{32}\.[0-9a-f]{64}$/);
  await root.screenshot({ path: join(SHOTS, "08-api-key.png") });
  const listed = await api("GET", "/accounts", token);
  assert.equal(listed.status, 200);
  assert.ok(listed.body.items.some((a) => a.name === "clerk"));
  const outside = await api("GET", "/groups", token);
  assert.equal(outside.status, 403);
  assert.match(outside.body.message, /API key's scope/);

  // The audit log shows what happened, who did it and whether it worked.
  await goTo(root, "Audit log");
  await root.waitForSelector("td >> text=acme/root");
  assert.ok(await root.locator("td >> text=account:Create").count() >= 1);
  await root.screenshot({ path: join(SHOTS, "09-audit-log.png"), fullPage: true });

  await clerkContext.close();
  await rootContext.close();
});

test("an organization signs up in the console, follows the e-mailed link and signs in", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${base}/`);
  await page.click("text=Sign up with your e-mail address");
  await page.fill("input[name=email]", "ops@bank-z.example");
  await page.fill("input[name=tenant]", "bank-z");
  await page.fill("input[name=password]", "bank-z's root passphrase");
  await page.click("button[type=submit]");
  await page.waitForSelector(".notice");
  assert.match(await page.textContent(".notice"), /confirmation link was sent to ops@bank-z.example/);
  await page.screenshot({ path: join(SHOTS, "10-sign-up.png") });
  const deadline = Date.now() + 10_000;
  while (!mails.some((m) => m.includes("bank-z")) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const mail = mails.find((m) => m.includes("bank-z"));
  assert.ok(mail, "the confirmation mail arrived");
  const link = mail.match(/(http:\/\/\S+#\/verify\/rsv_[0-9a-f]+)/)[1];
  await page.goto(link);
  await page.waitForSelector(".notice");
  assert.match(await page.textContent(".notice"), /tenant bank-z created/);
  await page.screenshot({ path: join(SHOTS, "11-sign-up-confirmed.png") });
  await signIn(page, "bank-z", "root", "bank-z's root passphrase");
  assert.match(await page.textContent("main"), /Signed in as root of tenant bank-z/);
  await page.waitForSelector("text=Quotas");
  await context.close();
});

test("a root generates a key and signs with it, creates its CA, issues certificates, sees the one about to expire highlighted and revokes it", async () => {
  const operatorCredentials = JSON.parse(readFileSync(join(dir, "platform", "operator-credentials.json"), "utf8"));
  const operator = await api("POST", "/sessions", null, { name: operatorCredentials.name, password: operatorCredentials.password });
  const created = await api("POST", "/tenants", operator.body.token, { name: "globex" });
  assert.equal(created.status, 201);
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, "globex", "root", created.body.root.password);

  // A custodial key: generated in the keystore, listed with its address, signs on request.
  await goTo(page, "Keys");
  await page.fill("form:has(select[name=algorithm]) input[name=name]", "treasury");
  await page.selectOption("select[name=algorithm]", "secp256k1");
  await page.click("main button[type=submit]:has-text('Generate')");
  await page.waitForSelector("text=Key treasury (secp256k1) generated.");
  await page.waitForSelector("td >> text=treasury");
  const address = (await page.textContent("tr:has(td:text-is('treasury')) code")).trim();
  assert.match(address, /^0x[0-9a-fA-F]{40}$/);
  await page.fill("form:has(input[name=message]) input[name=key]", "treasury");
  await page.fill("input[name=message]", "48656c6c6f");
  await page.click("form:has(input[name=message]) button[type=submit]");
  await page.waitForSelector("main pre");
  assert.match((await page.textContent("main pre")).trim(), /^(0x)?[0-9a-f]{128,144}$/);
  // A key that does not exist is refused in plain words.
  await page.fill("form:has(input[name=message]) input[name=key]", "ghost");
  await page.click("form:has(input[name=message]) button[type=submit]");
  await page.waitForSelector("main .error");
  assert.match(await page.textContent("main .error"), /ghost/);
  await page.screenshot({ path: join(SHOTS, "12-keys.png"), fullPage: true });
  // The private half is never on the page (the import form's placeholder is only a header).
  assert.doesNotMatch(await page.content(), /PRIVATE KEY-----\s*[A-Za-z0-9+\/]{16}/);

  // The organization's CA, then two certificates for that key: one about to expire.
  await goTo(page, "Certificates");
  await page.waitForSelector("text=No certificate authority yet");
  await page.click("main button:has-text('Create CA')");
  await page.waitForSelector("text=Certificate authority of globex");
  await page.fill("input[name=cn]", "short-lived");
  await page.selectOption("select[name=role]", "client");
  await page.fill("main input[name=key]", "treasury");
  await page.fill("input[name=days]", "10");
  await page.click("main form button:has-text('Issue')");
  await page.waitForSelector("text=Certificate for short-lived issued");
  await page.fill("input[name=cn]", "long-lived");
  await page.fill("input[name=days]", "365");
  await page.click("main form button:has-text('Issue')");
  await page.waitForSelector("text=Certificate for long-lived issued");
  await page.waitForSelector("td >> text=long-lived");
  // The one about to expire is highlighted; the filter finds only it.
  assert.equal(await page.locator("tr.expiring:has(td:text-is('short-lived'))").count(), 1);
  assert.equal(await page.locator("tr.expiring:has(td:text-is('long-lived'))").count(), 0);
  await page.fill("input[name=expiring_within_days]", "30");
  await page.click("main button:has-text('Filter')");
  await page.waitForSelector("td >> text=long-lived", { state: "detached" });
  assert.equal(await page.locator("td:text-is('short-lived')").count(), 1);
  await page.screenshot({ path: join(SHOTS, "13-certificates-expiring.png"), fullPage: true });
  // Revoked: the row says so and offers nothing more; the API's inventory agrees.
  await page.click("tr:has(td:text-is('short-lived')) button:has-text('Revoke')");
  // A revoked certificate is no longer "about to expire": it leaves that list for the revoked one.
  await page.waitForSelector("td >> text=short-lived", { state: "detached" });
  await page.fill("input[name=expiring_within_days]", "");
  await page.selectOption("select[name=status]", "revoked");
  await page.click("main button:has-text('Filter')");
  await page.waitForSelector("tr.revoked:has(td:text-is('short-lived'))");
  assert.equal(await page.locator("tr:has(td:text-is('short-lived')) button:has-text('Revoke')").count(), 0);
  await page.screenshot({ path: join(SHOTS, "14-certificate-revoked.png"), fullPage: true });
  const session = await api("POST", "/sessions", null, { tenant: "globex", name: "root", password: created.body.root.password });
  const revoked = await api("GET", "/certificates?status=revoked", session.body.token);
  assert.deepEqual(revoked.body.items.map((c) => c.common_name), ["short-lived"]);
  await context.close();
});

test("a root creates a network in the console, follows its creation, sees its node ready, reads its log, stops and starts it", async () => {
  const operatorCredentials = JSON.parse(readFileSync(join(dir, "platform", "operator-credentials.json"), "utf8"));
  const operator = await api("POST", "/sessions", null, { name: operatorCredentials.name, password: operatorCredentials.password });
  const created = await api("POST", "/tenants", operator.body.token, { name: "initech" });
  assert.equal(created.status, 201);
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, "initech", "root", created.body.root.password);

  await goTo(page, "Networks");
  await page.waitForSelector("text=No network yet");
  // A mistake is explained before anything is created.
  await page.fill("main input[name=name]", "console-net");
  await page.selectOption("select[name=consensus]", "solo");
  await page.fill("input[name=validators]", "3");
  await page.click("main button:has-text('Create network')");
  await page.waitForSelector("main .error");
  assert.match(await page.textContent("main .error"), /solo network has exactly 1 validator/);
  await page.fill("input[name=validators]", "1");
  await page.fill("input[name=block_interval_ms]", "200");
  await page.click("main button:has-text('Create network')");
  await page.waitForSelector("text=Creating network console-net");
  await page.screenshot({ path: join(SHOTS, "15-network-creating.png"), fullPage: true });
  await page.waitForSelector("[data-testid=operation-status]:text-is('succeeded')", { timeout: 120_000 });
  await page.waitForSelector("td >> text=running");
  await page.screenshot({ path: join(SHOTS, "16-network-created.png"), fullPage: true });

  // The network's page: the node, as read from itself.
  await page.click("main a:text-is('console-net')");
  await page.waitForSelector('main h1:text-is("Network console-net")');
  const row = "tr[data-node='initech-validator0']";
  await page.waitForSelector(`${row} .badge.ok:text-is('ready')`, { timeout: 60_000 });
  await page.waitForFunction((sel) => Number(document.querySelector(`${sel} [data-testid=height]`)?.textContent || 0) >= 0 && document.querySelector(`${sel} [data-testid=height]`)?.textContent !== "", row);
  await page.click(`${row} button:has-text('Logs')`);
  await page.waitForSelector("[data-testid=node-log]");
  assert.match(await page.textContent("[data-testid=node-log]"), /channel/);
  await page.screenshot({ path: join(SHOTS, "17-network-node-log.png"), fullPage: true });

  // A node the organization runs itself: registered with a certificate from its CA, watched.
  const { publicKey } = generateKeyPairSync("ed25519");
  const session = await api("POST", "/sessions", null, { tenant: "initech", name: "root", password: created.body.root.password });
  const certificate = await api("POST", "/certificates", session.body.token, { common_name: "own-node", role: "node", public_key_pem: publicKey.export({ type: "spki", format: "pem" }) });
  assert.equal(certificate.status, 201, JSON.stringify(certificate.body));
  const ownUrl = await page.evaluate(async () => {
    const r = await fetch("/api/v1/networks/console-net", { headers: { authorization: `Bearer ${sessionStorage.getItem("token")}` } });
    return (await r.json()).nodes[0].rpc_url;
  });
  await page.click("summary:has-text('Register a node')");
  await page.fill("input[name=node_name]", "own-node");
  await page.fill("input[name=rpc_url]", ownUrl);
  await page.fill("textarea[name=certificate_pem]", "not a certificate");
  await page.click("main button:has-text('Register node')");
  await page.waitForSelector("main .error");
  assert.match(await page.textContent("main .error"), /not a PEM certificate/);
  await page.fill("textarea[name=certificate_pem]", certificate.body.certificate_pem);
  await page.click("main button:has-text('Register node')");
  await page.waitForSelector("text=Node own-node registered");
  await page.waitForSelector("tr[data-node='own-node'] .badge.ok:text-is('ready')", { timeout: 30_000 });
  await page.click("tr[data-node='own-node'] button:has-text('Remove')");
  await page.waitForSelector("tr[data-node='own-node']", { state: "detached" });

  // An identity enrolled on the network's channel from the Certificates page: a key, a
  // certificate from the organization's CA (made with the network), the admin key signs.
  await goTo(page, "Keys");
  await page.fill("form:has(select[name=algorithm]) input[name=name]", "teller");
  await page.selectOption("select[name=algorithm]", "secp256k1");
  await page.click("main button[type=submit]:has-text('Generate')");
  await page.waitForSelector("text=Key teller (secp256k1) generated.");
  await goTo(page, "Certificates");
  await page.fill("input[name=cn]", "teller");
  await page.fill("main form:has(input[name=cn]) input[name=key]", "teller");
  await page.click("main form button:has-text('Issue')");
  await page.waitForSelector("text=Certificate for teller issued");
  const serial = (await page.textContent("text=Certificate for teller issued")).match(/serial ([0-9a-f]+)/)[1];
  await page.fill("input[name=serial]", serial);
  await page.selectOption("select[name=channel]", "console-net/default");
  await page.click("main button:has-text('Enrol')");
  await page.waitForSelector("text=Enrolled on console-net/default", { timeout: 60_000 });
  await page.screenshot({ path: join(SHOTS, "17a-certificate-enrolled.png"), fullPage: true });
  await page.click("nav a:text-is('Networks')");
  await page.waitForSelector('main h1:text-is("Networks")');
  await page.click("main a:text-is('console-net')");
  await page.waitForSelector('main h1:text-is("Network console-net")');

  // Stopped from the console, the node says so; started again, it is ready again.
  await page.click(`${row} button:has-text('Stop')`);
  await page.waitForSelector(`${row} .badge:text-is('stopped')`);
  await page.screenshot({ path: join(SHOTS, "18-network-node-stopped.png"), fullPage: true });
  await page.click(`${row} button:has-text('Start')`);
  await page.waitForSelector(`${row} .badge.ok:text-is('ready')`, { timeout: 60_000 });
  assert.equal((await page.textContent(`${row} [data-testid=restarts]`)).trim(), "0");

  // A network to run on Kubernetes: this platform reaches no cluster (none runs on these
  // machines), so its creation stops at applying the objects and says why.
  await page.click("nav a:text-is('Networks')");
  await page.waitForSelector('main h1:text-is("Networks")');
  await page.fill("main input[name=name]", "on-cluster");
  await page.fill("input[name=validators]", "1");
  await page.click("summary:has-text('Kubernetes')");
  await page.fill("input[name=k8s_namespace]", "ledger");
  await page.fill("input[name=k8s_image]", "registry.example/ricaas:1.0");
  await page.click("main button:has-text('Create network')");
  await page.waitForSelector("text=Creating network on-cluster");
  await page.waitForSelector("p.error >> text=no Kubernetes cluster is reachable", { timeout: 120_000 });
  await page.screenshot({ path: join(SHOTS, "18b-kubernetes-network-no-cluster.png"), fullPage: true });
  await context.close();

  // The operator sees the channels the platform reaches, and registers one by hand.
  const operatorContext = await browser.newContext();
  const operatorPage = await operatorContext.newPage();
  await operatorPage.goto(`${base}/`);
  await operatorPage.fill("input[name=name]", operatorCredentials.name);
  await operatorPage.fill("input[name=password]", operatorCredentials.password);
  await operatorPage.click("button[type=submit]");
  await operatorPage.waitForSelector('main h1:text-is("Overview")');
  await goTo(operatorPage, "Channels");
  await operatorPage.waitForSelector("td >> text=console-net/default");
  await operatorPage.fill("input[name=network]", "partner");
  await operatorPage.fill("input[name=rpc_url]", "ftp://nowhere");
  await operatorPage.click("main button:has-text('Register')");
  await operatorPage.waitForSelector("main .error");
  assert.match(await operatorPage.textContent("main .error"), /http:\/\/ or https:\/\//);
  await operatorPage.fill("input[name=rpc_url]", "http://10.0.0.5:8545/channels/default");
  await operatorPage.click("main button:has-text('Register')");
  await operatorPage.waitForSelector("text=Channel partner/default registered.");
  await operatorPage.screenshot({ path: join(SHOTS, "18a-operator-channels.png"), fullPage: true });
  await operatorContext.close();
});

test("org1 creates a network, org2–org4 join, org5 is invited, accepts, is voted in by all four, runs an observer and a validator, and approves org1's channel — each from its own account", async () => {
  const operatorCredentials = JSON.parse(readFileSync(join(dir, "platform", "operator-credentials.json"), "utf8"));
  const operator = await api("POST", "/sessions", null, { name: operatorCredentials.name, password: operatorCredentials.password });
  const tokens = {};
  const roots = {};
  for (const name of ["org1", "org2", "org3", "org4", "org5"]) {
    const created = await api("POST", "/tenants", operator.body.token, { name });
    assert.equal(created.status, 201);
    roots[name] = created.body.root.password;
    tokens[name] = (await api("POST", "/sessions", null, { tenant: name, name: "root", password: roots[name] })).body.token;
  }
  // org2–org4 act through the API (as their own tenants); org1 and org5 in two browsers.
  const vote = async (org, id, channel) => {
    const voted = await api("POST", `/networks/alliance/proposals/${id}/votes`, tokens[org], channel ? { channel } : {});
    assert.equal(voted.status, 201, `${org}: ${JSON.stringify(voted.body)}`);
  };
  const org1Context = await browser.newContext();
  const org1 = await org1Context.newPage();
  await signIn(org1, "org1", "root", roots.org1);
  const org5Context = await browser.newContext();
  const org5 = await org5Context.newPage();
  await signIn(org5, "org5", "root", roots.org5);

  // org1 creates a network whose changes every member must approve.
  await goTo(org1, "Networks");
  await org1.fill("main input[name=name]", "alliance");
  await org1.fill("input[name=validators]", "1");
  await org1.fill("input[name=epoch_length]", "10");
  await org1.fill("input[name=block_interval_ms]", "200");
  await org1.fill("input[name=admins]", "ALL Admins");
  await org1.click("main button:has-text('Create network')");
  await org1.waitForSelector("[data-testid=operation-status]:text-is('succeeded')", { timeout: 120_000 });

  // org2, org3 and org4 are invited, accept and are voted in by every member before them.
  const members = ["org1"];
  for (const org of ["org2", "org3", "org4"]) {
    const invitation = await api("POST", "/networks/alliance/invitations", tokens.org1, { tenant: org });
    assert.equal(invitation.status, 201, JSON.stringify(invitation.body));
    assert.equal((await api("POST", `/invitations/${invitation.body.id}/accept`, tokens[org], {})).status, 200);
    const proposed = await api("POST", `/invitations/${invitation.body.id}/proposals`, tokens.org1, {});
    assert.equal(proposed.status, 201, JSON.stringify(proposed.body));
    for (const voter of members.slice(1)) await vote(voter, proposed.body.proposal_id);
    const deadline = Date.now() + 60_000;
    while ((await api("GET", "/networks/alliance", tokens[org])).status !== 200) {
      assert.ok(Date.now() < deadline, `${org} never joined`);
      await new Promise((r) => setTimeout(r, 250));
    }
    members.push(org);
  }

  // org1 invites org5 from the network's page.
  await org1.click("main a:text-is('alliance')");
  await org1.waitForSelector('main h1:text-is("Network alliance")');
  await org1.fill("input[name=tenant]", "org5");
  await org1.fill("main input[name=message]", "Join the alliance ledger");
  await org1.click("main button:has-text('Invite')");
  await org1.waitForSelector("text=Invitation sent to org5");

  // org5, in its own browser, finds it in its inbox and accepts.
  await goTo(org5, "Networks");
  await org5.waitForSelector("td >> text=from org1");
  assert.match(await org5.textContent("main"), /Join the alliance ledger/);
  await org5.screenshot({ path: join(SHOTS, "19-invitation-received.png"), fullPage: true });
  await org5.click("tr:has(td:text-is('from org1')) button:has-text('Accept')");
  await org5.waitForSelector("tr:has(td:text-is('from org1')) [data-testid=invitation-status]:text-is('accepted')");

  // org1 proposes adding org5 on chain (its admin key signs: its vote); its console shows who
  // has voted and who has not while org2, org3 and org4 vote from their accounts.
  await goTo(org1, "Networks");
  await org1.click("tr:has(td:text-is('to org5')) button:has-text('Propose on chain')");
  await org1.waitForSelector("tr:has(td:text-is('to org5')) [data-testid=invitation-status]:text-is('proposed')");
  await org1.click("main a:text-is('alliance')");
  await org1.waitForSelector('main h1:text-is("Network alliance")');
  const joinRow = "tr:has(td:text-is('add org')):has(td:text-is('org5'))";
  await org1.waitForSelector(`${joinRow} [data-testid=waiting]:text-is('org2, org3, org4')`, { timeout: 30_000 });
  const joinId = Number((await org1.getAttribute(joinRow, "data-proposal")));
  await vote("org2", joinId);
  await vote("org3", joinId);
  await org1.waitForSelector(`${joinRow} [data-testid=waiting]:text-is('org4')`, { timeout: 30_000 });
  assert.equal((await org1.textContent(`${joinRow} [data-testid=approvals]`)).trim(), "org1, org2, org3");
  await org1.screenshot({ path: join(SHOTS, "20-proposal-waiting-for-vote.png"), fullPage: true });
  await vote("org4", joinId);
  await org1.waitForSelector(`${joinRow} [data-testid=proposal-status]:text-is('applied')`, { timeout: 60_000 });
  assert.equal((await org1.textContent(`${joinRow} [data-testid=approvals]`)).trim(), "org1, org2, org3, org4");
  await goTo(org5, "Networks");
  await org5.waitForSelector("main a:text-is('alliance')", { timeout: 60_000 });
  await org5.click("main a:text-is('alliance')");
  await org5.waitForSelector('main h1:text-is("Network alliance")');
  await org5.waitForSelector("td >> text=org5", { timeout: 30_000 });
  await org5.screenshot({ path: join(SHOTS, "21-member-voted-in.png"), fullPage: true });

  // org5 adds an observer: its own admin key lists it on chain (no vote); it catches up from
  // genesis and follows. Then org5 removes it again (confirming the dialog).
  await org5.click("main button:has-text('Add an observer')");
  await org5.waitForSelector("text=Observer org5-observer0 runs", { timeout: 90_000 });
  await org5.waitForSelector("tr[data-node='org5-observer0'] .badge.ok:text-is('ready')", { timeout: 60_000 });
  await org5.waitForFunction(() => Number(document.querySelector("tr[data-node='org5-observer0'] [data-testid=height]")?.textContent || 0) > 10, null, { timeout: 90_000 });
  assert.match(await org5.textContent("tr[data-node='org5-observer0'] td:nth-child(3)"), /^observer/);
  await org5.screenshot({ path: join(SHOTS, "21b-observer-caught-up.png"), fullPage: true });
  org5.once("dialog", (dialog) => dialog.accept());
  await org5.click("tr[data-node='org5-observer0'] button:has-text('Remove')");
  await org5.waitForSelector("text=Observer org5-observer0 removed");
  await org5.waitForSelector("tr[data-node='org5-observer0']", { state: "detached" });

  // org5 adds a validator of its own: the platform runs it (it follows at once); every member
  // votes — org1 from its browser — and from the next epoch it is one of the validators.
  await org5.click("main button:has-text('Add a validator')");
  await org5.waitForSelector("text=Node org5-validator0 runs");
  await org5.waitForSelector("tr[data-node='org5-validator0']");
  const validatorRow = "tr:has(td:text-is('add validator'))";
  await org1.waitForSelector(`${validatorRow} button:has-text('Vote for it')`, { timeout: 30_000 });
  await org1.click(`${validatorRow} button:has-text('Vote for it')`);
  const validatorId = Number(await org1.getAttribute(validatorRow, "data-proposal"));
  for (const org of ["org2", "org3", "org4"]) await vote(org, validatorId);
  await org1.waitForSelector(`${validatorRow} [data-testid=proposal-status]:text-is('applied')`, { timeout: 60_000 });
  await org1.waitForSelector("tr[data-channel='default'] td:has-text('org1-validator0, org5-validator0')", { timeout: 30_000 });
  await org1.waitForSelector("tr[data-node='org5-validator0'] .badge.ok:text-is('ready')", { timeout: 60_000 });
  // It caught up with the chain (the network keeps going with both validators voting).
  await org1.waitForFunction(() => Number(document.querySelector("tr[data-node='org5-validator0'] [data-testid=height]")?.textContent || 0) > 10, null, { timeout: 90_000 });
  await org1.screenshot({ path: join(SHOTS, "21a-validator-voted-in.png"), fullPage: true });

  // A policy change is proposed from the console and voted in by every member, org5 from its
  // browser.
  await org1.selectOption("select[name=kind]", "set_policy");
  await org1.selectOption("select[name=policy]", "contract_deployers");
  await org1.fill("input[name=text]", "ANY Admins");
  await org1.click("main button:text-is('Propose')");
  await org1.waitForSelector("text=waiting for org2, org3, org4, org5");
  const policyRow = "tr:has(td:text-is('set policy'))";
  const policyId = Number(await org1.getAttribute(policyRow, "data-proposal"));
  for (const org of ["org2", "org3", "org4"]) await vote(org, policyId);
  await org5.waitForSelector(`${policyRow} button:has-text('Vote for it')`, { timeout: 30_000 });
  await org5.click(`${policyRow} button:has-text('Vote for it')`);
  await org5.waitForSelector(`${policyRow} [data-testid=proposal-status]:text-is('applied')`, { timeout: 60_000 });
  await org1.waitForSelector("text=deployers ANY Admins", { timeout: 30_000 });
  await org1.screenshot({ path: join(SHOTS, "22-policy-changed-by-vote.png"), fullPage: true });

  // org1 proposes a channel with org5; org5 approves it from its own browser; both
  // organizations' validators join it.
  await org1.fill("input[name=channel_name]", "letters");
  await org1.fill("input[name=members]", "org5");
  await org1.fill("input[name=channel_writers]", "ANY Admins");
  await org1.click("main button:text-is('Propose channel')");
  await org1.waitForSelector("text=waiting for org5 to approve it");
  const channelRow = "tr[data-channel='letters']";
  await org1.waitForSelector(`${channelRow} [data-testid=channel-status]:text-is('approving')`);
  assert.equal((await org1.textContent(`${channelRow} [data-testid=channel-waiting]`)).trim(), "org5");
  // org5 is still on the network's page: the channel shows up there.
  await org5.waitForSelector(`${channelRow} button:has-text('Approve')`, { timeout: 30_000 });
  await org5.screenshot({ path: join(SHOTS, "23-channel-waiting-for-approval.png"), fullPage: true });
  await org5.click(`${channelRow} button:has-text('Approve')`);
  // The approval joins both validators at once; one that cannot join yet (busy) is retried by
  // the platform, and the channel shows running once both have.
  await org5.waitForSelector("text=/approved by every member; its validators (joined it|are joining)/", { timeout: 60_000 });
  await org5.waitForSelector(`${channelRow} [data-testid=channel-status]:text-is('running')`, { timeout: 60_000 });
  assert.equal((await org5.textContent(`${channelRow} [data-testid=channel-approvals]`)).trim(), "org1, org5");
  await org1.waitForSelector(`${channelRow} [data-testid=channel-status]:text-is('running')`, { timeout: 30_000 });
  assert.match(await org1.textContent(`${channelRow}`), /org1-validator0, org5-validator0/);
  await org1.screenshot({ path: join(SHOTS, "24-channel-running.png"), fullPage: true });

  // A policy change of the new channel: proposed on that channel, voted from the other browser.
  await org1.waitForSelector("select[name=proposal_channel] option[value=letters]", { state: "attached", timeout: 30_000 });
  await org1.selectOption("select[name=proposal_channel]", "letters");
  await org1.selectOption("select[name=kind]", "set_policy");
  await org1.selectOption("select[name=policy]", "writers");
  await org1.fill("input[name=text]", "ANY Members");
  await org1.click("main button:text-is('Propose')");
  await org1.waitForSelector("text=waiting for org5.");
  await org5.waitForSelector("select[name=proposal_channel] option[value=letters]", { state: "attached", timeout: 30_000 });
  await org5.selectOption("select[name=proposal_channel]", "letters");
  const letterPolicy = "tr:has(td:text-is('set policy')):has(td:text-is('writers: ANY Members'))";
  await org5.waitForSelector(`${letterPolicy} button:has-text('Vote for it')`, { timeout: 30_000 });
  await org5.click(`${letterPolicy} button:has-text('Vote for it')`);
  await org5.waitForSelector(`${letterPolicy} [data-testid=proposal-status]:text-is('applied')`, { timeout: 60_000 });
  await org1.waitForSelector(`${channelRow} td:has-text('writers ANY Members')`, { timeout: 30_000 });
  await org1.screenshot({ path: join(SHOTS, "25-channel-policy-changed.png"), fullPage: true });

  // Contracts: org1 proposes a deployment from the console; a majority (MAJORITY Admins, the
  // default deploy policy) approves — org5 from its browser, org2 through the API — and the
  // platform creates it with org1's key. Then org5 proposes freezing it; org1 and org2 approve.
  await org1.selectOption("select[name=proposal_channel]", "");
  await org1.click("summary:text-is('Propose a deployment from bytecode and ABI')");
  await org1.fill("input[name=contract_name]", "counter");
  await org1.fill("input[name=compiler]", "hand-written");
  await org1.fill("textarea[name=bytecode]", "0x6012600c60003960126000f3600054600101806000556000526020" + "6000f3");
  await org1.fill("textarea[name=abi]", '[{"type":"fallback","stateMutability":"nonpayable"}]');
  await org1.click("main button:text-is('Propose deployment')");
  await org1.waitForSelector("text=to deploy counter made with your vote; waiting for org2, org3, org4, org5");
  const contractRow = "tr[data-contract='counter']";
  await org1.waitForSelector(`${contractRow} [data-testid=contract-state]:text-is('proposed')`);
  await org5.selectOption("select[name=proposal_channel]", "");
  const deployRow = "tr:has(td:text-is('contract deploy')):has(td:text-is('counter'))";
  await org5.waitForSelector(`${deployRow} button:has-text('Vote for it')`, { timeout: 30_000 });
  await org5.click(`${deployRow} button:has-text('Vote for it')`);
  await vote("org2", Number(await org5.getAttribute(deployRow, "data-proposal")));
  await org1.waitForSelector(`${contractRow} [data-testid=contract-state]:text-is('normal')`, { timeout: 60_000 });
  assert.match(await org1.textContent(`${contractRow} td:nth-child(2)`), /^0x[0-9a-fA-F]{40}$/);
  await org1.screenshot({ path: join(SHOTS, "28-contract-deployed.png"), fullPage: true });
  // Registering its address again, under another name, is refused in plain words.
  await org1.click("summary:text-is('Propose an upgrade or register an existing contract')");
  await org1.selectOption("select[name=contract_action]", "register");
  await org1.fill("input[name=change_contract]", "other-name");
  await org1.fill("input[name=contract_address]", (await org1.textContent(`${contractRow} td:nth-child(2)`)).trim());
  await org1.fill("textarea[name=change_abi]", "[]");
  await org1.click("main button:text-is('Propose change')");
  await org1.waitForSelector("main .error:has-text('already registered as contract counter')");
  await org5.waitForSelector(`${contractRow} button:has-text('Freeze')`, { timeout: 30_000 });
  await org5.click(`${contractRow} button:has-text('Freeze')`);
  await org5.waitForSelector("text=to freeze counter made with your vote");
  const freezeRow = "tr:has(td:text-is('contract freeze')):has(td:text-is('counter'))";
  await org1.waitForSelector(`${freezeRow} button:has-text('Vote for it')`, { timeout: 30_000 });
  await org1.click(`${freezeRow} button:has-text('Vote for it')`);
  await vote("org2", Number(await org1.getAttribute(freezeRow, "data-proposal")));
  await org1.waitForSelector(`${contractRow} [data-testid=contract-state]:text-is('frozen')`, { timeout: 60_000 });
  await org1.waitForSelector(`${contractRow} button:has-text('Unfreeze')`);
  await org1.screenshot({ path: join(SHOTS, "29-contract-frozen.png"), fullPage: true });

  // An ERC-20 written in the console's workspace: org1 uploads its source, a mistake is
  // marked on its line, fixed, compiled by the platform with the solc its pragma asks for, and
  // proposed with constructor arguments from a generated form. Then it is called through forms
  // the console generates from its ABI — and from outside, with curl and an API key.
  const source = readFileSync(join(ROOT, "tests/e2e/contracts/Token.sol"), "utf8");
  await org1.setInputFiles("[data-testid=workspace] input[type=file]", join(ROOT, "tests/e2e/contracts/Token.sol"));
  await org1.waitForSelector("[data-testid=workspace] .tab.active:has-text('Token.sol')");
  const lines = source.split("\n");
  const broken = lines.findIndex((l) => l.includes("_move(msg.sender, to, value);")) + 1;
  await org1.fill("[data-testid=editor]", source.replace("_move(msg.sender, to, value);", "_mvoe(msg.sender, to, value);"));
  await org1.click("[data-testid=workspace] button:text-is('Compile')");
  const firstError = "[data-testid=diagnostics] li[data-severity=error]";
  await org1.waitForSelector(firstError, { timeout: 120_000 });
  assert.match(await org1.textContent(firstError), new RegExp(`^Token\\.sol:${broken}:9 DeclarationError \\d+: Undeclared identifier`));
  await org1.waitForSelector(`[data-testid=workspace] .gutter .ln.sev-error[data-line='${broken}']`);
  await org1.waitForSelector(`[data-testid=workspace] .backdrop .line.sev-error[data-line='${broken}'] .squiggle`);
  assert.equal(await org1.textContent("[data-testid=workspace] .tab.active .badge"), "1");
  await org1.locator("[data-testid=workspace]").screenshot({ path: join(SHOTS, "30a-compile-error-marked-inline.png") });
  await org1.fill("[data-testid=editor]", source);
  // What compiles is also checked for security weaknesses: a withdrawal that pays before it
  // clears the balance is marked on its line, with why it matters and how to fix it.
  await org1.fill("[data-testid=workspace] input[name=file_name]", "contracts/Bank.sol");
  await org1.click("[data-testid=workspace] button:text-is('Add')");
  await org1.waitForSelector("[data-testid=workspace] .tab.active:has-text('contracts/Bank.sol')");
  await org1.fill("[data-testid=editor]", BANK);
  await org1.click("[data-testid=workspace] button:text-is('Compile')");
  const reentrancy = "[data-testid=security] li[data-rule=reentrancy-eth]";
  await org1.waitForSelector(reentrancy, { timeout: 120_000 });
  // The attack was run against the compiled contract: the finding carries its confirmation.
  assert.match(await org1.textContent(reentrancy), /^contracts\/Bank\.sol:13:\d+ high confirmed by a run Reentrancy: ether sent before the state is updated \(SWC-107\)/);
  assert.match(await org1.textContent(reentrancy), /an attacker contract that deposited 1 ether re-entered it and left with \d+ ether/);
  assert.match(await org1.textContent(`${reentrancy} .fix`), /nonReentrant/);
  await org1.waitForSelector("[data-testid=workspace] .gutter .ln.sev-security[data-line='13']");
  await org1.waitForSelector("[data-testid=workspace] .backdrop .line.sev-security[data-line='13'] .squiggle");
  await org1.locator("[data-testid=workspace]").screenshot({ path: join(SHOTS, "30a-2-security-finding-marked-inline.png") });
  // A finding is resolved with a reason, recorded with who gave it (what a security gate reads).
  await org1.fill(`${reentrancy} [data-testid=resolve] input[name=reason]`, "too short");
  await org1.click(`${reentrancy} [data-testid=resolve] button:text-is('Resolve')`);
  await org1.waitForSelector(`${reentrancy} .error:has-text('reason must be 10 to 2000 characters')`);
  await org1.fill(`${reentrancy} [data-testid=resolve] input[name=reason]`, "withdrawals are paused by the operator until this is fixed");
  await org1.click(`${reentrancy} [data-testid=resolve] button:text-is('Resolve')`);
  await org1.waitForSelector(`${reentrancy}[data-resolved=true] [data-testid=resolution]:has-text('withdrawals are paused by the operator')`);
  assert.match(await org1.textContent("[data-testid=security] [data-testid=report-findings] .notice"), /unresolved: 0 high/);
  await org1.locator("[data-testid=security]").screenshot({ path: join(SHOTS, "30a-3-security-finding-resolved.png") });
  await org1.click("[data-testid=workspace] button:text-is('Delete this file')");
  await org1.click("[data-testid=workspace] .tab[data-file='Token.sol']");
  await org1.waitForSelector("[data-testid=workspace] .tab.active:has-text('Token.sol')");
  await org1.click("[data-testid=workspace] button:text-is('Compile')");
  await org1.waitForSelector("[data-testid=workspace] .notice:has-text('Compiled with solc 0.8.')", { timeout: 120_000 });
  await org1.waitForSelector("[data-testid=security] .notice:has-text('Nothing found')");
  assert.equal(await org1.locator("[data-testid=workspace] .gutter .ln.sev-error").count(), 0);
  const deployCompiled = "[data-testid=deploy-compiled]";
  await org1.selectOption(`${deployCompiled} select[name=compiled_contract]`, { label: "Token (Token.sol)" });
  await org1.fill(`${deployCompiled} input[name=deploy_name]`, "token");
  await org1.fill(`${deployCompiled} input[name=ctor0]`, "Ledger Token");
  await org1.fill(`${deployCompiled} input[name=ctor1]`, "LT");
  await org1.fill(`${deployCompiled} input[name=ctor2]`, "1000000");
  await org1.locator("[data-testid=workspace]").screenshot({ path: join(SHOTS, "30b-compiled-ready-to-propose.png") });
  await org1.click(`${deployCompiled} button:text-is('Propose deployment')`);
  await org1.waitForSelector("text=to deploy token made with your vote");
  const tokenDeploy = "tr:has(td:text-is('contract deploy')):has(td:text-is('token'))";
  await org5.waitForSelector(`${tokenDeploy} button:has-text('Vote for it')`, { timeout: 30_000 });
  // Before voting, org5 reads the security report the deployment names.
  await org5.click(`${tokenDeploy} [data-testid=report-details] summary`);
  await org5.waitForSelector(`${tokenDeploy} [data-testid=report-details] .notice:has-text('Nothing found')`);
  assert.match(await org5.textContent(`${tokenDeploy} [data-testid=report-details]`), /stored by org1/);
  await org5.click(`${tokenDeploy} button:has-text('Vote for it')`);
  await vote("org2", Number(await org5.getAttribute(tokenDeploy, "data-proposal")));
  const tokenRow = "tr[data-contract='token']";
  await org1.waitForSelector(`${tokenRow} [data-testid=contract-state]:text-is('normal')`, { timeout: 60_000 });
  await org1.click(`${tokenRow} button:has-text('Call')`);
  const transferForm = "[data-testid=call-panel] form[data-function=transfer]";
  await org1.waitForSelector(transferForm);
  const holder = "0x00000000000000000000000000000000000000aa";
  await org1.fill(`${transferForm} input[name=arg0]`, holder);
  await org1.fill(`${transferForm} input[name=arg1]`, "250");
  await org1.click(`${transferForm} button:text-is('Invoke')`);
  await org1.waitForSelector(`${transferForm} + [data-testid=call-result]:has-text('succeeded')`, { timeout: 30_000 });
  assert.match(await org1.textContent(`${transferForm} + [data-testid=call-result]`), /"event": "Transfer"/);
  const balanceForm = "[data-testid=call-panel] form[data-function=balanceOf]";
  await org1.fill(`${balanceForm} input[name=arg0]`, holder);
  await org1.click(`${balanceForm} button:text-is('Query')`);
  await org1.waitForSelector(`${balanceForm} + [data-testid=call-result]:has-text('250')`);
  await org1.fill(`${transferForm} input[name=arg1]`, "-1");
  await org1.click(`${transferForm} button:text-is('Invoke')`);
  await org1.waitForSelector("main .error:has-text('argument 2 (value), a uint256')");
  await org1.screenshot({ path: join(SHOTS, "30-contract-called-from-its-form.png"), fullPage: true });
  const apiKey = await api("POST", "/api-keys", tokens.org1, { name: "erp", expires_in_days: 30,
    scope: { statements: [{ effect: "allow", actions: ["network:QueryContract"], resources: ["*"] }] } });
  assert.equal(apiKey.status, 201, JSON.stringify(apiKey.body));
  const curled = JSON.parse(execFileSync("curl", ["-s", "-X", "POST", `${base}/api/v1/networks/alliance/contracts/token/query/balanceOf`,
    "-H", `authorization: Bearer ${apiKey.body.token}`, "-H", "content-type: application/json", "-d", JSON.stringify({ args: [holder] })], { encoding: "utf8" }));
  assert.deepEqual(curled, ["250"]);
  // The contract's own page: its versions, and its API to try, with the curl line per function.
  await org1.click(`${tokenRow} a:text-is('token')`);
  await org1.waitForSelector("[data-testid=contract-page] tr[data-version='1']");
  assert.match(await org1.textContent("[data-testid=contract-page] tr[data-version='1']"), /solc 0\.8\.\d+\+commit/);
  assert.match(await org1.textContent("[data-testid=contract-page] tr[data-version='1'] [data-testid=version-security]"), /0 findings, 0 high unresolved/);
  assert.match(await org1.textContent("[data-testid=contract-page] form[data-function=transfer] + pre.example"), /\/api\/v1\/networks\/alliance\/contracts\/token\/invoke\/transfer\?confirm=true/);
  const pageBalance = "[data-testid=contract-page] form[data-function=balanceOf]";
  await org1.fill(`${pageBalance} input[name=arg0]`, holder);
  await org1.click(`${pageBalance} button:text-is('Query')`);
  await org1.waitForSelector(`${pageBalance} ~ [data-testid=call-result]:has-text('250')`);
  // The invocation made from the form earlier is listed with its outcome.
  await org1.waitForSelector("[data-testid=invocations] td:text-is('transfer') ~ td .badge:text-is('succeeded')");
  await org1.screenshot({ path: join(SHOTS, "30c-contract-page.png"), fullPage: true });
  await org1.goBack();
  await org1.waitForSelector(`${tokenRow} button:has-text('Call')`);
  await org1.click(`${tokenRow} button:has-text('Call')`);
  await org1.waitForSelector(transferForm);
  // Another organization proposes freezing it, org1 approves; org1's next call is refused.
  await org5.waitForSelector(`${tokenRow} button:has-text('Freeze')`, { timeout: 30_000 });
  await org5.click(`${tokenRow} button:has-text('Freeze')`);
  await org5.waitForSelector("text=to freeze token made with your vote");
  const tokenFreeze = "tr:has(td:text-is('contract freeze')):has(td:text-is('token'))";
  await org1.waitForSelector(`${tokenFreeze} button:has-text('Vote for it')`, { timeout: 30_000 });
  await org1.click(`${tokenFreeze} button:has-text('Vote for it')`);
  await vote("org2", Number(await org1.getAttribute(tokenFreeze, "data-proposal")));
  await org1.waitForSelector(`${tokenRow} [data-testid=contract-state]:text-is('frozen')`, { timeout: 60_000 });
  await org1.fill(`${transferForm} input[name=arg0]`, holder);
  await org1.fill(`${transferForm} input[name=arg1]`, "1");
  await org1.click(`${transferForm} button:text-is('Invoke')`);
  await org1.waitForSelector(`${transferForm} + [data-testid=call-result]:has-text('is frozen since height')`, { timeout: 30_000 });
  assert.match(await org1.textContent(`${transferForm} + [data-testid=call-result]`), /"status": "reverted"/);
  await org1.screenshot({ path: join(SHOTS, "31-frozen-contract-call-refused.png"), fullPage: true });
  await org1.selectOption("select[name=proposal_channel]", "letters");
  await org5.selectOption("select[name=proposal_channel]", "letters");

  // org5 takes its validator out of the network: refused while it validates letters (removing
  // it would cost letters a voter), in words that say what to do first.
  org5.once("dialog", (dialog) => dialog.accept());
  await org5.click("tr[data-node='org5-validator0'] button:has-text('Remove')");
  await org5.waitForSelector("main .error:has-text('also validates channel letters')");
  await org5.screenshot({ path: join(SHOTS, "26-validator-removal-refused.png"), fullPage: true });
  // It leaves letters first (org1 votes), then the network (every member votes); the platform
  // stops and deletes it once the next epoch runs without it.
  await org5.selectOption("select[name=kind]", "remove_validator");
  await org5.fill("input[name=node]", "org5-validator0");
  await org5.click("main button:text-is('Propose')");
  await org5.waitForSelector("text=waiting for org1.");
  const leaveRow = "tr:has(td:text-is('remove validator')):has(td:text-is('org5-validator0'))";
  await org1.waitForSelector(`${leaveRow} button:has-text('Vote for it')`, { timeout: 30_000 });
  await org1.click(`${leaveRow} button:has-text('Vote for it')`);
  await org1.waitForSelector(`${leaveRow} [data-testid=proposal-status]:text-is('applied')`, { timeout: 60_000 });
  await org5.waitForSelector(`${channelRow} td:text-is('org1-validator0')`, { timeout: 30_000 });
  org5.once("dialog", (dialog) => dialog.accept());
  await org5.click("tr[data-node='org5-validator0'] button:has-text('Remove')");
  await org5.waitForSelector("text=to remove validator org5-validator0 made with your vote; waiting for org1, org2, org3, org4");
  await org1.selectOption("select[name=proposal_channel]", "");
  await org1.waitForSelector(`${leaveRow} button:has-text('Vote for it')`, { timeout: 30_000 });
  const leaveId = Number(await org1.getAttribute(leaveRow, "data-proposal"));
  await org1.click(`${leaveRow} button:has-text('Vote for it')`);
  for (const org of ["org2", "org3", "org4"]) await vote(org, leaveId);
  await org5.waitForSelector("tr[data-node='org5-validator0'] [data-testid=leaves-at]", { timeout: 60_000 });
  await org5.screenshot({ path: join(SHOTS, "27-validator-leaving.png"), fullPage: true });
  await org5.waitForSelector("tr[data-node='org5-validator0']", { state: "detached", timeout: 90_000 });
  await org1.waitForSelector("tr[data-channel='default'] td:text-is('org1-validator0')", { timeout: 30_000 });
  await org1Context.close();
  await org5Context.close();
});
