// The RiCaaS console: a single page over the platform's REST API (/api/v1). Everything shown
// is put on the page as text (never parsed as HTML), so names holding markup stay harmless.
"use strict";

const API = "/api/v1";
const store = window.sessionStorage;
const state = { me: null };

// ---- DOM helpers -------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "class") node.className = value;
    else if (key in node && key !== "list") node[key] = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function when(ms) {
  return ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC" : "";
}

function errorBox(message) {
  return el("div", { class: "error", role: "alert" }, message);
}

function noticeBox(message) {
  return el("div", { class: "notice", role: "status" }, message);
}

// ---- API client -------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `the platform answered ${status}`);
    this.status = status;
    this.code = body && body.code;
    this.details = body && body.details;
  }
}

function askCode(reason) {
  return new Promise((resolve) => {
    const input = el("input", { name: "otp", inputmode: "numeric", autocomplete: "one-time-code", placeholder: "123456" });
    const close = (value) => { overlay.remove(); resolve(value); };
    const overlay = el("div", { class: "modal" },
      el("div", { class: "card" },
        el("h2", {}, "One-time code needed"),
        el("p", {}, reason),
        el("form", { class: "inline", onsubmit: (e) => { e.preventDefault(); close(input.value.trim()); } },
          el("label", {}, "Code from your authenticator", input),
          el("button", { type: "submit" }, "Continue"),
          el("button", { type: "button", class: "secondary", onclick: () => close(null) }, "Cancel"))));
    document.body.append(overlay);
    input.focus();
  });
}

async function refreshSession() {
  const refresh = store.getItem("refresh");
  if (!refresh) return false;
  const response = await fetch(`${API}/sessions/refresh`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ refresh_token: refresh }),
  });
  if (!response.ok) return false;
  const session = await response.json();
  store.setItem("token", session.token);
  store.setItem("refresh", session.refresh_token);
  return true;
}

async function api(method, path, body, options = {}) {
  const headers = { "content-type": "application/json" };
  const token = store.getItem("token");
  if (token) headers.authorization = `Bearer ${token}`;
  if (options.otp) headers["x-ricaas-otp"] = options.otp;
  const response = await fetch(path.startsWith("/") ? path : `${API}/${path}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (options.raw && response.ok) return response;
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { message: text }; }
  if (response.status === 401 && token && !options.retried && await refreshSession()) {
    return api(method, path, body, { ...options, retried: true });
  }
  if (response.status === 401 && token) {
    signOutLocally();
    throw new ApiError(401, data);
  }
  if (response.status === 403 && data && data.code === "mfa_required" && !options.otp
      && String(data.message).includes("X-RiCaaS-OTP")) {
    const code = await askCode(data.message);
    if (code) return api(method, path, body, { ...options, otp: code });
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

async function download(path, filename) {
  const response = await api("GET", path, undefined, { raw: true });
  const blob = await response.blob();
  const link = el("a", { href: URL.createObjectURL(blob), download: filename });
  document.body.append(link);
  link.click();
  link.remove();
}

function signOutLocally() {
  store.removeItem("token");
  store.removeItem("refresh");
  state.me = null;
  if (location.hash !== "#/signin") location.hash = "#/signin";
  else render();
}

// ---- shared widgets ---------------------------------------------------------------------

/// Runs `action` for a form; shows its error in plain words, or `done`'s result.
function submitter(output, action) {
  return async (event) => {
    event.preventDefault();
    const button = event.target.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    output.replaceChildren();
    try {
      const shown = await action(new FormData(event.target), event.target);
      if (shown) output.append(shown);
    } catch (error) {
      output.append(errorBox(error.message));
    } finally {
      if (button) button.disabled = false;
    }
  };
}

/// A table over a paged list endpoint, with a text filter and next/previous pages.
function pagedTable({ path, columns, rowClass, filters = [], limit = 20, empty = "Nothing here yet." }) {
  const wrap = el("div", {});
  const output = el("div", {});
  const cursors = [""];
  const values = {};
  const filterInputs = filters.map((f) => {
    const input = f.options
      ? el("select", { name: f.name }, f.options.map((o) => el("option", { value: o }, o || "any")))
      : el("input", { name: f.name, placeholder: f.placeholder || "", type: f.type || "text" });
    return el("label", {}, f.label, input);
  });
  const form = el("form", { class: "toolbar", onsubmit: (e) => { e.preventDefault(); for (const [k, v] of new FormData(form)) values[k] = v; cursors.length = 1; load(); } },
    filterInputs, filters.length ? el("button", { type: "submit", class: "secondary" }, "Filter") : null);
  const body = el("tbody", {});
  const pageInfo = el("span", { class: "muted" });
  const prev = el("button", { class: "secondary", type: "button", onclick: () => { cursors.pop(); cursors.pop(); load(); } }, "Previous");
  const next = el("button", { class: "secondary", type: "button" }, "Next");
  async function load() {
    const params = new URLSearchParams({ limit: String(limit) });
    const after = cursors[cursors.length - 1];
    if (after) params.set("after", after);
    for (const [k, v] of Object.entries(values)) if (v) params.set(k, v);
    output.replaceChildren();
    try {
      const page = await api("GET", `${path}?${params}`);
      body.replaceChildren(...(page.items.length ? page.items.map((item) =>
        el("tr", { class: rowClass ? rowClass(item) : "" }, columns.map((c) => el("td", {}, c.cell(item, load)))))
        : [el("tr", {}, el("td", { colSpan: columns.length, class: "muted" }, empty))]));
      prev.disabled = cursors.length <= 1;
      next.disabled = !page.next;
      next.onclick = () => { cursors.push(page.next); load(); };
      pageInfo.textContent = `page ${cursors.length}`;
    } catch (error) {
      body.replaceChildren();
      output.append(errorBox(error.message));
    }
  }
  wrap.append(form, output, el("table", {}, el("thead", {}, el("tr", {}, columns.map((c) => el("th", {}, c.title)))), body),
    el("div", { class: "pager" }, prev, next, pageInfo));
  wrap.reload = load;
  load();
  return wrap;
}

function button(label, onclick, kind) {
  return el("button", { type: "button", class: kind || "secondary", onclick }, label);
}

/// A button running `action`, reporting into `output`.
function actionButton(label, output, action, kind) {
  return button(label, async (e) => {
    e.target.disabled = true;
    output.replaceChildren();
    try {
      const shown = await action();
      if (shown) output.append(shown);
    } catch (error) {
      output.append(errorBox(error.message));
    } finally {
      e.target.disabled = false;
    }
  }, kind);
}

/// A stored security report: each finding placed, with why it matters, how to fix it and its
/// resolution if it has one; `resolvable` adds a form to resolve an open finding with a reason
/// (the tenant's own reports only). `rules` explains rule ids when the caller has them.
function reportFindings(report, { resolvable = false, rules = [], onResolved, jump } = {}) {
  const rule = (id) => rules.find((r) => r.id === id) || {};
  const open = report.unresolved;
  const summary = report.findings.length
    ? (open.high ? errorBox : noticeBox)(`${report.findings.length} finding${report.findings.length === 1 ? "" : "s"}; unresolved: ${open.high} high, ${open.medium} medium, ${open.low} low.`)
    : noticeBox("Nothing found (reentrancy, unchecked calls, access control, arithmetic, randomness, timestamps, denial of service, front running and storage pointers were checked).");
  return el("div", { "data-testid": "report-findings" }, summary,
    report.findings.length ? el("ul", { class: "findings" }, ...report.findings.map((f) => {
      const output = el("div", {});
      const place = `${f.file}:${f.line}:${f.column}`;
      const resolveForm = resolvable && !f.resolution
        ? el("form", { class: "inline", "data-testid": "resolve", onsubmit: submitter(output, async (data) => {
          const updated = await api("POST", `security-reports/${report.report_hash}/resolutions`, { finding: f.id, reason: data.get("reason") });
          if (onResolved) onResolved(updated);
          return null;
        }) }, el("label", {}, "Resolve without a code change: why it does not apply, or why the risk is accepted",
          el("input", { name: "reason", required: true, size: 60 })), el("button", { type: "submit", class: "secondary" }, "Resolve"))
        : null;
      return el("li", { class: `severity-${f.severity}`, "data-rule": f.rule, "data-severity": f.severity, "data-resolved": f.resolution ? "true" : "false" },
        jump ? el("a", { href: "#", onclick: (e) => { e.preventDefault(); jump(f); } }, place) : el("span", { class: "mono" }, place),
        " ", el("span", { class: f.resolution ? "badge ok" : f.severity === "high" ? "badge bad" : "badge" }, f.resolution ? `${f.severity}, resolved` : f.severity), " ",
        f.confirmed ? el("span", { class: "badge bad", title: "Shown by running the compiled contract, not only by reading it" }, "confirmed by a run") : null, f.confirmed ? " " : null,
        el("strong", {}, rule(f.rule).title || f.rule), `${f.swc.length ? ` (${f.swc.join(", ")})` : ""}: ${f.message}`,
        (f.related || []).length ? el("p", { class: "related", "data-testid": "related" }, "Also involved: ",
          ...f.related.flatMap((r, i) => [i ? "; " : "",
            jump ? el("a", { href: "#", onclick: (e) => { e.preventDefault(); jump({ ...f, line: r.line, column: r.column }); } }, `line ${r.line}`) : `line ${r.line}`,
            ` (${r.message})`])) : null,
        rule(f.rule).explanation ? el("p", { class: "why" }, `Why: ${rule(f.rule).explanation}`) : null,
        rule(f.rule).fix ? el("p", { class: "fix" }, `Fix: ${rule(f.rule).fix}`) : null,
        f.resolution ? el("p", { class: "resolution", "data-testid": "resolution" }, `Resolved by ${f.resolution.account} (${when(f.resolution.created_at)}): ${f.resolution.reason}`) : null,
        resolveForm, output);
    })) : "",
    report.incomplete.length ? el("p", { class: "muted" }, `Not analysed: ${report.incomplete.join("; ")}`) : null,
    el("p", { class: "muted" }, `Report ${report.report_hash}, stored by ${report.tenant}.`));
}

/// A version's security report as members read it before voting, loaded when opened.
function reportDetails(network, hash, label = "Security report") {
  const body = el("div", {}, el("p", { class: "muted" }, "Loading…"));
  let loaded = false;
  const details = el("details", { "data-testid": "report-details" }, el("summary", {}, label), body);
  details.addEventListener("toggle", async () => {
    if (!details.open || loaded) return;
    loaded = true;
    try {
      const report = await api("GET", `networks/${encodeURIComponent(network)}/security-reports/${hash}`);
      body.replaceChildren(reportFindings(report));
    } catch (error) {
      body.replaceChildren(errorBox(error.message));
    }
  });
  return details;
}

const ZERO_HASH = `0x${"0".repeat(64)}`;

function parseJson(text, what) {
  try { return JSON.parse(text); } catch (error) { throw new Error(`${what} is not valid JSON: ${error.message}`); }
}

const POLICY_TEMPLATE = JSON.stringify({ statements: [{ effect: "allow", actions: ["account:List", "account:Get"], resources: ["account/*"] }] }, null, 2);

// ---- pages ------------------------------------------------------------------------------

function signInPage() {
  const output = el("div", {});
  const otp = el("label", { hidden: true }, "One-time code", el("input", { name: "otp", inputmode: "numeric", autocomplete: "one-time-code" }));
  const form = el("form", { onsubmit: submitter(output, async (data) => {
    const request = { tenant: data.get("tenant") || null, name: data.get("name"), password: data.get("password") };
    if (data.get("otp")) request.otp = data.get("otp");
    try {
      const session = await api("POST", "sessions", request);
      store.setItem("token", session.token);
      store.setItem("refresh", session.refresh_token);
      location.hash = "#/";
    } catch (error) {
      if (String(error.message).includes("one-time code")) otp.hidden = false;
      throw error;
    }
  }) },
  el("label", {}, "Tenant (leave empty for the platform operator)", el("input", { name: "tenant", autocomplete: "organization" })),
  el("label", {}, "Account", el("input", { name: "name", required: true, autocomplete: "username", value: "root" })),
  el("label", {}, "Password", el("input", { name: "password", type: "password", required: true, autocomplete: "current-password" })),
  otp,
  el("button", { type: "submit" }, "Sign in"));
  return el("div", { class: "login card" }, el("h1", {}, "RiCaaS console"), form, output,
    el("p", { class: "muted" }, "A new organization? ", el("a", { href: "#/signup" }, "Sign up with your e-mail address")));
}

function signUpPage() {
  const output = el("div", {});
  const form = el("form", { onsubmit: submitter(output, async (data, formElement) => {
    const accepted = await api("POST", "signups", { email: data.get("email"), tenant: data.get("tenant"), password: data.get("password") });
    formElement.reset();
    return noticeBox(accepted.message);
  }) },
  el("label", {}, "Your e-mail address", el("input", { name: "email", type: "email", required: true, autocomplete: "email" })),
  el("label", {}, "Tenant name (lowercase letters, digits, hyphens)", el("input", { name: "tenant", required: true, pattern: "[a-z0-9][a-z0-9-]{1,62}" })),
  el("label", {}, "Password for its root account (12+ characters)", el("input", { name: "password", type: "password", required: true, minLength: 12, autocomplete: "new-password" })),
  el("button", { type: "submit" }, "Send me the link"));
  return el("div", { class: "login card" }, el("h1", {}, "Sign up"), form, output,
    el("p", { class: "muted" }, el("a", { href: "#/signin" }, "Back to sign-in")));
}

function verifyPage(token) {
  const output = el("div", {}, el("p", { class: "muted" }, "Creating your tenant…"));
  api("POST", "signups/verify", { token })
    .then((verified) => {
      // The link's token has done its work: keep it out of the browser's history.
      history.replaceState(null, "", "#/signin");
      output.replaceChildren(noticeBox(verified.message), el("p", {}, el("a", { href: "#/signin", onclick: () => render() }, "Sign in")));
    })
    .catch((error) => output.replaceChildren(errorBox(error.message)));
  return el("div", { class: "login card" }, el("h1", {}, "Confirm sign-up"), output);
}

function overviewPage() {
  const me = state.me;
  const page = el("div", {}, el("h1", {}, "Overview"),
    el("div", { class: "card" },
      el("p", {}, "Signed in as ", el("strong", {}, me.name), me.tenant_name ? ` of tenant ${me.tenant_name}` : " (platform operator)"),
      el("p", {}, "Second factor: ", me.mfa_enabled ? el("span", { class: "badge ok" }, "on") : el("span", { class: "badge warn" }, "off — turn it on under Security"))));
  if (me.kind !== "operator") {
    const usage = el("div", { class: "card" }, el("p", { class: "muted" }, "Loading quotas…"));
    api("GET", "tenant/usage").then((u) => usage.replaceChildren(el("h2", {}, "Quotas"),
      el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "Resource"), el("th", {}, "Used"), el("th", {}, "Limit"))),
        el("tbody", {}, [["Sub-accounts", "accounts"], ["Keys", "keys"], ["API keys", "api_keys"]].map(([label, key]) =>
          el("tr", { class: u.used[key] >= u.limits[key] ? "expired" : "" }, el("td", {}, label), el("td", {}, String(u.used[key])), el("td", {}, String(u.limits[key]))))))))
      .catch((e) => usage.replaceChildren(errorBox(e.message)));
    page.append(usage);
  }
  if (me.kind === "operator") {
    const output = el("div", {});
    const list = el("tbody", {});
    const load = async () => {
      const tenants = await api("GET", "tenants");
      list.replaceChildren(...tenants.map((t) => el("tr", {}, el("td", {}, t.name), el("td", {}, t.id), el("td", {}, when(t.created_at)))));
    };
    page.append(el("h2", {}, "Tenants"),
      el("form", { class: "inline", onsubmit: submitter(output, async (data) => {
        const created = await api("POST", "tenants", { name: data.get("name") });
        await load();
        return el("div", {}, noticeBox(`Tenant ${created.tenant.name} created. Hand its root these credentials once:`),
          el("div", { class: "secret" }, `tenant ${created.root.tenant}, account root, password ${created.root.password}`));
      }) }, el("label", {}, "New tenant", el("input", { name: "name", required: true })), el("button", { type: "submit" }, "Create tenant")),
      output, el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "Name"), el("th", {}, "Id"), el("th", {}, "Created"))), list),
      el("h2", {}, "Quotas"),
      el("form", { class: "inline", onsubmit: submitter(output, async (data) => {
        const usage = await api("PUT", `tenants/${encodeURIComponent(data.get("tenant"))}/quotas`, {
          accounts: Number(data.get("accounts")), keys: Number(data.get("keys")), api_keys: Number(data.get("api_keys")),
        });
        return noticeBox(`Quotas of ${data.get("tenant")}: ${usage.limits.accounts} sub-accounts (${usage.used.accounts} used), ${usage.limits.keys} keys (${usage.used.keys} used), ${usage.limits.api_keys} API keys (${usage.used.api_keys} used).`);
      }) }, el("label", {}, "Tenant", el("input", { name: "tenant", required: true })),
      el("label", {}, "Sub-accounts", el("input", { name: "accounts", type: "number", min: 0, value: 100 })),
      el("label", {}, "Keys", el("input", { name: "keys", type: "number", min: 0, value: 100 })),
      el("label", {}, "API keys", el("input", { name: "api_keys", type: "number", min: 0, value: 50 })),
      el("button", { type: "submit" }, "Set quotas")));
    load().catch((e) => output.append(errorBox(e.message)));
  }
  return page;
}

function accountsPage() {
  const output = el("div", {});
  const table = pagedTable({
    path: "accounts",
    filters: [{ name: "q", label: "Name contains" }],
    rowClass: (a) => (a.disabled_at ? "revoked" : ""),
    columns: [
      { title: "Name", cell: (a) => el("a", { href: `#/accounts/${encodeURIComponent(a.name)}` }, a.name) },
      { title: "Kind", cell: (a) => a.kind },
      { title: "Status", cell: (a) => (a.disabled_at ? el("span", { class: "badge bad" }, "disabled") : el("span", { class: "badge ok" }, "active")) },
      { title: "Created", cell: (a) => when(a.created_at) },
    ],
  });
  return el("div", {}, el("h1", {}, "Accounts"),
    el("div", { class: "card" }, el("h2", {}, "New sub-account"),
      el("form", { class: "inline", onsubmit: submitter(output, async (data) => {
        const request = { name: data.get("name") };
        if (data.get("password")) request.password = data.get("password");
        const created = await api("POST", "accounts", request);
        if (data.get("policy")) await api("PUT", `accounts/${encodeURIComponent(created.account.name)}/policies/${encodeURIComponent(data.get("policy"))}`);
        table.reload();
        return created.password
          ? el("div", {}, noticeBox(`Account ${created.account.name} created. Its generated password, shown once:`), el("div", { class: "secret" }, created.password))
          : noticeBox(`Account ${created.account.name} created.`);
      }) },
      el("label", {}, "Name", el("input", { name: "name", required: true })),
      el("label", {}, "Password (empty: generate one)", el("input", { name: "password", type: "password", autocomplete: "new-password" })),
      el("label", {}, "Attach policy (optional)", el("input", { name: "policy", placeholder: "policy name" })),
      el("button", { type: "submit" }, "Create")), output),
    table);
}

