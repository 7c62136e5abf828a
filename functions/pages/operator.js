// MCPHub operator page. Plain JavaScript, no build step. Signs in through the hub's OAuth facade
// (authorization code + PKCE, like an IDE); the token lives in this tab's sessionStorage only.
"use strict";
const cfg = JSON.parse(document.getElementById("config").textContent);
const KEY = "mcphub.operator";
const statusEl = document.getElementById("status");
const pageEl = document.getElementById("page");

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const b64url = (bytes) => btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const fmt = (n, digits = 0) => (n === null || n === undefined ? "–" : Number(n).toLocaleString(undefined, { maximumFractionDigits: digits }));
const pct = (r) => (r === null || r === undefined ? "–" : (100 * r).toFixed(1) + " %");
const when = (iso) => (iso ? new Date(iso).toLocaleString() : "–");
function say(text, error = false) { statusEl.textContent = text; statusEl.className = error ? "error" : ""; }

// ---- sign-in ------------------------------------------------------------------------------
async function signIn() {
  if (!cfg.clientId) throw new Error("Sign-in for this page needs the hub's OAuth facade (MCPHUB_AUTH__CLIENT_ID and __CLIENT_SECRET).");
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  const state = b64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem(KEY + ".pkce", JSON.stringify({ verifier, state, page: location.hash }));
  const params = new URLSearchParams({
    response_type: "code", client_id: cfg.clientId, redirect_uri: cfg.redirectUri, state,
    code_challenge: b64url(new Uint8Array(digest)), code_challenge_method: "S256", resource: cfg.resource,
  });
  const hint = new URLSearchParams(location.search).get("login_hint");
  if (hint) params.set("login_hint", hint);
  say("Signing in…");
  location.assign(cfg.authorize + "?" + params);
  return new Promise(() => {}); // the page is leaving
}

async function finishSignIn() {
  const q = new URLSearchParams(location.search);
  if (!q.has("code") && !q.has("error")) return;
  const saved = JSON.parse(sessionStorage.getItem(KEY + ".pkce") || "{}");
  sessionStorage.removeItem(KEY + ".pkce");
  history.replaceState(null, "", cfg.redirectUri + (saved.page || "#overview"));
  if (q.has("error")) throw new Error("Sign-in failed: " + (q.get("error_description") || q.get("error")));
  if (!saved.state || q.get("state") !== saved.state) throw new Error("Sign-in failed: the answer does not belong to this tab. Reload to try again.");
  const reply = await fetch(cfg.token, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", code: q.get("code"), redirect_uri: cfg.redirectUri, client_id: cfg.clientId, code_verifier: saved.verifier }),
  });
  if (!reply.ok) throw new Error("Sign-in failed: the hub refused the code (" + reply.status + ").");
  const body = await reply.json();
  sessionStorage.setItem(KEY + ".token", JSON.stringify({ token: body.access_token, until: Date.now() + 1000 * (body.expires_in || 300) }));
}

function token() {
  const saved = JSON.parse(sessionStorage.getItem(KEY + ".token") || "null");
  return saved && saved.until > Date.now() + 10_000 ? saved.token : null;
}

async function api(path, options = {}) {
  const headers = { Accept: "application/json" };
  const t = token();
  if (t) headers.Authorization = "Bearer " + t;
  const reply = await fetch(path, { ...options, headers });
  if (reply.status === 401) { sessionStorage.removeItem(KEY + ".token"); await signIn(); }
  if (reply.status === 404 && path.startsWith("/ops/whoami")) throw new Error("Your account has no operator role: ask for Hub.Admin or Hub.Operator.");
  if (reply.status === 404) throw new Error("Only Hub.Admin may see this page.");
  if (!reply.ok) throw new Error((await reply.json().catch(() => ({}))).error || "The hub answered " + reply.status + ".");
  return options.raw ? reply : reply.json();
}

