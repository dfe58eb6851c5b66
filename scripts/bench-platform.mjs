// Load for the platform API: authenticated reads (GET /api/v1/accounts with a session token)
// and authenticated writes (POST /api/v1/groups, one row each) against a running platform, with
// a fixed number of concurrent requests (Node's fetch keeps the connections alive). Prints one
// JSON line: requests, seconds, requests per second, p50 and p99 latency in ms, and any non-2xx
// answers.
// Usage: node scripts/bench-platform.mjs <base url> <operator password> <read|write> <requests> <concurrency>
const [base, operatorPassword, mode, total, concurrency] = process.argv.slice(2);
const requests = Number(total);
const connections = Number(concurrency);

async function call(method, path, token, body) {
  const response = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

const operator = await call("POST", "/sessions", null, { name: "admin", password: operatorPassword });
const tenantName = `bench-${Date.now().toString(36)}`;
const tenant = await call("POST", "/tenants", operator.body.token, { name: tenantName });
const root = await call("POST", "/sessions", null, { tenant: tenantName, name: "root", password: tenant.body.root.password });
const token = root.body.token;
for (let i = 0; i < 50; i++) await call("POST", "/accounts", token, { name: `seed-${i}`, password: "a seed account password" });

const latencies = [];
let failures = 0;
let next = 0;
const started = performance.now();
await Promise.all(Array.from({ length: connections }, async () => {
  while (next < requests) {
    const i = next++;
    const t0 = performance.now();
    const result = mode === "write"
      ? await call("POST", "/groups", token, { name: `g-${i}`, description: "bench" })
      : await call("GET", "/accounts?limit=20", token);
    latencies.push(performance.now() - t0);
    if (result.status >= 300) failures++;
  }
}));
const seconds = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
console.log(JSON.stringify({ mode, requests, seconds: +seconds.toFixed(2), rps: Math.round(requests / seconds), p50_ms: +pct(0.5).toFixed(1), p99_ms: +pct(0.99).toFixed(1), failures }));