async function accountPage(name) {
  const output = el("div", {});
  const page = el("div", {}, el("h1", {}, `Account ${name}`), output);
  const path = `accounts/${encodeURIComponent(name)}`;
  const detail = await api("GET", path);
  const reload = () => render();
  page.append(el("div", { class: "card" },
    el("p", {}, `Kind: ${detail.kind}. Created ${when(detail.created_at)}. `, detail.disabled_at ? el("span", { class: "badge bad" }, "disabled") : el("span", { class: "badge ok" }, "active")),
    el("p", {}, "Groups: ", detail.groups.join(", ") || "none"),
    el("p", {}, "Policies: ", detail.policies.length ? detail.policies.map((p) => el("span", {}, el("code", {}, p), " ",
      actionButton("Detach", output, async () => { await api("DELETE", `${path}/policies/${encodeURIComponent(p)}`); reload(); }, "danger"), " ")) : "none"),
    detail.kind === "sub" ? el("div", { class: "toolbar" },
      detail.disabled_at ? actionButton("Enable", output, async () => { await api("POST", `${path}/enable`); reload(); })
        : actionButton("Disable", output, async () => { await api("POST", `${path}/disable`); reload(); }, "danger"),
      actionButton("Reset password", output, async () => {
        const reset = await api("POST", `${path}/password-reset`);
        return el("div", {}, noticeBox("New password, shown once:"), el("div", { class: "secret" }, reset.password));
      }),
      actionButton("Reset second factor", output, async () => { await api("POST", `${path}/mfa-reset`); return noticeBox("Second factor cleared: the account enrols again."); }),
      actionButton("Unlock sign-in", output, async () => { await api("POST", `${path}/unlock`); return noticeBox("Sign-in unlocked."); })) : null,
    detail.kind === "sub" ? el("form", { class: "inline", onsubmit: submitter(output, async (data) => {
      await api("PUT", `${path}/policies/${encodeURIComponent(data.get("policy"))}`);
      reload();
    }) }, el("label", {}, "Attach policy", el("input", { name: "policy", required: true })), el("button", { type: "submit" }, "Attach")) : null));
  return page;
}

function groupsPage() {
  const output = el("div", {});
  const table = pagedTable({
    path: "groups",
    filters: [{ name: "q", label: "Name contains" }],
    columns: [
      { title: "Name", cell: (g) => el("a", { href: `#/groups/${encodeURIComponent(g.name)}` }, g.name) },
      { title: "Description", cell: (g) => g.description },
      { title: "Created", cell: (g) => when(g.created_at) },
    ],
  });
  return el("div", {}, el("h1", {}, "Groups"),
    el("div", { class: "card" }, el("form", { class: "inline", onsubmit: submitter(output, async (data) => {
      const group = await api("POST", "groups", { name: data.get("name"), description: data.get("description") });
      table.reload();
      return noticeBox(`Group ${group.name} created.`);
    }) }, el("label", {}, "Name", el("input", { name: "name", required: true })),
    el("label", {}, "Description", el("input", { name: "description" })), el("button", { type: "submit" }, "Create group")), output),
    table);
}

async function groupPage(name) {
  const output = el("div", {});
  const path = `groups/${encodeURIComponent(name)}`;
  const group = await api("GET", path);
  const reload = () => render();
  return el("div", {}, el("h1", {}, `Group ${name}`), output,
    el("div", { class: "card" }, el("p", {}, group.description || el("span", { class: "muted" }, "No description.")),
      el("h2", {}, "Members"),
      el("ul", {}, group.members.map((m) => el("li", {}, m, " ", actionButton("Remove", output, async () => { await api("DELETE", `${path}/members/${encodeURIComponent(m)}`); reload(); }, "danger")))),
      el("form", { class: "inline", onsubmit: submitter(output, async (data) => { await api("PUT", `${path}/members/${encodeURIComponent(data.get("account"))}`); reload(); }) },
        el("label", {}, "Add account", el("input", { name: "account", required: true })), el("button", { type: "submit" }, "Add")),
      el("h2", {}, "Policies"),
      el("ul", {}, group.policies.map((p) => el("li", {}, el("code", {}, p), " ", actionButton("Detach", output, async () => { await api("DELETE", `${path}/policies/${encodeURIComponent(p)}`); reload(); }, "danger")))),
      el("form", { class: "inline", onsubmit: submitter(output, async (data) => { await api("PUT", `${path}/policies/${encodeURIComponent(data.get("policy"))}`); reload(); }) },
        el("label", {}, "Attach policy", el("input", { name: "policy", required: true })), el("button", { type: "submit" }, "Attach")),
      el("p", {}, actionButton("Delete group", output, async () => { await api("DELETE", path); location.hash = "#/groups"; }, "danger"))));
}

function policyEditor(initial, onSave, output) {
  const textarea = el("textarea", { name: "document", spellcheck: false, value: initial });
  const check = el("div", {});
  const validate = () => {
    check.replaceChildren();
    try {
      const doc = JSON.parse(textarea.value);
      if (!Array.isArray(doc.statements)) throw new Error("a policy is {\"statements\": [...]}");
      check.append(el("span", { class: "badge ok" }, "valid JSON"));
    } catch (error) {
      check.append(el("span", { class: "badge bad" }, error.message));
    }
  };
  textarea.addEventListener("input", validate);
  validate();
  return el("form", { onsubmit: submitter(output, async (data) => onSave(data, parseJson(textarea.value, "The policy document"))) }, textarea, check);
}

function policiesPage() {
  const output = el("div", {});
  const catalog = el("details", {}, el("summary", {}, "Actions a policy can name"));
  api("GET", "actions").then((c) => catalog.append(el("table", {}, el("tbody", {}, c.actions.map((a) => el("tr", {}, el("td", {}, el("code", {}, a.name)), el("td", {}, a.description))))),
    el("p", { class: "muted" }, "Resources: ", c.resource_kinds.map((k) => `${k}/…`).join(", "), "; wildcards * and ?."))).catch(() => {});
  const table = pagedTable({
    path: "policies",
    filters: [{ name: "q", label: "Name contains" }],
    columns: [
      { title: "Name", cell: (p) => el("a", { href: `#/policies/${encodeURIComponent(p.name)}` }, p.name) },
      { title: "Description", cell: (p) => p.description },
      { title: "Statements", cell: (p) => String(p.document.statements.length) },
      { title: "Updated", cell: (p) => when(p.updated_at) },
    ],
  });
  const editor = policyEditor(POLICY_TEMPLATE, async (data, document) => {
    const created = await api("POST", "policies", { name: data.get("name"), description: data.get("description") || "", document });
    table.reload();
    return noticeBox(`Policy ${created.name} created.`);
  }, output);
  editor.prepend(el("div", { class: "toolbar" }, el("label", {}, "Name", el("input", { name: "name", required: true })), el("label", {}, "Description", el("input", { name: "description" }))));
  editor.append(el("button", { type: "submit" }, "Create policy"));
  return el("div", {}, el("h1", {}, "Policies"), el("div", { class: "card" }, el("h2", {}, "New policy"), editor, output, catalog), table);
}