// ---- pages --------------------------------------------------------------------------------
function table(caption, columns, rows) {
  return h("table", {},
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, columns.map(([label, , cls]) => h("th", { scope: "col", class: cls }, label)))),
    h("tbody", {}, rows.length
      ? rows.map((row) => h("tr", {}, columns.map(([, cell, cls]) => h("td", { class: cls }, cell(row)))))
      : h("tr", {}, h("td", { colspan: columns.length }, "Nothing yet."))));
}
const pill = (text, good) => h("span", { class: "pill " + (good ? "ok" : "bad") }, text);
const card = (label, value) => h("div", { class: "card" }, h("div", { class: "value" }, value), h("div", { class: "label" }, label));

// Who is signed in (/ops/whoami), set at start: its scope says whether the pages show one tenant.
let ME = null;
const tenantOnly = () => ME && ME.scope.kind === "tenant";
const scopeText = () => (tenantOnly() ? `tenant ${ME.scope.label}` : "every tenant");

async function overview() {
  const [me, usage] = await Promise.all([api("/ops/whoami"), api("/ops/usage?" + new URLSearchParams({ from: new Date(Date.now() - 3600e3).toISOString() }))]);
  const t = usage.totals;
  return [h("h1", {}, "Overview"),
    h("p", {}, `Instance ${me.instance} in region ${me.region}. Authentication: ${me.auth}.`),
    h("p", { id: "scope" }, tenantOnly()
      ? `You see tenant ${me.scope.label} only: its usage, audit records, sessions and the servers open to it.`
      : "You see the whole hub: every tenant."),
    me.auditDropped > 0 ? h("p", { class: "warning", role: "alert" }, `${fmt(me.auditDropped)} audit record(s) were dropped on this instance: storage could not take them in time. The trail holds an audit.records_dropped event for each loss.`) : null,
    h("div", { class: "cards" }, card("requests, last hour", fmt(t.requests)), card("error rate", pct(t.errorRate)),
      card("p95 latency", fmt(t.p95Ms, 1) + " ms"), card("active users", fmt(usage.activeUsers)),
      card("live sessions", fmt(usage.liveSessions)))];
}

async function servers() {
  const body = await api("/ops/servers");
  return [h("h1", {}, "Servers"),
    table(`Upstream servers (circuit breakers and cached lists as instance ${body.instance} sees them)`, [
      ["Server", (s) => s.name], ["URL", (s) => s.url], ["Credentials", (s) => s.auth],
      ["Breaker", (s) => pill(s.breaker, s.breaker === "closed")],
      ["Last good list", (s) => (s.lastGoodListAgeSeconds === null ? "not fetched yet" : fmt(s.lastGoodListAgeSeconds) + " s ago" + (s.listStale ? " (stale)" : ""))],
      ["Requests (1 h)", (s) => fmt(s.requestsLastHour), "num"], ["Errors", (s) => pct(s.errorRateLastHour), "num"],
      ["p95", (s) => fmt(s.p95MsLastHour, 1) + " ms", "num"],
    ], body.servers)];
}

function forecastSection(f) {
  if (!f.ready) return [h("h2", {}, `Forecast for ${f.region}`), h("p", {}, `The forecast needs ${f.neededDays} days of usage; ${f.historyDays} recorded so far.`)];
  const plan = f.recommendation;
  return [h("h2", {}, `Today's forecast for ${f.region}`),
    chart(f.points.map((p) => ({ at: p.at, requests: Math.round(p.requests), p95Ms: null })), "Forecast requests per 5 minutes"),
    h("div", { class: "cards" }, card("peak req/s", fmt(plan.peak_rps, 2)), card("busy-hours req/s", fmt(plan.busy_rps, 2)),
      card("always-ready instances", fmt(plan.always_ready)), card("maximum instances", fmt(plan.maximum_instances)),
      card("requests a month", fmt(plan.monthly_requests)), card("cost a month (USD)", "$" + fmt(plan.monthly_cost_usd, 2)))];
}