async function policyPage(name) {
  const output = el("div", {});
  const path = `policies/${encodeURIComponent(name)}`;
  const policy = await api("GET", path);
  const editor = policyEditor(JSON.stringify(policy.document, null, 2), async (data, document) => {
    await api("PUT", path, { document, description: data.get("description") });
    return noticeBox("Saved: it applies from the next request on.");
  }, output);
  editor.prepend(el("label", {}, "Description", el("input", { name: "description", value: policy.description })));
  editor.append(el("button", { type: "submit" }, "Save"));
  return el("div", {}, el("h1", {}, `Policy ${name}`),
    el("div", { class: "card" }, el("p", {}, "Attached to accounts: ", policy.accounts.join(", ") || "none", "; groups: ", policy.groups.join(", ") || "none"), editor, output,
      el("p", {}, actionButton("Delete policy", output, async () => { await api("DELETE", path); location.hash = "#/policies"; }, "danger"))));
}

function apiKeysPage() {
  const output = el("div", {});
  const table = pagedTable({
    path: "api-keys",
    filters: [{ name: "q", label: "Name contains" }],
    rowClass: (k) => (k.revoked_at ? "revoked" : k.expires_at < Date.now() ? "expired" : ""),
    columns: [
      { title: "Name", cell: (k) => k.name },
      { title: "Id", cell: (k) => el("code", {}, k.id) },
      { title: "Acts for", cell: (k) => k.account },
      { title: "Expires", cell: (k) => when(k.expires_at) },
      { title: "Last used", cell: (k) => when(k.last_used_at) || "never" },
      { title: "", cell: (k, reload) => (k.revoked_at ? "revoked" : actionButton("Revoke", output, async () => { await api("DELETE", `api-keys/${encodeURIComponent(k.name)}`); reload(); }, "danger")) },
    ],
  });
  const editor = policyEditor(POLICY_TEMPLATE, async (data, scope) => {
    const created = await api("POST", "api-keys", { name: data.get("name"), scope, expires_in_days: Number(data.get("days")) || undefined });
    table.reload();
    return el("div", {}, noticeBox(`API key ${created.key.name} created. Its token is shown once — store it now:`), el("div", { class: "secret", "data-testid": "api-key-token" }, created.token));
  }, output);
  editor.prepend(el("div", { class: "toolbar" }, el("label", {}, "Name", el("input", { name: "name", required: true })),
    el("label", {}, "Expires in days", el("input", { name: "days", type: "number", min: 1, max: 365, value: 90 }))),
  el("p", { class: "muted" }, "Scope: what the key may do at most; it never exceeds your own permissions."));
  editor.append(el("button", { type: "submit" }, "Create API key"));
  return el("div", {}, el("h1", {}, "API keys"), el("div", { class: "card" }, editor, output), table);
}

function keysPage() {
  const output = el("div", {});
  const table = pagedTable({
    path: "keys",
    filters: [{ name: "q", label: "Name contains" }],
    rowClass: (k) => (k.destroyed_at ? "revoked" : ""),
    columns: [
      { title: "Name", cell: (k) => k.name },
      { title: "Algorithm", cell: (k) => k.algorithm },
      { title: "Kept in", cell: (k) => (k.backend === "pkcs11" ? "HSM (PKCS#11)" : "software keystore") },
      { title: "Address", cell: (k) => (k.address ? el("code", {}, k.address) : "") },
      { title: "", cell: (k, reload) => (k.destroyed_at ? "destroyed" : el("span", {},
        actionButton("Public key", output, async () => el("pre", {}, k.public_key_pem)), " ",
        actionButton("Destroy", output, async () => { await api("DELETE", `keys/${encodeURIComponent(k.name)}`); reload(); }, "danger"))) },
    ],
  });
  const signed = el("div", {});
  return el("div", {}, el("h1", {}, "Keys"),
    el("div", { class: "card" }, el("h2", {}, "Generate"),
      el("form", { class: "inline", onsubmit: submitter(output, async (data) => {
        const key = await api("POST", "keys", { name: data.get("name"), algorithm: data.get("algorithm"), backend: data.get("backend") });
        table.reload();
        return noticeBox(`Key ${key.name} (${key.algorithm}) generated.`);
      }) }, el("label", {}, "Name", el("input", { name: "name", required: true })),
      el("label", {}, "Algorithm", el("select", { name: "algorithm" }, ["secp256k1", "p256", "ed25519", "sm2"].map((a) => el("option", { value: a }, a)))),
      el("label", {}, "Kept in", el("select", { name: "backend" }, el("option", { value: "software" }, "software keystore"), el("option", { value: "pkcs11" }, "HSM (PKCS#11)"))),
      el("button", { type: "submit" }, "Generate")),
      el("h2", {}, "Import (PKCS#8 PEM)"),
      el("form", { onsubmit: submitter(output, async (data, form) => {
        const key = await api("POST", "key-imports", { name: data.get("name"), private_key_pem: data.get("pem") });
        form.reset();
        table.reload();
        return noticeBox(`Key ${key.name} imported; its private half is sealed and never shown again.`);
      }) }, el("div", { class: "toolbar" }, el("label", {}, "Name", el("input", { name: "name", required: true }))),
      el("textarea", { name: "pem", placeholder: "-----BEGIN PRIVATE KEY-----", autocomplete: "off" }), el("button", { type: "submit" }, "Import")),
      el("h2", {}, "Sign"),
      el("form", { class: "inline", onsubmit: submitter(signed, async (data) => {
        const signature = await api("POST", `keys/${encodeURIComponent(data.get("key"))}/sign`, { message: data.get("message"), scheme: data.get("scheme") });
        return el("pre", {}, signature.signature);
      }) }, el("label", {}, "Key", el("input", { name: "key", required: true })),
      el("label", {}, "Message (hex)", el("input", { name: "message", required: true })),
      el("label", {}, "Scheme", el("select", { name: "scheme" }, el("option", { value: "document" }, "document"), el("option", { value: "ethereum" }, "ethereum (32-byte digest)"))),
      el("button", { type: "submit" }, "Sign")), signed, output),
    table);
}

function certificatesPage() {
  const output = el("div", {});
  const caCard = el("div", { class: "card" }, el("p", { class: "muted" }, "Loading the CA…"));
  api("GET", "ca").then((ca) => {
    caCard.replaceChildren(el("h2", {}, `Certificate authority of ${ca.org}`),
      el("p", {}, `Serial ${ca.serial}; valid until ${when(ca.not_after)} (${ca.days_left} days left); ${ca.origin}; key ${ca.key}. `,
        actionButton("Download CRL", output, async () => { await download(`${API}/ca/crl`, "crl.pem"); })));
  }).catch((error) => {
    if (error.status !== 404) { caCard.replaceChildren(errorBox(error.message)); return; }
    caCard.replaceChildren(el("h2", {}, "No certificate authority yet"),
      el("form", { class: "inline", onsubmit: submitter(output, async (data) => {
        await api("POST", "ca", { org: data.get("org") || undefined, algorithm: data.get("algorithm") });
        render();
      }) }, el("label", {}, "Organization (default: tenant name)", el("input", { name: "org" })),
      el("label", {}, "Algorithm", el("select", { name: "algorithm" }, ["p256", "secp256k1", "ed25519", "sm2"].map((a) => el("option", { value: a }, a)))),
      el("button", { type: "submit" }, "Create CA")));
  });
  const table = pagedTable({
    path: "certificates",
    filters: [{ name: "expiring_within_days", label: "Expiring within days", type: "number" }, { name: "status", label: "Status", options: ["", "valid", "expired", "revoked"] }, { name: "q", label: "Name contains" }],
    rowClass: (c) => (c.status === "revoked" ? "revoked" : c.status === "expired" ? "expired" : c.days_left <= 30 ? "expiring" : ""),
    columns: [
      { title: "Name", cell: (c) => c.common_name },
      { title: "Role", cell: (c) => c.role },
      { title: "Serial", cell: (c) => el("code", { title: c.serial, "data-serial": c.serial }, c.serial.slice(0, 16) + "…") },
      { title: "Not after", cell: (c) => when(c.not_after) },
      { title: "Days left", cell: (c) => el("span", { class: `badge ${c.status !== "valid" ? "bad" : c.days_left <= 30 ? "warn" : "ok"}` }, c.status === "valid" ? String(c.days_left) : c.status) },
      { title: "", cell: (c, reload) => (c.role === "ca" || c.status === "revoked" ? "" : el("span", {},
        actionButton("Renew", output, async () => { await api("POST", `certificates/${c.serial}/renew`, {}); reload(); }), " ",
        actionButton("Revoke", output, async () => { await api("POST", `certificates/${c.serial}/revoke`, { reason: "revoked from the console" }); reload(); }, "danger"))) },
    ],
  });
  const enrolOutput = el("div", {});
  const channelSelect = el("select", { name: "channel" }, el("option", { value: "" }, "Loading channels…"));
  api("GET", "channels").then((channels) => channelSelect.replaceChildren(...(channels.length
    ? channels.map((c) => el("option", { value: c.channel }, c.channel))
    : [el("option", { value: "" }, "no channel reachable yet")]))).catch((e) => enrolOutput.replaceChildren(errorBox(e.message)));
  const enrolCard = el("div", { class: "card" }, el("h2", {}, "Enrol on a channel"),
    el("p", { class: "muted" }, "Your organization's admin key signs the membership transaction; the identity can then transact on the channel."),
    el("form", { class: "inline", onsubmit: submitter(enrolOutput, async (data) => {
      const enrolment = await api("POST", `certificates/${encodeURIComponent(data.get("serial").trim())}/enrolments`, { channel: data.get("channel"), admin_key: data.get("admin_key") });
      return noticeBox(`Enrolled on ${enrolment.channel} as ${enrolment.account} in block ${enrolment.enrolled_block} (transaction ${enrolment.enroll_tx}).`);
    }) }, el("label", {}, "Certificate serial", el("input", { name: "serial", required: true, size: 34 })),
    el("label", {}, "Channel", channelSelect),
    el("label", {}, "Signed by admin key", el("input", { name: "admin_key", value: "admin", required: true })),
    el("button", { type: "submit" }, "Enrol")), enrolOutput);
  return el("div", {}, el("h1", {}, "Certificates"), caCard,
    el("div", { class: "card" }, el("h2", {}, "Issue"),
      el("form", { class: "inline", onsubmit: submitter(output, async (data) => {
        const issued = await api("POST", "certificates", { common_name: data.get("cn"), role: data.get("role"), key: data.get("key"), days: Number(data.get("days")) || undefined });
        table.reload();
        return noticeBox(`Certificate for ${issued.common_name} issued, serial ${issued.serial}.`);
      }) }, el("label", {}, "Common name", el("input", { name: "cn", required: true })),
      el("label", {}, "Role", el("select", { name: "role" }, ["client", "admin", "node"].map((r) => el("option", { value: r }, r)))),
      el("label", {}, "Keystore key", el("input", { name: "key", required: true })),
      el("label", {}, "Days", el("input", { name: "days", type: "number", min: 1, max: 3650, value: 365 })),
      el("button", { type: "submit" }, "Issue")), output),
    table, enrolCard);
}

function channelsPage() {
  const output = el("div", {});
  const list = el("tbody", {});
  const load = async () => {
    const channels = await api("GET", "platform/channels");
    list.replaceChildren(...(channels.length ? channels.map((c) => el("tr", {}, el("td", {}, c.channel), el("td", {}, el("code", {}, c.rpc_url)), el("td", {}, when(c.created_at))))
      : [el("tr", {}, el("td", { colSpan: 3, class: "muted" }, "No channel registered."))]));
  };
  load().catch((e) => output.append(errorBox(e.message)));
  return el("div", {}, el("h1", {}, "Channels"),
    el("p", { class: "muted" }, "The channels the platform may reach (tenants enrol identities on them). Networks created on the platform register theirs."),
    el("div", { class: "card" }, el("h2", {}, "Register a channel"),
      el("form", { class: "inline", onsubmit: submitter(output, async (data, form) => {
        const channel = await api("POST", "channels", { network: data.get("network"), name: data.get("name"), rpc_url: data.get("rpc_url") });
        form.reset();
        await load();
        return noticeBox(`Channel ${channel.channel} registered.`);
      }) }, el("label", {}, "Network", el("input", { name: "network", required: true })),
      el("label", {}, "Channel", el("input", { name: "name", required: true, value: "default" })),
      el("label", {}, "A node's channel URL", el("input", { name: "rpc_url", required: true, size: 40, placeholder: "http://10.0.0.5:8545/channels/default" })),
      el("button", { type: "submit" }, "Register"))),
    output,
    el("table", {}, el("thead", {}, el("tr", {}, ["Channel", "Node URL", "Registered"].map((t) => el("th", {}, t)))), list));
}