async function regions() {
  // The forecast is of the whole hub's load: an operator of one tenant is not shown it.
  const [body, forecast, scaling] = await Promise.all([api("/routing"),
    tenantOnly() ? null : api("/ops/forecast"), tenantOnly() ? null : api("/ops/scaling")]);
  const states = Object.entries(body.regions).map(([region, s]) => ({ region, ...s }));
  return [h("h1", {}, "Regions"), h("p", {}, "Routing controller: " + body.controller),
    table("Regions and their latest risk assessment", [
      ["Region", (r) => r.region], ["Routing", (r) => pill(r.drained ? "drained" : "serving", !r.drained)],
      ["Risk score", (r) => fmt(r.assessment && r.assessment.riskScore, 1), "num"],
      ["Failure probability", (r) => pct(r.assessment && r.assessment.failureProbability), "num"],
      ["Kind", (r) => (r.assessment && r.assessment.failureType) || "–"],
      ["Healthy evaluations", (r) => fmt(r.healthy), "num"],
    ], states),
    h("h2", {}, "Recent decisions"),
    table("What the controller did and why, newest first", [
      ["When", (d) => new Date(d.at * 1000).toLocaleString()], ["Region", (d) => d.region], ["Action", (d) => d.action],
      ["Applied", (d) => pill(d.applied ? "yes" : "no: " + d.error, d.applied)], ["Why", (d) => d.reason],
    ], body.decisions),
    ...(forecast ? forecastSection(forecast) : [h("h2", {}, "Forecast"),
      h("p", {}, "The forecast is of the whole hub's load, for operators who see every tenant.")]),
    ...(scaling ? scalingSection(scaling) : [])];
}

function scalingSection(s) {
  const both = (v) => (v ? `${fmt(v.alwaysReady)} / ${fmt(v.maximumInstances)}` : "–");
  if (s.mode === "off") return [h("h2", {}, "Capacity"), h("p", {}, "The capacity controller is off (MCPHUB_SCALING__MODE): Flex settings are Bicep's.")];
  const states = Object.entries(s.regions).map(([region, r]) => ({ region, ...r }));
  return [h("h2", {}, "Capacity"), h("p", {}, "Capacity controller: " + s.mode + " (always-ready / maximum instances)"),
    table("Each region's Flex settings and what the forecast asks", [
      ["Region", (r) => r.region], ["Set now", (r) => both(r.actual), "num"], ["Planned", (r) => both(r.mode === "dry-run" ? r.planned : r.wanted), "num"],
      ["Next hour peak req/s", (r) => fmt(r.inputs && r.inputs.windowPeakRps, 1), "num"],
      ["Held until", (r) => (r.heldUntil ? new Date(r.heldUntil * 1000).toLocaleString() : "–")],
      ["Bounds", (r) => (r.bounds || []).join("; ") || "–"], ["Error", (r) => r.error || "–"],
    ], states),
    table("Capacity decisions, newest first", [
      ["When", (d) => new Date(d.at * 1000).toLocaleString()], ["Region", (d) => d.region],
      ["From", (d) => both(d.before), "num"], ["To", (d) => both(d.after), "num"],
      ["Applied", (d) => pill(d.applied ? "yes" : d.error ? "no: " + d.error : "dry run", d.applied)], ["Why", (d) => d.reason],
    ], s.decisions)];
}