function auditPage() {
  const output = el("div", {});
  const exportQuery = () => new URLSearchParams([...new FormData(document.querySelector("#audit-filters") || undefined)].filter(([, v]) => v)).toString();
  const operator = state.me.kind === "operator";
  const table = pagedTable({
    path: operator ? "platform/audit" : "audit",
    limit: 25,
    filters: [{ name: "action", label: "Action", placeholder: "account:Create" }, { name: "actor", label: "Actor contains" }, { name: "result", label: "Result", options: ["", "ok", "denied", "failed"] }],
    rowClass: (e) => (e.result === "denied" ? "expiring" : e.result === "failed" ? "expired" : ""),
    columns: [
      { title: "When", cell: (e) => when(e.at) },
      { title: "Actor", cell: (e) => e.actor },
      { title: "Action", cell: (e) => el("code", {}, e.action) },
      { title: "Resource", cell: (e) => e.resource },
      { title: "Result", cell: (e) => el("span", { class: `badge ${e.result === "ok" ? "ok" : e.result === "denied" ? "warn" : "bad"}` }, `${e.result} ${e.status}`) },
      { title: "From", cell: (e) => e.source },
      { title: "Request", cell: (e) => el("code", {}, e.request_id) },
    ],
  });
  table.querySelector("form").id = "audit-filters";
  return el("div", {}, el("h1", {}, operator ? "Platform audit log" : "Audit log"),
    operator ? null : el("div", { class: "toolbar" },
      actionButton("Export JSON", output, () => download(`${API}/audit/export?${exportQuery()}`, "audit.json")),
      actionButton("Export CSV", output, () => download(`${API}/audit/export?format=csv&${exportQuery()}`, "audit.csv"))),
    output, table);
}

function securityPage() {
  const output = el("div", {});
  const mfa = el("div", { class: "card" }, el("h2", {}, "Second factor (TOTP)"));
  if (state.me.mfa_enabled) {
    mfa.append(el("p", {}, el("span", { class: "badge ok" }, "on"), " Sign-in asks for a code from your authenticator."),
      el("form", { class: "inline", onsubmit: submitter(output, async (data) => { await api("POST", "me/mfa/disable", { code: data.get("code") }); await loadMe(); render(); }) },
        el("label", {}, "Current code", el("input", { name: "code", required: true, inputmode: "numeric" })), el("button", { type: "submit", class: "danger" }, "Turn off")));
  } else {
    const enrolment = el("div", {});
    mfa.append(el("p", {}, el("span", { class: "badge warn" }, "off")),
      actionButton("Enrol an authenticator", output, async () => {
        const started = await api("POST", "me/mfa");
        enrolment.replaceChildren(el("p", {}, "Add this secret to your authenticator app (or open the link on your phone), then enter the code it shows:"),
          el("div", { class: "secret", "data-testid": "mfa-secret" }, started.secret),
          el("p", {}, el("a", { href: started.otpauth_uri }, "otpauth link")),
          el("form", { class: "inline", onsubmit: submitter(output, async (data) => {
            await api("POST", "me/mfa/confirm", { code: data.get("code") });
            await loadMe();
            render();
          }) }, el("label", {}, "Code", el("input", { name: "code", required: true, inputmode: "numeric", autocomplete: "one-time-code" })), el("button", { type: "submit" }, "Confirm")));
      }, "primary"), enrolment);
  }
  const password = el("div", { class: "card" }, el("h2", {}, "Password"),
    el("form", { class: "inline", onsubmit: submitter(output, async (data, form) => {
      await api("POST", "me/password", { current_password: data.get("current"), new_password: data.get("new") });
      form.reset();
      return noticeBox("Password changed.");
    }) }, el("label", {}, "Current", el("input", { name: "current", type: "password", required: true, autocomplete: "current-password" })),
    el("label", {}, "New (12+ characters)", el("input", { name: "new", type: "password", required: true, minLength: 12, autocomplete: "new-password" })),
    el("button", { type: "submit" }, "Change")));
  const page = el("div", {}, el("h1", {}, "Security"), output, mfa, password);
  if (state.me.tenant_name) {
    const settings = el("div", { class: "card" }, el("h2", {}, `Tenant ${state.me.tenant_name}`), el("p", { class: "muted" }, "Loading…"));
    api("GET", "tenant/settings").then((s) => {
      settings.replaceChildren(el("h2", {}, `Tenant ${state.me.tenant_name}`),
        el("form", { onsubmit: submitter(output, async (data) => {
          await api("PUT", "tenant/settings", { mfa_for_login: data.get("login") === "on", mfa_for_sensitive: data.get("sensitive") === "on" });
          return noticeBox("Settings saved.");
        }) },
        el("label", {}, el("span", {}, el("input", { type: "checkbox", name: "login", checked: s.mfa_for_login }), " Require a second factor at sign-in")),
        el("label", {}, el("span", {}, el("input", { type: "checkbox", name: "sensitive", checked: s.mfa_for_sensitive }), " Require a current code for sensitive actions (policies, accounts, keys)")),
        el("button", { type: "submit" }, "Save")));
    }).catch((e) => settings.replaceChildren(errorBox(e.message)));
    page.append(settings);
  }
  return page;
}

async function apiPage() {
  const doc = await api("GET", "/api/v1/openapi.json");
  const output = el("div", {});
  const methodInput = el("select", { name: "method" }, ["GET", "POST", "PUT", "DELETE"].map((m) => el("option", { value: m }, m)));
  const pathInput = el("input", { name: "path", value: "/api/v1/me", size: 40 });
  const bodyInput = el("textarea", { name: "body", placeholder: "JSON body (for POST and PUT)" });
  const rows = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      rows.push(el("tr", {}, el("td", {}, el("code", {}, method.toUpperCase())),
        el("td", {}, el("a", { href: "#/api", onclick: (e) => { e.preventDefault(); methodInput.value = method.toUpperCase(); pathInput.value = path; } }, path)),
        el("td", {}, el("code", {}, op["x-ricaas-action"] || "public")), el("td", {}, op.summary || (op.description || "").split("\n")[0])));
    }
  }
  return el("div", {}, el("h1", {}, "API"),
    el("p", {}, "The REST API behind this console, with the action each operation needs. ", el("a", { href: "/api/v1/openapi.json" }, "OpenAPI document")),
    el("div", { class: "card" }, el("h2", {}, "Try it (as you)"),
      el("form", { onsubmit: submitter(output, async (data) => {
        const body = data.get("body") ? parseJson(data.get("body"), "The body") : undefined;
        const result = await api(data.get("method"), data.get("path"), body);
        return el("pre", {}, JSON.stringify(result, null, 2));
      }) }, el("div", { class: "toolbar" }, el("label", {}, "Method", methodInput), el("label", {}, "Path", pathInput)), bodyInput, el("button", { type: "submit" }, "Send")), output),
    el("table", {}, el("thead", {}, el("tr", {}, el("th", {}, "Method"), el("th", {}, "Path"), el("th", {}, "Action"), el("th", {}, "What"))), el("tbody", {}, rows)));
}

// ---- networks ---------------------------------------------------------------------------

/// Calls `refresh` every `ms` while `node` is on the page (stops once it is replaced).
function poll(node, refresh, ms) {
  const timer = setInterval(() => {
    if (!node.isConnected) { clearInterval(timer); return; }
    refresh();
  }, ms);
}

function readyBadge(node) {
  if (node.desired === "stopped") return el("span", { class: "badge warn" }, "stopped");
  if (node.ready) return el("span", { class: "badge ok" }, "ready");
  return el("span", { class: "badge bad", title: node.message || "" }, node.observed_at ? "not ready" : "starting");
}

/// An operation's progress: a bar, its message, and retry/cancel where they apply.
function operationView(operation, onChange) {
  const output = el("div", {});
  const percent = Math.round((100 * operation.step) / Math.max(1, operation.steps));
  const status = operation.status;
  const badge = status === "succeeded" ? "ok" : status === "failed" ? "bad" : status === "cancelled" ? "warn" : "";
  return el("div", { class: "operation", "data-testid": `operation-${operation.id}` },
    el("div", { class: "toolbar" },
      el("span", { class: `badge ${badge}`, "data-testid": "operation-status" }, status),
      el("span", {}, `${operation.kind.replace("_", " ")} ${operation.network}: step ${operation.step} of ${operation.steps}`),
      ["pending", "running"].includes(status) && !operation.cancel_requested
        ? actionButton("Cancel", output, async () => { onChange(await api("POST", `operations/${operation.id}/cancel`)); }, "danger") : null,
      ["failed", "cancelled"].includes(status)
        ? actionButton("Retry", output, async () => { onChange(await api("POST", `operations/${operation.id}/retry`)); }) : null),
    el("progress", { max: 100, value: percent }, `${percent}%`),
    el("p", { class: status === "failed" ? "error" : "muted" }, operation.error || operation.message),
    output);
}

function networksPage() {
  const output = el("div", {});
  const list = el("tbody", {});
  const operations = el("div", {});
  const loadNetworks = async () => {
    const networks = await api("GET", "networks");
    list.replaceChildren(...(networks.length ? networks.map((n) => {
      const ready = n.nodes.filter((node) => node.ready).length;
      return el("tr", {}, el("td", {}, el("a", { href: `#/networks/${encodeURIComponent(n.name)}` }, n.name)),
        el("td", {}, n.owner), el("td", {}, n.consensus), el("td", {}, String(n.members.length)),
        el("td", {}, `${ready} of ${n.nodes.length} ready`),
        el("td", {}, el("span", { class: `badge ${n.status === "running" ? "ok" : n.status === "failed" ? "bad" : "warn"}` }, n.status)),
        el("td", {}, when(n.created_at)));
    }) : [el("tr", {}, el("td", { colSpan: 7, class: "muted" }, "No network yet: create one above."))]));
  };
  const loadOperations = async () => {
    const recent = await api("GET", "operations");
    operations.replaceChildren(...(recent.length ? recent.slice(0, 10).map((o) => operationView(o, () => refresh())) : [el("p", { class: "muted" }, "No operation yet.")]));
  };
  const invitations = el("tbody", {});
  const invitationOutput = el("div", {});
  const loadInvitations = async () => {
    const all = await api("GET", "invitations");
    invitations.replaceChildren(...(all.length ? all.map((i) => el("tr", { "data-invitation": i.id },
      el("td", {}, i.network), el("td", {}, i.direction === "received" ? `from ${i.inviter}` : `to ${i.invitee}`),
      el("td", {}, el("span", { class: `badge ${["joined", "accepted"].includes(i.status) ? "ok" : ["declined", "expired", "rejected"].includes(i.status) ? "bad" : "warn"}`, "data-testid": "invitation-status" }, i.status)),
      el("td", {}, i.message), el("td", {}, i.proposal_id === null ? "" : `#${i.proposal_id}`), el("td", {}, i.detail || ""),
      el("td", {}, i.direction === "received" && i.status === "pending" ? el("span", {},
          actionButton("Accept", invitationOutput, async () => { await api("POST", `invitations/${i.id}/accept`); await refresh(); }), " ",
          actionButton("Decline", invitationOutput, async () => { await api("POST", `invitations/${i.id}/decline`); await refresh(); }, "danger"))
        : i.direction === "sent" && i.status === "accepted"
          ? actionButton("Propose on chain", invitationOutput, async () => { await api("POST", `invitations/${i.id}/proposals`, {}); await refresh(); })
          : ""))) : [el("tr", {}, el("td", { colSpan: 7, class: "muted" }, "No invitation."))]));
  };
  const refresh = () => Promise.all([loadNetworks(), loadOperations(), loadInvitations()]).catch((e) => output.replaceChildren(errorBox(e.message)));
  const form = el("form", { onsubmit: submitter(output, async (data) => {
    const spec = {
      name: data.get("name"),
      consensus: data.get("consensus"),
      validators: Number(data.get("validators")),
      epoch_length: Number(data.get("epoch_length")),
      block_interval_ms: Number(data.get("block_interval_ms")),
      channel: { name: data.get("channel"), chain_id: Number(data.get("chain_id")), admins: data.get("admins"), writers: data.get("writers") },
    };
    if (data.get("k8s_namespace")) {
      spec.kubernetes = { namespace: data.get("k8s_namespace"), image: data.get("k8s_image") };
      if (data.get("k8s_storage")) spec.kubernetes.storage = data.get("k8s_storage");
    }
    const operation = await api("POST", "networks", spec);
    await refresh();
    return noticeBox(`Creating network ${spec.name}: follow its progress below.`);
  }) },
    el("div", { class: "toolbar" },
      el("label", {}, "Name", el("input", { name: "name", required: true, placeholder: "trade-finance" })),
      el("label", {}, "Consensus", el("select", { name: "consensus" }, el("option", { value: "bft" }, "BFT"), el("option", { value: "solo" }, "solo (one node)"))),
      el("label", {}, "Validators", el("input", { name: "validators", type: "number", min: 1, max: 16, value: 4 })),
      el("label", {}, "Epoch length (blocks)", el("input", { name: "epoch_length", type: "number", min: 10, value: 100 })),
      el("label", {}, "Block interval (ms)", el("input", { name: "block_interval_ms", type: "number", min: 50, max: 60000, value: 200 }))),
    el("div", { class: "toolbar" },
      el("label", {}, "First channel", el("input", { name: "channel", value: "default", required: true })),
      el("label", {}, "Chain id", el("input", { name: "chain_id", type: "number", min: 1, value: 1337 })),
      el("label", {}, "Writers policy", el("input", { name: "writers", value: "ANY Members" })),
      el("label", {}, "Admins policy", el("input", { name: "admins", value: "MAJORITY Admins" }))),
    el("details", {}, el("summary", {}, "Run the nodes on a Kubernetes cluster (the one the platform reaches)"),
      el("div", { class: "toolbar" },
        el("label", {}, "Namespace", el("input", { name: "k8s_namespace", placeholder: "ledger" })),
        el("label", {}, "Image", el("input", { name: "k8s_image", size: 32, placeholder: "registry.example/ricaas:1.0" })),
        el("label", {}, "Volume per node", el("input", { name: "k8s_storage", placeholder: "20Gi" })))),
    el("button", { type: "submit" }, "Create network"));
  const page = el("div", {}, el("h1", {}, "Networks"),
    el("div", { class: "card" }, el("h2", {}, "Create a network"),
      el("p", { class: "muted" }, "Your organization's validators run on the platform; other organizations join later by invitation and vote."),
      form, output),
    el("h2", {}, "Invitations"),
    el("p", { class: "muted" }, "Invitations you received, and those sent into your networks. After the invitee accepts, a member proposes adding it on chain (its admin key signs; that is its vote) and the members vote on the network's page."),
    invitationOutput,
    el("table", {}, el("thead", {}, el("tr", {}, ["Network", "Between", "Status", "Message", "Proposal", "Detail", ""].map((t) => el("th", {}, t)))), invitations),
    el("h2", {}, "Operations"), operations,
    el("h2", {}, "Your networks"),
    el("table", {}, el("thead", {}, el("tr", {}, ["Name", "Owner", "Consensus", "Members", "Nodes", "Status", "Created"].map((t) => el("th", {}, t)))), list));
  refresh();
  poll(page, refresh, 1500);
  return page;
}

async function networkPage(name) {
  const output = el("div", {});
  const summary = el("div", { class: "card" });
  const members = el("tbody", {});
  const nodes = el("tbody", {});
  const logs = el("div", {});
  const path = `networks/${encodeURIComponent(name)}`;
  const showLogs = async (node) => {
    const log = await api("GET", `${path}/nodes/${encodeURIComponent(node)}/logs?lines=200`);
    logs.replaceChildren(el("h2", {}, `Log of ${node} (last ${log.lines.length} lines)`),
      el("pre", { class: "log", "data-testid": "node-log" }, log.lines.join("\n") || "(empty)"));
  };
  const load = async () => {
    const n = await api("GET", path);
    summary.replaceChildren(
      el("p", {}, el("span", { class: `badge ${n.status === "running" ? "ok" : n.status === "failed" ? "bad" : "warn"}` }, n.status), " ", n.status_message),
      el("p", {}, `${n.consensus === "bft" ? "BFT" : "Solo"}, channel ${n.spec.channel.name} (chain id ${n.spec.channel.chain_id}), epochs of ${n.spec.epoch_length} blocks, block interval ${n.spec.block_interval_ms} ms; created by ${n.owner} ${when(n.created_at)}.`),
      el("p", { class: "muted" }, `Policies: readers ${n.spec.channel.readers}; writers ${n.spec.channel.writers}; deployers ${n.spec.channel.contract_deployers}; admins ${n.spec.channel.admins}.`));
    members.replaceChildren(...n.members.map((m) => el("tr", {}, el("td", {}, m.org), el("td", {}, m.tenant), el("td", {}, when(m.joined_at)))));
    const mine = state.me.tenant_name;
    nodes.replaceChildren(...n.nodes.map((node) => el("tr", { "data-node": node.name },
      el("td", {}, node.name), el("td", {}, node.org),
      el("td", {}, node.role, node.leaves_at === null ? null : el("div", { class: "muted", "data-testid": "leaves-at" }, `voted out: leaves at height ${node.leaves_at}`)),
      el("td", {}, readyBadge(node)),
      el("td", { "data-testid": "height" }, node.height === null ? "" : String(node.height)),
      el("td", {}, node.lag === null ? "" : String(node.lag)),
      el("td", {}, node.peers === null ? "" : String(node.peers)),
      el("td", { "data-testid": "restarts" }, String(node.restarts)),
      el("td", {}, node.last_exit ? `${node.last_exit} (${when(node.last_exit_at)})` : ""),
      el("td", {}, node.managed && n.members.some((m) => m.org === node.org && m.tenant === mine) ? el("span", {},
        node.desired === "stopped"
          ? actionButton("Start", output, async () => { await api("POST", `${path}/nodes/${encodeURIComponent(node.name)}/start`); await load(); })
          : actionButton("Stop", output, async () => { await api("POST", `${path}/nodes/${encodeURIComponent(node.name)}/stop`); await load(); }, "danger"), " ",
        actionButton("Restart", output, async () => { await api("POST", `${path}/nodes/${encodeURIComponent(node.name)}/restart`); await load(); }), " ",
        actionButton("Logs", output, () => showLogs(node.name)),
        node.role === "observer" ? [" ", actionButton("Remove", output, async () => {
          if (!confirm(`Remove observer ${node.name}? It is unlisted on chain (your admin key signs), stopped and deleted.`)) return null;
          await api("DELETE", `${path}/nodes/${encodeURIComponent(node.name)}`);
          await load();
          return noticeBox(`Observer ${node.name} removed: the validators no longer accept its connection.`);
        }, "danger")] : node.leaves_at === null ? [" ", actionButton("Remove", output, async () => {
          if (!confirm(`Propose removing validator ${node.name} from the validator set? Your admin key signs the proposal (your vote); once the members voted it out and the next epoch runs without it, it is stopped and deleted.`)) return null;
          const proposal = await api("DELETE", `${path}/nodes/${encodeURIComponent(node.name)}`);
          await load();
          await loadProposals();
          return noticeBox(`Proposal #${proposal.id} to remove validator ${node.name} made with your vote; waiting for ${proposal.waiting_for.join(", ") || "nobody"}.`);
        }, "danger")] : null) : (node.managed ? "" : el("span", {}, "run by its organization ",
          node.org === (n.members.find((m) => m.tenant === mine) || {}).org
            ? actionButton("Remove", output, async () => { await api("DELETE", `${path}/nodes/${encodeURIComponent(node.name)}`); await load(); }, "danger") : null))))));
  };
  const proposals = el("tbody", {});
  const proposalOutput = el("div", {});
  // Which channel's governance the proposals section shows and proposes on ("" = the first).
  const channelPicker = el("select", { name: "proposal_channel", style: "width: auto", onchange: () => loadProposals() }, el("option", { value: "" }, "the network's first channel"));
  const onChannel = () => channelPicker.value ? `?channel=${encodeURIComponent(channelPicker.value)}` : "";
  const loadProposals = async () => {
    const me = state.me.tenant_name;
    const n = await api("GET", path);
    const myOrg = (n.members.find((m) => m.tenant === me) || {}).org;
    if (n.status !== "running") { proposals.replaceChildren(el("tr", {}, el("td", { colSpan: 7, class: "muted" }, "Proposals appear once the network runs."))); return; }
    try {
      const all = await api("GET", `${path}/proposals${onChannel()}`);
      proposals.replaceChildren(...(all.length ? all.map((p) => el("tr", { "data-proposal": String(p.id) },
        el("td", {}, `#${p.id}`), el("td", {}, p.kind.replace("_", " ")),
        el("td", {}, p.kind === "set_parameter" ? `${p.change.name} = ${p.change.value}` : p.change.name || (p.change.policy ? `${p.change.policy}: ${p.change.text}` : "") || p.change.node || p.change.address || p.change.key || p.change.account || "",
          p.change.report_hash && p.change.report_hash !== ZERO_HASH ? reportDetails(name, p.change.report_hash, "Its security report") : null),
        el("td", { "data-testid": "approvals" }, p.approvals.join(", ")),
        el("td", { "data-testid": "waiting" }, p.status === "voting" ? p.waiting_for.join(", ") : ""),
        el("td", {}, el("span", { class: `badge ${p.status === "applied" ? "ok" : ["failed", "expired"].includes(p.status) ? "bad" : "warn"}`, "data-testid": "proposal-status" }, p.status),
          p.expires_at && p.status === "voting" ? el("div", { class: "muted" }, `closes ${when(p.expires_at * 1000)}`) : null),
        el("td", {}, p.status === "voting" && p.waiting_for.includes(myOrg)
          ? actionButton("Vote for it", proposalOutput, async () => { await api("POST", `${path}/proposals/${p.id}/votes`, channelPicker.value ? { channel: channelPicker.value } : {}); await loadProposals(); }) : "")))
        : [el("tr", {}, el("td", { colSpan: 7, class: "muted" }, "No proposal yet."))]));
    } catch (error) {
      proposals.replaceChildren(el("tr", {}, el("td", { colSpan: 7 }, errorBox(error.message))));
    }
  };
  const inviteForm = el("form", { class: "inline", onsubmit: submitter(output, async (data, form) => {
    const invitation = await api("POST", `${path}/invitations`, { tenant: data.get("tenant"), message: data.get("message") });
    form.reset();
    return noticeBox(`Invitation sent to ${invitation.invitee}. Once it accepts, propose adding it from the Networks page.`);
  }) }, el("label", {}, "Tenant to invite", el("input", { name: "tenant", required: true })),
  el("label", {}, "Message", el("input", { name: "message", size: 40 })), el("button", { type: "submit" }, "Invite"));
  const changeForm = el("form", { class: "inline", onsubmit: submitter(proposalOutput, async (data) => {
    const kind = data.get("kind");
    const value = Number(data.get("parameter_value"));
    if (kind === "set_parameter" && !(Number.isSafeInteger(value) && value >= 0)) throw new Error("The parameter's value must be a whole number (0 or more).");
    const change = kind === "remove_org" ? { kind, name: data.get("org") }
      : kind === "remove_validator" ? { kind, node: data.get("node") }
        : kind === "set_parameter" ? { kind, name: data.get("parameter"), value }
          : { kind: "set_policy", policy: data.get("policy"), text: data.get("text") };
    const proposal = await api("POST", `${path}/proposals`, channelPicker.value ? { change, channel: channelPicker.value } : { change });
    await loadProposals();
    return noticeBox(`Proposal #${proposal.id} made with your vote; waiting for ${proposal.waiting_for.join(", ") || "nobody"}.`);
  }) }, el("label", {}, "Change", el("select", { name: "kind" }, el("option", { value: "set_policy" }, "change a policy"), el("option", { value: "remove_org" }, "remove an organization"), el("option", { value: "remove_validator" }, "remove a validator"), el("option", { value: "set_parameter" }, "set a chain parameter"))),
  el("label", {}, "Organization (to remove)", el("input", { name: "org" })),
  el("label", {}, "Validator node (to remove)", el("input", { name: "node" })),
  el("label", {}, "Policy", el("select", { name: "policy" }, ["readers", "writers", "contract_deployers", "admins"].map((p) => el("option", { value: p }, p)),
    el("optgroup", { label: "contract lifecycle (default MAJORITY Admins)" }, ["contract_deploy", "contract_upgrade", "contract_freeze", "contract_unfreeze", "contract_revoke"].map((p) => el("option", { value: p }, p))))),
  el("label", {}, "New text", el("input", { name: "text", placeholder: "MAJORITY Admins" })),
  el("label", {}, "Parameter", el("select", { name: "parameter" },
    el("option", { value: "deploy_security_gate" }, "deploy_security_gate (0 off, 1 no unresolved high findings, 2 nor medium)"),
    ["tx_gas_limit", "min_gas_price", "proposal_lifetime_seconds"].map((p) => el("option", { value: p }, p)))),
  el("label", {}, "Value", el("input", { name: "parameter_value", type: "number", min: 0, size: 8 })),
  el("button", { type: "submit" }, "Propose"));
  const channels = el("tbody", {});
  const channelOutput = el("div", {});
  const loadChannels = async () => {
    const me = state.me.tenant_name;
    const n = await api("GET", path);
    const myOrg = (n.members.find((m) => m.tenant === me) || {}).org;
    try {
      const all = await api("GET", `${path}/channels`);
      const running = all.slice(1).filter((c) => c.status === "running").map((c) => c.name);
      const shown = [...channelPicker.options].slice(1).map((o) => o.value);
      if (running.join() !== shown.join()) {
        const selected = channelPicker.value;
        channelPicker.replaceChildren(el("option", { value: "" }, `the network's first channel (${all[0].name})`),
          ...running.map((c) => el("option", { value: c }, `channel ${c}`)));
        channelPicker.value = running.includes(selected) ? selected : "";
      }
      channels.replaceChildren(...all.map((c) => el("tr", { "data-channel": c.name },
        el("td", {}, c.name), el("td", {}, String(c.chain_id)),
        el("td", {}, c.members.join(", ")),
        el("td", {}, c.validators.join(", ")),
        el("td", {}, c.observers.join(", ")),
        el("td", { class: "muted" }, `readers ${c.policies.readers}; writers ${c.policies.writers}; deployers ${c.policies.contract_deployers}; admins ${c.policies.admins}`),
        el("td", { "data-testid": "channel-approvals" }, c.proposer ? c.approvals.join(", ") : "at creation"),
        el("td", { "data-testid": "channel-waiting" }, c.waiting_for.join(", ")),
        el("td", {}, el("span", { class: `badge ${c.status === "running" ? "ok" : c.status === "failed" ? "bad" : "warn"}`, "data-testid": "channel-status" }, c.status),
          c.message ? el("div", { class: "muted" }, c.message) : null),
        el("td", {}, c.status === "approving" && c.waiting_for.includes(myOrg)
          ? actionButton("Approve", channelOutput, async () => {
            const approved = await api("POST", `${path}/channels/${encodeURIComponent(c.name)}/approvals`, {});
            await loadChannels();
            if (approved.status === "running") return noticeBox(`Channel ${c.name} approved by every member; its validators joined it.`);
            // A validator that could not join yet is retried by the platform every few seconds;
            // the table shows the channel running once all have.
            if (approved.status === "joining") return noticeBox(`Channel ${c.name} approved by every member; its validators are joining${approved.message ? ` (${approved.message})` : ""}. The platform retries until they have.`);
            return noticeBox(`Approved; waiting for ${approved.waiting_for.join(", ")}.`);
          }) : ""))));
    } catch (error) {
      channels.replaceChildren(el("tr", {}, el("td", { colSpan: 10 }, errorBox(error.message))));
    }
  };
  const channelForm = el("form", { class: "inline", onsubmit: submitter(channelOutput, async (data, form) => {
    const list = (field) => String(data.get(field) || "").split(",").map((v) => v.trim()).filter(Boolean);
    const request = { name: data.get("channel_name"), members: list("members") };
    if (list("channel_validators").length) request.validators = list("channel_validators");
    for (const policy of ["readers", "writers", "contract_deployers", "admins"]) {
      if (data.get(`channel_${policy}`)) request[policy] = data.get(`channel_${policy}`);
    }
    const proposed = await api("POST", `${path}/channels`, request);
    form.reset();
    await loadChannels();
    return noticeBox(proposed.status === "running" ? `Channel ${proposed.name} runs.` : `Channel ${proposed.name} proposed with your approval; waiting for ${proposed.waiting_for.join(", ")} to approve it.`);
  }) }, el("label", {}, "Name", el("input", { name: "channel_name", required: true, placeholder: "letters" })),
  el("label", {}, "Members (organizations, comma-separated)", el("input", { name: "members", required: true, size: 30 })),
  el("label", {}, "Validators (node names; empty: all of the members')", el("input", { name: "channel_validators", size: 30 })),
  ...["readers", "writers", "contract_deployers", "admins"].map((policy) => el("label", {}, `${policy.replace("_", " ")} policy`, el("input", { name: `channel_${policy}`, placeholder: "as the network's" }))),
  el("button", { type: "submit" }, "Propose channel"));
  const contracts = el("tbody", {});
  const contractOutput = el("div", {});
  // Forms generated from a contract's ABI (see callForms), shown under the contracts table.
  const callPanel = el("div", {});
  const showCalls = async (c) => {
    const record = await api("GET", `${path}/contracts/${encodeURIComponent(c.name)}`);
    callPanel.replaceChildren(el("div", { class: "card", "data-testid": "call-panel" },
      el("h2", {}, `Call ${c.name} `, el("a", { href: `#/networks/${encodeURIComponent(name)}/contracts/${encodeURIComponent(c.name)}`, class: "muted" }, "(its page)")),
      ...callForms(name, record, contractOutput)));
  };
  const loadContracts = async () => {
    const n = await api("GET", path);
    if (n.status !== "running") { contracts.replaceChildren(el("tr", {}, el("td", { colSpan: 7, class: "muted" }, "Contracts appear once the network runs."))); return; }
    try {
      const all = await api("GET", `${path}/contracts`);
      const propose = (c, action) => actionButton(action[0].toUpperCase() + action.slice(1), contractOutput, async () => {
        const proposal = await api("POST", `${path}/contracts/${encodeURIComponent(c.name)}/proposals`, { action });
        await loadProposals();
        await loadContracts();
        return noticeBox(`Proposal #${proposal.id} to ${action} ${c.name} made with your vote; waiting for ${proposal.waiting_for.join(", ") || "nobody"}.`);
      }, action === "unfreeze" ? "secondary" : "danger");
      const stateBadge = (state) => el("span", { class: `badge ${state === "normal" ? "ok" : ["frozen", "proposed", "approved"].includes(state) ? "warn" : "bad"}`, "data-testid": "contract-state" }, state);
      contracts.replaceChildren(...(all.length ? all.map((c) => el("tr", { "data-contract": c.name },
        el("td", {}, c.address ? el("a", { href: `#/networks/${encodeURIComponent(name)}/contracts/${encodeURIComponent(c.name)}` }, c.name) : c.name), el("td", { class: "mono" }, c.address || ""),
        el("td", {}, stateBadge(c.state), c.message ? el("div", { class: "muted" }, c.message) : null),
        el("td", {}, c.since === null ? "" : String(c.since)),
        el("td", {}, c.version ? String(c.version) : ""),
        el("td", {}, c.proposal === null ? "" : `#${c.proposal}`),
        el("td", {}, ["normal", "frozen"].includes(c.state) ? [actionButton("Call", contractOutput, async () => { await showCalls(c); return null; }), " "] : null,
          c.state === "normal" ? [propose(c, "freeze"), " ", propose(c, "revoke")]
          : c.state === "frozen" ? [propose(c, "unfreeze"), " ", propose(c, "revoke")] : "")))
        : [el("tr", {}, el("td", { colSpan: 7, class: "muted" }, "No contract yet."))]));
    } catch (error) {
      contracts.replaceChildren(el("tr", {}, el("td", { colSpan: 7 }, errorBox(error.message))));
    }
  };
  const deployForm = el("form", { onsubmit: submitter(contractOutput, async (data, form) => {
    let abi;
    try { abi = JSON.parse(data.get("abi")); } catch { throw new Error("The ABI is not JSON: paste the compiler's abi output (a JSON array)."); }
    const proposal = await api("POST", `${path}/contracts`, { name: data.get("contract_name"), bytecode: data.get("bytecode").trim(), abi, compiler: data.get("compiler") || undefined, report_hash: data.get("report_hash").trim() || undefined });
    form.reset();
    await loadProposals();
    await loadContracts();
    return noticeBox(`Proposal #${proposal.id} to deploy ${data.get("contract_name")} made with your vote; ${proposal.waiting_for.length ? `waiting for ${proposal.waiting_for.join(", ")}` : "approved"}. Once approved, the platform creates it with your admin key.`);
  }) }, el("div", { class: "toolbar" },
    el("label", {}, "Name", el("input", { name: "contract_name", required: true, placeholder: "letters-of-credit" })),
    el("label", {}, "Compiler", el("input", { name: "compiler", placeholder: "solc 0.8.26" })),
    el("label", {}, "Security report (required under a security gate)", el("input", { name: "report_hash", placeholder: "0x… from a compilation here", size: 30 }))),
  el("label", {}, "Creation bytecode (constructor arguments appended)", el("textarea", { name: "bytecode", required: true, placeholder: "0x6080…" })),
  el("label", {}, "ABI", el("textarea", { name: "abi", required: true, placeholder: "[{\"type\":\"function\", …}]" })),
  el("button", { type: "submit" }, "Propose deployment"));
  const changeContractForm = el("form", { onsubmit: submitter(contractOutput, async (data, form) => {
    let abi;
    try { abi = JSON.parse(data.get("change_abi")); } catch { throw new Error("The ABI is not JSON: paste the compiler's abi output (a JSON array)."); }
    const action = data.get("contract_action");
    const body = action === "upgrade"
      ? { action, bytecode: data.get("runtime_bytecode").trim(), abi, compiler: data.get("change_compiler") || undefined, report_hash: data.get("change_report").trim() || undefined }
      : { action, address: data.get("contract_address").trim(), abi, compiler: data.get("change_compiler") || undefined, report_hash: data.get("change_report").trim() || undefined };
    const target = data.get("change_contract");
    const proposal = await api("POST", `${path}/contracts/${encodeURIComponent(target)}/proposals`, body);
    form.reset();
    await loadProposals();
    await loadContracts();
    return noticeBox(`Proposal #${proposal.id} to ${action} ${target} made with your vote; waiting for ${proposal.waiting_for.join(", ") || "nobody"}.`);
  }) }, el("div", { class: "toolbar" },
    el("label", {}, "Change", el("select", { name: "contract_action" }, el("option", { value: "upgrade" }, "upgrade (same address and storage)"), el("option", { value: "register" }, "register a contract created directly"))),
    el("label", {}, "Contract name", el("input", { name: "change_contract", required: true })),
    el("label", {}, "Address (to register)", el("input", { name: "contract_address", placeholder: "0x…", size: 44 })),
    el("label", {}, "Compiler", el("input", { name: "change_compiler", placeholder: "solc 0.8.26" })),
    el("label", {}, "Security report", el("input", { name: "change_report", placeholder: "0x…", size: 30 }))),
  el("label", {}, "Runtime bytecode (to upgrade: the deployed code, no constructor runs)", el("textarea", { name: "runtime_bytecode", placeholder: "0x6080…" })),
  el("label", {}, "ABI", el("textarea", { name: "change_abi", required: true, placeholder: "[{\"type\":\"function\", …}]" })),
  el("button", { type: "submit" }, "Propose change"));
  await load();
  loadProposals();
  loadChannels();
  loadContracts();
  const page = el("div", {}, el("h1", {}, `Network ${name}`), el("p", {}, el("a", { href: "#/networks" }, "← all networks")),
    summary, output,
    el("div", { class: "card" }, el("h2", {}, "Invite an organization"), inviteForm),
    el("h2", {}, "Governance proposals"),
    el("p", { class: "muted" }, "Read from the channel. Each organization votes from its own account; its custodial admin key signs the vote."),
    el("label", {}, "Channel ", channelPicker),
    el("div", { class: "card" }, el("h2", {}, "Propose a change"), changeForm,
      el("p", { class: "muted" }, "Or add a validator of your organization: the platform runs it, it follows the chain at once, and votes from the next epoch once the members approve."),
      actionButton("Add a validator", proposalOutput, async () => {
        const added = await api("POST", `${path}/validators`, {});
        await load();
        await loadProposals();
        return noticeBox(`Node ${added.node.name} runs; proposal #${added.proposal.id} makes it a validator once ${added.proposal.waiting_for.join(", ") || "nobody else"} vote${added.proposal.waiting_for.length === 1 ? "s" : ""} for it.`);
      })),
    proposalOutput,
    el("table", {}, el("thead", {}, el("tr", {}, ["Id", "Change", "Subject", "Voted", "Waiting for", "Status", ""].map((t) => el("th", {}, t)))), proposals),
    el("h2", {}, "Members"),
    el("table", {}, el("thead", {}, el("tr", {}, ["Organization", "Tenant", "Joined"].map((t) => el("th", {}, t)))), members),
    el("h2", {}, "Channels"),
    el("p", { class: "muted" }, "A channel is a separate ledger among some of the members. Each member approves its configuration from its own account (its admin key signs it); once all have, their validators join it."),
    el("div", { class: "card" }, el("h2", {}, "Propose a channel"), channelForm),
    channelOutput,
    el("table", {}, el("thead", {}, el("tr", {}, ["Channel", "Chain id", "Members", "Validators", "Observers", "Policies", "Approved by", "Waiting for", "Status", ""].map((t) => el("th", {}, t)))), channels),
    el("h2", {}, "Contracts"),
    el("p", { class: "muted" }, "The first channel's contract registry, read from the chain. A deployment, freeze, unfreeze or revocation is a proposal the members vote on (each action under its own channel policy, MAJORITY Admins by default); a frozen or revoked contract refuses every call, saying so and since which height."),
    contractWorkspace(async (body) => {
      const proposal = await api("POST", `${path}/contracts`, body);
      await loadProposals();
      await loadContracts();
      return noticeBox(`Proposal #${proposal.id} to deploy ${body.name} made with your vote; ${proposal.waiting_for.length ? `waiting for ${proposal.waiting_for.join(", ")}` : "approved"}. Once approved, the platform creates it with your admin key.`);
    }),
    el("details", { class: "card" }, el("summary", {}, "Propose a deployment from bytecode and ABI"), deployForm),
    el("details", { class: "card" }, el("summary", {}, "Propose an upgrade or register an existing contract"), changeContractForm),
    contractOutput,
    el("table", {}, el("thead", {}, el("tr", {}, ["Contract", "Address", "State", "Since height", "Version", "Proposal", ""].map((t) => el("th", {}, t)))), contracts),
    callPanel,
    el("h2", {}, "Nodes"),
    el("div", { class: "card" },
      el("p", { class: "muted" }, "An observer is a full replica of the channel for your organization: it follows finalized blocks and serves JSON-RPC, and never votes. Your admin key lists it on chain; no other member needs to vote."),
      actionButton("Add an observer", output, async () => {
        const node = await api("POST", `${path}/observers`, {});
        await load();
        return noticeBox(`Observer ${node.name} runs and is listed on chain; it catches up from genesis (watch its height and lag below).`);
      })),
    el("details", { class: "card" }, el("summary", {}, "Register a node your organization runs itself"),
      el("form", { onsubmit: submitter(output, async (data, form) => {
        const node = await api("POST", `${path}/nodes`, {
          name: data.get("node_name"), role: data.get("role"), rpc_url: data.get("rpc_url"),
          p2p_address: data.get("p2p_address") || undefined, certificate_pem: data.get("certificate_pem"),
        });
        form.reset();
        await load();
        return noticeBox(`Node ${node.name} registered; its status is read from ${node.rpc_url}.`);
      }) }, el("div", { class: "toolbar" },
        el("label", {}, "Name", el("input", { name: "node_name", required: true })),
        el("label", {}, "Role", el("select", { name: "role" }, el("option", { value: "observer" }, "observer"), el("option", { value: "validator" }, "validator"))),
        el("label", {}, "JSON-RPC base URL", el("input", { name: "rpc_url", required: true, placeholder: "http://10.0.0.5:8545" })),
        el("label", {}, "p2p address", el("input", { name: "p2p_address", placeholder: "10.0.0.5:9545" }))),
      el("textarea", { name: "certificate_pem", required: true, placeholder: "-----BEGIN CERTIFICATE----- (a node certificate from your organization's CA)" }),
      el("button", { type: "submit" }, "Register node"))),
    el("p", { class: "muted" }, "Height, lag and peers are read from each node's /ready and /metrics every few seconds; restarts count exits the platform recovered from."),
    el("table", {}, el("thead", {}, el("tr", {}, ["Node", "Organization", "Role", "Status", "Height", "Lag", "Peers", "Restarts", "Last exit", ""].map((t) => el("th", {}, t)))), nodes),
    logs);
  poll(page, () => load().catch((e) => output.replaceChildren(errorBox(e.message))), 2000);
  poll(page, () => loadProposals(), 4000);
  poll(page, () => loadChannels(), 4000);
  poll(page, () => loadContracts(), 4000);
  return page;
}