function chart(points, what = "Requests per interval (bars) and p95 latency (line)") {
  const width = 800, height = 200, pad = 28;
  const max = Math.max(1, ...points.map((p) => p.requests));
  const maxP95 = Math.max(1, ...points.map((p) => p.p95Ms || 0));
  const step = (width - 2 * pad) / Math.max(1, points.length);
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  const total = points.reduce((a, p) => a + p.requests, 0);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${what}: peak ${max} requests per interval, ${total} in all`);
  const add = (tag, attrs) => { const el = document.createElementNS(svg.namespaceURI, tag); for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v); svg.append(el); return el; };
  const barWidth = Math.max(1, Math.min(40, step - 2));
  points.forEach((p, i) => {
    const bar = (p.requests / max) * (height - 2 * pad);
    add("rect", { class: "bar", x: pad + i * step + (step - barWidth) / 2, y: height - pad - bar, width: barWidth, height: bar });
  });
  if (points.length) {
    add("text", { x: pad, y: height - 8 }).textContent = when(points[0].at);
    add("text", { x: width - pad - 130, y: height - 8 }).textContent = when(points[points.length - 1].at);
  }
  const line = points.filter((p) => p.p95Ms !== null).map((p) => `${pad + points.indexOf(p) * step + step / 2},${height - pad - ((p.p95Ms || 0) / maxP95) * (height - 2 * pad)}`);
  if (line.length) add("polyline", { class: "line", points: line.join(" ") });
  add("text", { x: pad, y: 16 }).textContent = `${max} req`;
  if (line.length) add("text", { x: width - pad - 90, y: 16 }).textContent = `p95 ${fmt(maxP95, 1)} ms`;
  return svg;
}

async function usage() {
  const hours = Number(new URLSearchParams(location.hash.split("?")[1] || "").get("hours") || 24);
  const body = await api("/ops/usage?" + new URLSearchParams({ from: new Date(Date.now() - hours * 3600e3).toISOString() }));
  const pick = h("label", {}, "Period", h("select", { id: "period", onchange: (e) => { location.hash = "#usage?hours=" + e.target.value; } },
    [[1, "last hour"], [6, "last 6 hours"], [24, "last 24 hours"], [168, "last 7 days"]].map(([v, l]) => h("option", { value: v, selected: v === hours }, l))));
  const stats = [["Requests", (r) => fmt(r.requests), "num"], ["Errors", (r) => pct(r.errorRate), "num"],
    ["p50", (r) => fmt(r.p50Ms, 1), "num"], ["p95", (r) => fmt(r.p95Ms, 1), "num"], ["p99", (r) => fmt(r.p99Ms, 1), "num"]];
  const t = body.totals;
  return [h("h1", {}, "Usage"), h("p", {}, `Calls of ${scopeText()}.`), pick,
    h("div", { class: "cards" }, card("requests", fmt(t.requests)), card("error rate", pct(t.errorRate)), card("p95", fmt(t.p95Ms, 1) + " ms"),
      card("active users", fmt(body.activeUsers)), card("sessions with calls", fmt(body.activeSessions)), card("live sessions", fmt(body.liveSessions))),
    h("h2", {}, "Requests and p95 latency"), chart(body.series.points),
    table("By server (latencies in ms)", [["Server", (r) => r.key], ...stats], body.byServer),
    table("Top tools", [["Tool", (r) => r.key], ...stats], body.topTools),
    table("Top users", [["User", (r) => r.key], ...stats], body.byUser),
    table("By region", [["Region", (r) => r.key], ...stats], body.byRegion)];
}

async function audit() {
  const fields = ["event", "user", "server", "tool", "outcome"];
  const results = h("div", {});
  let cursor = null;
  const query = () => {
    const params = new URLSearchParams();
    for (const f of fields) { const v = document.getElementById("f-" + f).value.trim(); if (v) params.set(f, v); }
    const hours = document.getElementById("f-hours").value;
    params.set("from", new Date(Date.now() - hours * 3600e3).toISOString());
    return params;
  };
  const columns = [["When", (r) => when(r.at)], ["Event", (r) => r.event], ["User", (r) => r.user || "–"], ["Server", (r) => r.server || "–"],
    ["Tool", (r) => r.tool || "–"], ["Outcome", (r) => r.outcome || "–"], ["ms", (r) => fmt(r.latencyMs, 1), "num"]];
  const more = h("button", { type: "button", hidden: true, onclick: () => load(false) }, "Load more");
  async function load(fresh) {
    const params = query();
    params.set("limit", "50");
    if (!fresh && cursor) params.set("cursor", cursor);
    const page = await api("/ops/audit?" + params);
    if (fresh) results.replaceChildren(table("Audit records, newest hour first", columns, page.items));
    else results.querySelector("tbody").append(...table("", columns, page.items).querySelectorAll("tbody tr"));
    cursor = page.next; more.hidden = !cursor;
    say(page.items.length ? "" : "No records match.");
  }
  async function download(format) {
    const params = query(); params.set("format", format);
    const reply = await api("/ops/audit/export?" + params, { raw: true });
    const link = h("a", { href: URL.createObjectURL(await reply.blob()), download: `mcphub-audit.${format}` });
    link.click(); URL.revokeObjectURL(link.href);
  }
  async function verify() {
    const verdict = await api("/ops/audit/verify?" + new URLSearchParams({ from: query().get("from") }));
    const whose = verdict.tenant ? `of ${ME.scope.label}'s records (the chains were checked whole)` : "records";
    say(verdict.intact ? `Intact: ${verdict.rows} ${whose} in ${verdict.partitions} chains.` : `${verdict.findings.length} problem(s) found, first: ${verdict.findings[0].problem}`, !verdict.intact);
  }
  const form = h("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); load(true).catch(fail); } },
    fields.map((f) => h("label", { for: "f-" + f }, f[0].toUpperCase() + f.slice(1), h("input", { id: "f-" + f, name: f, autocomplete: "off" }))),
    h("label", { for: "f-hours" }, "Period", h("select", { id: "f-hours" }, [[1, "last hour"], [24, "last 24 hours"], [168, "last 7 days"], [720, "last 30 days"]].map(([v, l]) => h("option", { value: v, selected: v === 24 }, l)))),
    h("button", { type: "submit", class: "primary" }, "Search"));
  const actions = h("div", { class: "actions" },
    h("button", { type: "button", onclick: () => download("csv").catch(fail) }, "Export CSV"),
    h("button", { type: "button", onclick: () => download("jsonl").catch(fail) }, "Export JSON Lines"),
    h("button", { type: "button", onclick: () => verify().catch(fail) }, "Verify hash chains"));
  setTimeout(() => load(true).catch(fail));
  return [h("h1", {}, "Audit"), h("p", {}, `Records of ${scopeText()}.`), form, actions, results, more];
}