// ---- contract workspace -----------------------------------------------------------------

const SAMPLE_CONTRACT = `// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// A counter the consortium can share.
contract Counter {
    uint256 public count;
    event Counted(address indexed by, uint256 count);

    constructor(uint256 start) { count = start; }

    function increment() external {
        count += 1;
        emit Counted(msg.sender, count);
    }
}
`;

/// Sources edited (or uploaded) in this browser, compiled by the platform, errors marked on
/// their lines; a compiled contract is proposed for deployment through `propose`.
function contractWorkspace(propose) {
  const key = `ricaas.workspace.${(state.me && state.me.tenant_name) || "operator"}`;
  let files = null;
  try { files = JSON.parse(window.localStorage.getItem(key)); } catch { files = null; }
  if (!files || typeof files !== "object" || !Object.keys(files).length) files = { "contracts/Counter.sol": SAMPLE_CONTRACT };
  let current = Object.keys(files).sort()[0];
  let diagnostics = [];
  const save = () => window.localStorage.setItem(key, JSON.stringify(files));
  const tabs = el("div", { class: "tabs", role: "tablist" });
  const gutter = el("div", { class: "gutter", "aria-hidden": "true" });
  const backdrop = el("div", { class: "backdrop", "aria-hidden": "true" });
  const editor = el("textarea", { name: "source", class: "code", spellcheck: false, wrap: "off", "data-testid": "editor", "aria-label": "Source" });
  const output = el("div", { "data-testid": "compile-output" });
  const result = el("div", {});
  const progress = el("div", { class: "muted", hidden: true }, el("progress", {}), "Compiling… a compiler version used for the first time is downloaded and checked first.");
  const lineHeight = 18;

  const marksOf = (file) => {
    const marks = new Map();
    for (const d of diagnostics) {
      if (d.file !== file || !d.line) continue;
      const mark = marks.get(d.line) || { severity: d.severity, messages: [], column: d.column, endColumn: d.end_line === d.line ? d.end_column : null };
      // A line shows its worst mark: a compile error, then a security finding, then a warning.
      const rank = { error: 3, security: 2, warning: 1, info: 0 };
      if ((rank[d.severity] || 0) > (rank[mark.severity] || 0)) mark.severity = d.severity;
      mark.messages.push(`${d.kind}: ${d.message}`);
      marks.set(d.line, mark);
    }
    return marks;
  };
  const paint = () => {
    const lines = editor.value.split("\n");
    const marks = marksOf(current);
    gutter.replaceChildren(...lines.map((_, i) => {
      const mark = marks.get(i + 1);
      return el("div", { class: mark ? `ln sev-${mark.severity}` : "ln", title: mark ? mark.messages.join("\n") : undefined, "data-line": i + 1 }, String(i + 1));
    }));
    // The backdrop repeats the text invisibly behind the editor: marked lines get a tint and
    // the marked columns a wavy underline, exactly under the characters.
    backdrop.replaceChildren(...lines.map((text, i) => {
      const mark = marks.get(i + 1);
      if (!mark) return el("div", { class: "line" }, text || " ");
      const from = Math.max(0, (mark.column || 1) - 1);
      const to = mark.endColumn && mark.endColumn > mark.column ? mark.endColumn - 1 : text.length;
      return el("div", { class: `line sev-${mark.severity}`, "data-line": i + 1 }, text.slice(0, from),
        el("span", { class: "squiggle" }, text.slice(from, Math.max(to, from + 1)) || " "), text.slice(Math.max(to, from + 1)) || "",
        el("span", { class: "lens" }, `    ${mark.messages.join("  ·  ")}`));
    }));
    follow();
  };
  const follow = () => {
    gutter.style.transform = `translateY(${-editor.scrollTop}px)`;
    backdrop.style.transform = `translate(${-editor.scrollLeft}px, ${-editor.scrollTop}px)`;
  };
  const render = () => {
    tabs.replaceChildren(...Object.keys(files).sort().map((name) => {
      const errors = diagnostics.filter((d) => d.file === name && d.severity === "error").length;
      return el("button", { type: "button", role: "tab", class: name === current ? "tab active" : "tab", "data-file": name, onclick: () => { current = name; render(); } },
        name, errors ? el("span", { class: "badge bad" }, String(errors)) : null);
    }));
    editor.value = files[current] ?? "";
    paint();
  };
  const jump = (d) => {
    if (d.file && files[d.file] !== undefined) { current = d.file; render(); }
    const lines = editor.value.split("\n");
    let offset = 0;
    for (let i = 0; i < (d.line || 1) - 1 && i < lines.length; i++) offset += lines[i].length + 1;
    offset += Math.max(0, (d.column || 1) - 1);
    editor.focus();
    editor.setSelectionRange(offset, offset);
    editor.scrollTop = Math.max(0, ((d.line || 1) - 4) * lineHeight);
    follow();
  };
  editor.addEventListener("input", () => {
    files[current] = editor.value;
    save();
    // The marks described the text as it was compiled; edited, they would point astray.
    diagnostics = diagnostics.filter((d) => d.file !== current);
    paint();
  });
  editor.addEventListener("scroll", follow);
  editor.addEventListener("keydown", (e) => {
    if (e.key === "Tab" && !e.shiftKey) {
      e.preventDefault();
      editor.setRangeText("    ", editor.selectionStart, editor.selectionEnd, "end");
      editor.dispatchEvent(new Event("input"));
    }
  });

  const newFile = el("form", { class: "inline", onsubmit: (e) => {
    e.preventDefault();
    const name = e.target.elements.file_name.value.trim();
    output.replaceChildren();
    if (!/^[A-Za-z0-9_.@-]+(\/[A-Za-z0-9_.@-]+)*\.sol$/.test(name) || name.split("/").some((p) => p === "." || p === "..")) {
      output.append(errorBox(`"${name}" is not a source name: use a relative path ending in .sol, such as contracts/Letter.sol`));
      return;
    }
    if (files[name] === undefined) files[name] = "// SPDX-License-Identifier: MIT\npragma solidity ^0.8.20;\n\n";
    current = name;
    save();
    e.target.reset();
    render();
  } }, el("label", {}, "New file", el("input", { name: "file_name", placeholder: "contracts/Letter.sol", size: 26 })), el("button", { type: "submit", class: "secondary" }, "Add"));
  const upload = el("input", { type: "file", multiple: true, accept: ".sol", "data-testid": "upload", onchange: async (e) => {
    const chosen = [...e.target.files];
    for (const file of chosen) files[file.name] = await file.text();
    if (chosen.length) current = chosen[0].name;
    save();
    e.target.value = "";
    render();
  } });
  const remove = button("Delete this file", () => {
    if (Object.keys(files).length === 1) { output.replaceChildren(errorBox("The workspace keeps at least one file.")); return; }
    delete files[current];
    diagnostics = diagnostics.filter((d) => d.file !== current);
    current = Object.keys(files).sort()[0];
    save();
    render();
  }, "danger");

  const versions = el("select", { name: "compiler_version" }, el("option", { value: "" }, "newest the pragmas allow"));
  api("GET", "compilers").then((releases) => {
    versions.append(...releases.map((r) => el("option", { value: r.version }, r.installed ? `${r.version} (installed)` : r.version)));
  }).catch((error) => output.replaceChildren(errorBox(`Compiler versions could not be listed: ${error.message}`)));
  const openzeppelin = el("input", { name: "openzeppelin", placeholder: "latest", size: 8 });
  const runs = el("input", { name: "runs", type: "number", min: 1, value: 200, size: 6 });

  const showResult = (compiled) => {
    const errors = compiled.diagnostics.filter((d) => d.severity === "error");
    const warnings = compiled.diagnostics.filter((d) => d.severity === "warning");
    const list = el("ul", { class: "diagnostics", "data-testid": "diagnostics" }, ...compiled.diagnostics.map((d) =>
      el("li", { class: `sev-${d.severity}`, "data-severity": d.severity },
        el("a", { href: "#", onclick: (e) => { e.preventDefault(); jump(d); } }, d.file ? `${d.file}:${d.line}:${d.column}` : "(no place)"),
        ` ${d.kind}${d.code ? ` ${d.code}` : ""}: ${d.message}`)));
    const summary = errors.length
      ? errorBox(`${errors.length} error${errors.length === 1 ? "" : "s"} with ${compiled.compiler}: fix the lines marked in red and compile again.`)
      : noticeBox(`Compiled with ${compiled.compiler} (${compiled.version_reason}) in ${compiled.elapsed_ms} ms${warnings.length ? `, ${warnings.length} warning${warnings.length === 1 ? "" : "s"}` : ""}.${Object.keys(compiled.packages).length ? ` Packages: ${Object.entries(compiled.packages).map(([p, v]) => `${p}@${v}`).join(", ")}.` : ""}`);
    const deployable = compiled.contracts.filter((c) => c.deployable);
    let deploy = null;
    if (!errors.length && deployable.length) {
      const args = el("div", { class: "toolbar" });
      const choice = el("select", { name: "compiled_contract" }, ...deployable.map((c, i) => el("option", { value: String(i) }, `${c.name} (${c.file})`)));
      const nameInput = el("input", { name: "deploy_name", required: true, size: 24 });
      const chosen = () => deployable[Number(choice.value)];
      const showArgs = () => {
        const constructor = chosen().abi.find((item) => item.type === "constructor");
        nameInput.value = chosen().name.toLowerCase();
        args.replaceChildren(...(constructor ? constructor.inputs : []).map((input, i) =>
          el("label", {}, `constructor ${input.name || `arg ${i + 1}`} (${input.type})`, el("input", { name: `ctor${i}`, required: true }))));
      };
      choice.addEventListener("change", showArgs);
      showArgs();
      deploy = el("form", { class: "card", "data-testid": "deploy-compiled", onsubmit: submitter(output, async (data) => {
        const contract = chosen();
        const constructor = contract.abi.find((item) => item.type === "constructor");
        const constructorArgs = (constructor ? constructor.inputs : []).map((input, i) => {
          const text = data.get(`ctor${i}`);
          return input.type.endsWith("]") || input.type.startsWith("tuple") ? parseJson(text, `constructor argument ${input.name}`) : text;
        });
        return propose({ name: data.get("deploy_name"), bytecode: contract.bytecode, abi: contract.abi, constructor_args: constructorArgs, source_hash: compiled.source_hash, compiler: compiled.compiler, report_hash: compiled.security ? compiled.security.report_hash : undefined });
      }) }, el("h2", {}, "Propose deploying a compiled contract"),
      el("div", { class: "toolbar" }, el("label", {}, "Contract", choice), el("label", {}, "Registry name", nameInput)),
      args,
      el("p", { class: "muted" }, `Recorded on chain with it: compiler ${compiled.compiler}, source hash ${compiled.source_hash}${compiled.security ? `, security report ${compiled.security.report_hash}` : ""}.`),
      el("button", { type: "submit" }, "Propose deployment"));
    }
    result.replaceChildren(summary, compiled.diagnostics.length ? list : "", securityPanel(compiled), deploy || "");
  };
  // The checker's findings as stored for the tenant: each placed (a link that jumps there),
  // with why it matters, the fix, and a form to resolve it with a reason; resolutions made
  // earlier for the same sources show at once.
  const securityPanel = (compiled) => {
    if (!compiled.security) return "";
    const { rules, report_hash: hash } = compiled.security;
    const panel = el("div", { class: "card", "data-testid": "security" }, el("h2", {}, "Security check"), el("p", { class: "muted" }, "Loading the stored report…"));
    const show = (report) => panel.replaceChildren(el("h2", {}, "Security check"),
      report.findings.length ? el("p", { class: "muted" }, "Findings are marked in purple in the editor. A channel with a security gate accepts a deployment only once its findings are fixed or resolved.") : "",
      reportFindings(report, { resolvable: true, rules, jump, onResolved: show }));
    api("GET", `security-reports/${hash}`).then(show).catch((error) => panel.replaceChildren(el("h2", {}, "Security check"), errorBox(error.message)));
    return panel;
  };
  // Findings join the compiler's marks in the editor.
  const findingMarks = (compiled) => (compiled.security ? compiled.security.findings : []).map((f) => ({
    file: f.file, line: f.line, column: f.column, end_line: f.end_line, end_column: null,
    severity: "security", kind: `${f.severity} ${f.rule}`, message: f.message,
  }));

  const compileForm = el("form", { class: "toolbar", onsubmit: async (e) => {
    e.preventDefault();
    const submit = e.target.querySelector("button[type=submit]");
    submit.disabled = true;
    progress.hidden = false;
    output.replaceChildren();
    files[current] = editor.value;
    save();
    try {
      const body = { sources: files, runs: Number(runs.value) || 200 };
      if (versions.value) body.version = versions.value;
      if (openzeppelin.value.trim()) body.dependencies = { "@openzeppelin/contracts": openzeppelin.value.trim() };
      const compiled = await api("POST", "compile", body);
      diagnostics = compiled.diagnostics.concat(findingMarks(compiled));
      render();
      showResult(compiled);
      const firstError = diagnostics.find((d) => d.severity === "error");
      if (firstError) jump(firstError);
    } catch (error) {
      diagnostics = [];
      render();
      result.replaceChildren();
      output.append(errorBox(error.message));
    } finally {
      submit.disabled = false;
      progress.hidden = true;
    }
  } }, el("label", {}, "Compiler", versions), el("label", {}, "@openzeppelin/contracts", openzeppelin), el("label", {}, "Optimizer runs", runs),
  el("button", { type: "submit" }, "Compile"));

  render();
  return el("div", { class: "card", "data-testid": "workspace" },
    el("h2", {}, "Contract workspace"),
    el("p", { class: "muted" }, "Write or upload Solidity; files import each other by path (./Token.sol) and @openzeppelin/contracts from npm. The compiler version comes from the pragmas unless you pick one. Sources stay in this browser until you deploy; the deployment records their hash and the compiler."),
    el("div", { class: "toolbar" }, newFile, el("label", {}, "Upload .sol files", upload), remove),
    tabs, editorFrame(gutter, backdrop, editor), compileForm, progress, output, result);
}