async function setup() {
  const results = h("div", {});
  const advised = await api("/ops/advice");
  async function ask(need) {
    const body = await api("/ops/recommend?" + new URLSearchParams({ need, k: "5" }));
    results.replaceChildren(
      ...(body.nothingFits ? [h("p", {}, body.nothingFits)] : []),
      table("Servers for that need, best first", [
        ["Server", (s) => s.title], ["Name", (s) => s.name], ["URL", (s) => s.url],
        ["Credentials", (s) => (s.credentials === "undeclared" ? `${s.auth} (its server.json declares none)` : s.auth)],
        ["Because of", (s) => s.because.join(", ") || "–"],
        ["Settings", (s) => (s.alreadyConfigured ? "configured already" : s.inSettings ? "below" : "does not fit well: not added")],
      ], body.servers),
      h("h2", {}, "Settings to add"),
      h("p", {}, body.placeholders.length ? `Fill in: ${body.placeholders.join(", ")}.` : "Nothing to fill in."),
      h("pre", { tabindex: 0, "aria-label": "Settings as environment variables" }, Object.entries(body.settings).map(([k, v]) => `${k}=${v}`).join("\n") || "(all already configured)"),
      h("h2", {}, "Bicep"),
      h("pre", { tabindex: 0, "aria-label": "Settings as Bicep" }, body.bicep));
    say("");
  }
  const form = h("form", { class: "ask", onsubmit: (e) => { e.preventDefault(); ask(document.getElementById("need").value).catch(fail); } },
    h("label", { for: "need" }, "What does your team need?", h("input", { id: "need", name: "need", placeholder: "we track bugs in Jira and keep code on GitHub", autocomplete: "off" })),
    h("button", { type: "submit", class: "primary" }, "Recommend servers"));
  const planned = h("div", {});
  async function plan(goal) {
    const body = await api("/ops/workflow?" + new URLSearchParams({ goal }));
    planned.replaceChildren(
      h("p", {}, body.ready ? "Every step fits its tool's schema." : "Fill in the arguments named below before running it."),
      table("Plan, in order", [
        ["Step", (s) => body.steps.indexOf(s) + 1], ["Tool", (s) => s.tool], ["For", (s) => s.purpose],
        ["Fill in", (s) => (s.fillIn || []).join(", ") || "–"], ["Problems", (s) => (s.problems || []).join("; ") || "–"],
      ], body.steps));
    say("");
  }
  const planForm = h("form", { class: "ask", onsubmit: (e) => { e.preventDefault(); plan(document.getElementById("goal").value).catch(fail); } },
    h("label", { for: "goal" }, "What do you want to get done with your tools?", h("input", { id: "goal", name: "goal", placeholder: "add a note, then tell me the time", autocomplete: "off" })),
    h("button", { type: "submit", class: "primary" }, "Plan a workflow"));
  return [h("h1", {}, "Setup"), form, results,
    h("h2", {}, "Plan a workflow"),
    h("p", {}, "From the tools you can use. In an IDE whose client offers sampling, the hub_plan_workflow tool lets its model write the plan instead."),
    planForm, planned,
    h("h2", {}, "Advice from the last week"),
    table("What usage says about the servers configured now", [["Server", (a) => a.server], ["Kind", (a) => a.kind], ["Advice", (a) => a.advice]], advised.advice)];
}