function editorFrame(gutter, backdrop, editor) {
  return el("div", { class: "editor" }, el("div", { class: "gutter-wrap" }, gutter), el("div", { class: "code-wrap" }, backdrop, editor));
}

// ---- a contract's generated API ----------------------------------------------------------

/// Forms generated from a contract's current ABI: one per function, a query for views, an
/// invocation (awaited, with its decoded events) for the others; errors go to `output`.
function callForms(network, record, output, { examples = false } = {}) {
  const abi = record.versions.length ? record.versions[record.versions.length - 1].abi : [];
  const functions = abi.filter((item) => item.type === "function");
  const names = functions.map((f) => f.name);
  const base = `networks/${encodeURIComponent(network)}/contracts/${encodeURIComponent(record.name)}`;
  return [
    el("p", { class: "muted" }, `At ${record.address}, version ${record.versions.length}. Invocations are signed by your organization's admin key; queries read without a transaction. `,
      actionButton("Download its OpenAPI document", output, async () => { await download(`${base}/openapi.json`, `${record.name}.openapi.json`); return null; })),
    ...functions.map((f) => {
      const readOnly = ["view", "pure"].includes(f.stateMutability);
      const method = names.filter((n) => n === f.name).length > 1 ? `${f.name}(${f.inputs.map((i) => i.type).join(",")})` : f.name;
      const endpoint = `${base}/${readOnly ? "query" : "invoke"}/${encodeURIComponent(method)}`;
      const result = el("pre", { class: "log", "data-testid": "call-result", hidden: true });
      const form = el("form", { class: "inline", "data-function": f.name, onsubmit: submitter(output, async (data) => {
        const args = f.inputs.map((input, i) => {
          const text = data.get(`arg${i}`);
          return input.type.endsWith("]") || input.type.startsWith("tuple") ? parseJson(text, `argument ${input.name || i + 1}`) : text;
        });
        const answer = await api("POST", readOnly ? endpoint : `${endpoint}?confirm=true`, { args });
        result.hidden = false;
        result.textContent = JSON.stringify(answer, null, 2);
        return null;
      }) }, el("strong", {}, `${f.name}`), " ",
      ...f.inputs.map((input, i) => el("label", {}, `${input.name || `arg ${i + 1}`} (${input.type})`, el("input", { name: `arg${i}`, required: true }))),
      el("button", { type: "submit", class: readOnly ? "secondary" : "" }, readOnly ? "Query" : "Invoke"));
      const example = examples
        ? el("pre", { class: "example" }, `curl -X POST ${location.origin}${API}/${endpoint}${readOnly ? "" : "?confirm=true"} \\
  -H "authorization: Bearer $RICAAS_API_KEY" -H "content-type: application/json" \\
  -d '${JSON.stringify({ args: f.inputs.map((i) => `<${i.type}>`) })}'`)
        : null;
      return el("div", { class: examples ? "function" : "" }, form, example, result);
    }),
  ];
}