async function config() {
  const body = await api("/ops/config");
  return [h("h1", {}, "Configuration"), h("p", {}, "The settings this instance runs with. Secrets are masked."),
    h("pre", { tabindex: 0, "aria-label": "Configuration as JSON" }, JSON.stringify(body, null, 2))];
}

async function apiPage() {
  const doc = await api("/ops/openapi.json");
  const operations = Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]) => ({ method: method.toUpperCase(), path, ...op })));
  async function download() {
    const blob = new Blob([JSON.stringify(doc, null, 2)], { type: "application/json" });
    const link = h("a", { href: URL.createObjectURL(blob), download: "mcphub-openapi.json" });
    link.click(); URL.revokeObjectURL(link.href);
  }
  return [h("h1", {}, "API"),
    h("p", {}, `The operator API as OpenAPI ${doc.openapi} (version ${doc.info.version}), generated from the models the hub answers with. `,
      "Tools fetch it at ", h("code", {}, "/ops/openapi.json"), " with an operator's token."),
    h("div", { class: "actions" }, h("button", { type: "button", onclick: () => download().catch(fail) }, "Download openapi.json")),
    table("Operations", [["Method", (o) => o.method], ["Path", (o) => h("code", {}, o.path)], ["What it does", (o) => o.summary],
      ["Roles", (o) => (o["x-required-roles"] || ["none (public)"]).join(", ")],
      ["Answers", (o) => Object.keys(o.responses).join(" ")]], operations)];
}

// ---- router -------------------------------------------------------------------------------
const PAGES = { overview, servers, regions, usage, audit, setup, config, api: apiPage };
function fail(error) { say(error.message || String(error), true); }

async function show() {
  const name = (location.hash.slice(1).split("?")[0] || "overview");
  const render = PAGES[name] || overview;
  for (const link of document.querySelectorAll("nav a")) {
    if (link.getAttribute("href") === "#" + name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  say("Loading…");
  try {
    const content = await render();
    pageEl.replaceChildren(...content);
    document.title = `${content[0].textContent} · MCPHub operator`;
    if (statusEl.textContent === "Loading…") say("");
    document.body.dataset.page = name;
  } catch (error) { fail(error); }
}

async function start() {
  try {
    await finishSignIn();
    const me = ME = await api("/ops/whoami");
    const scope = me.scope.kind === "tenant" ? ` · tenant ${me.scope.label}` : "";
    document.getElementById("who").textContent = `${me.name || me.user} · ${me.roles.join(", ") || (me.auth === "off" ? "authentication off" : "")}${scope}`;
    window.addEventListener("hashchange", show);
    await show();
  } catch (error) { fail(error); }
}
start();