/// A contract's own page: state, every version, and its generated API to try — forms, the
/// curl line for each function, the OpenAPI document.
async function contractPage(network, contract) {
  const path = `networks/${encodeURIComponent(network)}/contracts/${encodeURIComponent(contract)}`;
  const record = await api("GET", path);
  const output = el("div", {});
  const current = record.versions[record.versions.length - 1];
  const badge = el("span", { class: `badge ${record.state === "normal" ? "ok" : record.state === "frozen" ? "warn" : "bad"}`, "data-testid": "contract-state" }, record.state);
  return el("div", { "data-testid": "contract-page" },
    el("h1", {}, `Contract ${record.name}`),
    el("p", {}, el("a", { href: `#/networks/${encodeURIComponent(network)}` }, `← network ${network}`)),
    el("div", { class: "card" },
      el("p", {}, badge, ` since height ${record.since}; address `, el("span", { class: "mono" }, record.address || "not created yet")),
      current ? el("p", { class: "muted" }, `Version ${current.version}: ${current.compiler || "compiler not recorded"}, code hash `, el("span", { class: "mono" }, current.code_hash)) : null),
    el("h2", {}, "Versions"),
    el("table", {}, el("thead", {}, el("tr", {}, ["Version", "Height", "Compiler", "Source hash", "Code hash", "Functions", "Security"].map((t) => el("th", {}, t)))),
      el("tbody", {}, ...record.versions.map((v) => el("tr", { "data-version": v.version },
        el("td", {}, String(v.version)), el("td", {}, String(v.height)), el("td", {}, v.compiler || ""),
        el("td", { class: "mono" }, v.source_hash), el("td", { class: "mono" }, v.code_hash),
        el("td", {}, String((Array.isArray(v.abi) ? v.abi : []).filter((i) => i.type === "function").length)),
        el("td", { "data-testid": "version-security" }, !v.report_hash || v.report_hash === ZERO_HASH ? el("span", { class: "muted" }, "no report")
          : v.security ? [el("span", { class: `badge ${v.security.unresolved.high ? "bad" : "ok"}` }, `${v.security.findings} finding${v.security.findings === 1 ? "" : "s"}, ${v.security.unresolved.high} high unresolved`), reportDetails(network, v.report_hash, "Read it")]
            : el("span", { class: "muted mono" }, `${v.report_hash} (not stored on this platform)`)))))),
    el("h2", {}, "Its API"),
    el("p", { class: "muted" }, "Generated from the current version's ABI. Try a function here, or call it from a business system with an API key allowed network:InvokeContract or network:QueryContract."),
    output,
    el("div", { class: "card", "data-testid": "call-panel" }, ...(["normal", "frozen"].includes(record.state) ? callForms(network, record, output, { examples: true }) : [el("p", { class: "muted" }, `A ${record.state} contract has no calls to make.`)])),
    el("h2", {}, "Your organization's invocations"),
    el("p", { class: "muted" }, "Every invoke through the gateway is recorded with the key that signed it; a submitted one shows its outcome once its block is committed (reload)."),
    el("div", { "data-testid": "invocations" }, pagedTable({
      path: `${path}/invocations`,
      filters: [{ name: "q", label: "Method", placeholder: "transfer" }],
      empty: "No invocation through the gateway yet.",
      columns: [
        { title: "When", cell: (i) => when(i.created_at) },
        { title: "Method", cell: (i) => i.method },
        { title: "Key", cell: (i) => i.key },
        { title: "Status", cell: (i) => el("span", { class: `badge ${i.status === "succeeded" ? "ok" : i.status === "reverted" ? "bad" : "warn"}` }, i.status) },
        { title: "Block", cell: (i) => (i.block_number === null ? "" : String(i.block_number)) },
        { title: "Transaction", cell: (i) => el("span", { class: "mono" }, i.transaction_hash) },
        { title: "Events / reason", cell: (i) => i.revert_reason || i.events.map((e) => e.event).join(", ") },
      ],
    })));
}

// ---- shell and routing ------------------------------------------------------------------

const PAGES = [
  ["", "Overview", overviewPage],
  ["accounts", "Accounts", accountsPage],
  ["groups", "Groups", groupsPage],
  ["policies", "Policies", policiesPage],
  ["api-keys", "API keys", apiKeysPage],
  ["keys", "Keys", keysPage],
  ["certificates", "Certificates", certificatesPage],
  ["networks", "Networks", networksPage],
  ["channels", "Channels", channelsPage],
  ["audit", "Audit log", auditPage],
  ["security", "Security", securityPage],
  ["api", "API", apiPage],
];
const DETAIL = { accounts: accountPage, groups: groupPage, policies: policyPage, networks: networkPage };

async function loadMe() {
  state.me = await api("GET", "me");
}

async function render() {
  const root = document.getElementById("app");
  const [, section = "", detail, sub, subDetail] = location.hash.replace(/^#/, "").split("/");
  if (section === "signup") { root.replaceChildren(signUpPage()); return; }
  if (section === "verify" && detail) { root.replaceChildren(verifyPage(decodeURIComponent(detail))); return; }
  if (!store.getItem("token") || section === "signin") {
    if (store.getItem("token") && section === "signin") { location.hash = "#/"; return; }
    root.replaceChildren(signInPage());
    return;
  }
  try {
    if (!state.me) await loadMe();
  } catch (error) {
    root.replaceChildren(signInPage());
    return;
  }
  const operator = state.me.kind === "operator";
  const pages = operator ? PAGES.filter(([id]) => ["", "channels", "audit", "security", "api"].includes(id)) : PAGES.filter(([id]) => id !== "channels");
  const nav = el("nav", { class: "side" }, el("div", { class: "brand" }, "RiCaaS"),
    pages.map(([id, label]) => el("a", { href: `#/${id}`, class: id === section ? "active" : "" }, label)),
    el("div", { class: "who" }, `${state.me.tenant_name || "operator"} / ${state.me.name}`, el("br"),
      el("a", { href: "#/signin", onclick: async (e) => { e.preventDefault(); try { await api("DELETE", "sessions/current"); } catch { /* signed out either way */ } signOutLocally(); } }, "Sign out")));
  const main = el("main", {}, el("p", { class: "loading" }, "Loading…"));
  root.replaceChildren(el("div", { class: "shell" }, nav, main));
  try {
    const entry = pages.find(([id]) => id === section) || pages[0];
    const page = section === "networks" && detail && sub === "contracts" && subDetail
      ? await contractPage(decodeURIComponent(detail), decodeURIComponent(subDetail))
      : detail && DETAIL[section] ? await DETAIL[section](decodeURIComponent(detail)) : await entry[2]();
    main.replaceChildren(page);
  } catch (error) {
    main.replaceChildren(el("h1", {}, "Could not load this page"), errorBox(error.message));
  }
}

window.addEventListener("hashchange", render);
render();
