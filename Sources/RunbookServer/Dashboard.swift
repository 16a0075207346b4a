/// The dashboard: one page, its style and script inline, no outside resources, so it works on a
/// machine with no internet. It polls `/api/dashboard` each second and draws the four flows as
/// the operations documents draw them, each hop coloured by its flow's state with its live rate.
///
/// Sections are filled in by name (`data-section`), each by its renderer in `renderers`, all
/// fed from the same poll.
enum Dashboard {
    static let page = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>runbook</title>
<style>
:root { --ok:#1f9d55; --warn:#d69e2e; --bad:#e53e3e; --idle:#a0aec0; --bg:#f7f8fa; --card:#fff; --ink:#1a202c; --muted:#718096; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background:var(--bg); color:var(--ink); }
header { display:flex; align-items:center; gap:16px; padding:12px 20px; background:#1a202c; color:#fff; }
header h1 { font-size:18px; margin:0; font-weight:600; }
#status-badge { padding:2px 10px; border-radius:12px; font-weight:600; text-transform:uppercase; font-size:12px; }
#updated { color:#cbd5e0; font-size:12px; margin-left:auto; }
header input { font:inherit; padding:2px 6px; width:160px; }
main { display:grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap:16px; padding:16px 20px; }
section { background:var(--card); border-radius:8px; padding:12px 16px; box-shadow:0 1px 2px rgba(0,0,0,.08); }
section.wide { grid-column: 1 / -1; }
h2 { font-size:15px; margin:0 0 8px; }
table { width:100%; border-collapse:collapse; font-size:13px; }
th, td { text-align:left; padding:3px 6px; border-bottom:1px solid #edf2f7; vertical-align:top; }
th { color:var(--muted); font-weight:500; }
.dot { display:inline-block; width:10px; height:10px; border-radius:50%; margin-right:6px; vertical-align:middle; }
.healthy, .up, .succeeded, .info { color:var(--ok); } .warning { color:var(--warn); } .critical, .failed, .down { color:var(--bad); } .idle, .unknown { color:var(--idle); }
.bg-healthy { background:var(--ok); } .bg-warning { background:var(--warn); } .bg-critical { background:var(--bad); } .bg-idle, .bg-unknown { background:var(--idle); }
.flow { display:flex; align-items:center; flex-wrap:wrap; gap:0; margin:10px 0 14px; }
.flow-name { width:100%; font-weight:600; font-size:12px; color:var(--muted); text-transform:uppercase; letter-spacing:.04em; margin-bottom:4px; }
.node { border:1px solid #cbd5e0; border-radius:6px; padding:6px 10px; background:#fff; min-width:110px; text-align:center; }
.node small { display:block; color:var(--muted); font-size:11px; }
.node.engine { border-width:2px; }
.hop { display:flex; flex-direction:column; align-items:center; min-width:120px; padding:0 4px; }
.hop .line { height:4px; width:100%; border-radius:2px; position:relative; }
.hop .line::after { content:""; position:absolute; right:-2px; top:-4px; border:6px solid transparent; border-left-color:inherit; border-left-width:8px; }
.hop .label { font-size:11px; color:var(--muted); }
.hop .rate { font-weight:600; font-size:12px; }
.steps { margin:2px 0 0 12px; padding:0; list-style:none; font-size:12px; color:var(--muted); }
svg { width:100%; height:140px; display:block; }
svg text { font-size:10px; fill:var(--muted); }
button { font:inherit; font-size:12px; padding:1px 8px; cursor:pointer; }
.error { color:var(--bad); font-size:12px; }
#exposure { background:var(--bad); color:#fff; padding:8px 20px; font-weight:600; }
#gate { background:var(--bad); color:#fff; padding:8px 20px; font-weight:600; }
#gate button { margin-left:12px; }
</style>
</head>
<body>
<header>
  <h1>runbook</h1>
  <span id="status-badge" class="bg-unknown">loading</span>
  <span id="problems"></span>
  <span id="updated">connecting…</span>
  <label>name <input id="person" autocomplete="off" placeholder="who acknowledges"></label>
  <label>API token <input id="token" type="password" autocomplete="off" placeholder="for changes"></label>
  <button id="gate-close" data-gate="close" title="kill switch: every fire fails and reaches no EA until the gate is opened">close gate</button>
</header>
<div id="gate" role="alert" data-gate-state="open" hidden><span id="gate-text"></span><button data-gate="open">open gate</button><span id="gate-error"></span></div>
<div id="exposure" role="alert" hidden></div>
<main>
  <section class="wide" data-section="approvals" hidden><h2>Waiting for approval</h2><table><thead><tr><th>run</th><th>question</th><th>answers</th><th>until</th><th></th></tr></thead><tbody id="approvals"></tbody></table><div id="approval-error" class="error"></div></section>
  <section class="wide" data-section="incidents"><h2>Open incidents</h2><table><thead><tr><th>incident</th><th>severity</th><th>level</th><th>status</th><th>opened</th><th></th></tr></thead><tbody id="incidents"></tbody></table><div id="incident-error" class="error"></div></section>
  <section class="wide" data-section="windows" hidden><h2>Maintenance windows</h2><table><thead><tr><th>window</th><th>check</th><th>when</th><th>holds runs</th><th>at end</th><th>now</th><th>next starts</th><th>reason</th></tr></thead><tbody id="windows"></tbody></table></section>
  <section class="wide" data-section="fleet" hidden><h2>Fleet</h2><table><thead><tr><th>engine</th><th>role</th><th>host</th><th>last heartbeat</th><th>flows up</th><th>version</th></tr></thead><tbody id="fleet"></tbody></table></section>
  <section class="wide" data-section="flows"><h2>Flows</h2><div id="flows"></div></section>
  <section data-section="ticks-chart"><h2>Ticks per second (last 5 min)</h2><svg id="ticks-chart" viewBox="0 0 460 140" preserveAspectRatio="none"></svg></section>
  <section data-section="signals-chart"><h2>Signals per hour (last 24 h)</h2><svg id="signals-chart" viewBox="0 0 460 140" preserveAspectRatio="none"></svg></section>
  <section data-section="checks"><h2>Checks</h2><table><thead><tr><th>check</th><th>status</th><th>value</th><th>limits</th></tr></thead><tbody id="checks"></tbody></table></section>
  <section data-section="services"><h2>Services</h2><table><thead><tr><th>service</th><th>state</th><th>restarts (window)</th><th>ports</th><th></th></tr></thead><tbody id="services"></tbody></table><div id="service-error" class="error"></div></section>
  <section class="wide" data-section="runs"><h2>Recent runs</h2><table><thead><tr><th>run</th><th>runbook</th><th>trigger</th><th>status</th><th>started</th><th>steps</th></tr></thead><tbody id="runs"></tbody></table></section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;","'":"&#39;"}[c]));
const fmtRate = (r) => r == null ? "…" : (r >= 100 ? r.toFixed(0) : r.toFixed(1)) + "/s";
const fmtTime = (t) => t ? new Date(t).toLocaleTimeString() : "";
const tokenBox = $("token");
tokenBox.value = sessionStorage.getItem("runbook-token") || "";
tokenBox.addEventListener("change", () => sessionStorage.setItem("runbook-token", tokenBox.value));
const personBox = $("person");
personBox.value = localStorage.getItem("runbook-person") || "";
personBox.addEventListener("change", () => localStorage.setItem("runbook-person", personBox.value));

// A mutating call with the token typed above; resolves to the JSON answer or throws its error.
async function api(method, path, body) {
  const headers = {"Content-Type": "application/json"};
  if (tokenBox.value) headers["Authorization"] = "Bearer " + tokenBox.value;
  const response = await fetch(path, {method, headers, body: body ? JSON.stringify(body) : undefined});
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.error || response.statusText);
  return answer;
}

// The four flows as the operations documents draw them. A hop is coloured by the state of the
// engine service it passes through and shows that service's rate in or out.
const FLOWS = [
  {id: "market-data", title: "Market data", nodes: [
    {name: "MT5 EA"}, {hop: "telemetry-bridge", dir: "in", port: 0},
    {name: "telemetry bridge", engine: true}, {hop: "telemetry-bridge", dir: "out", port: 1},
    {name: "signal engine"}]},
  {id: "signals", title: "Signal generation", nodes: [
    {name: "signal engine"}, {hop: "signal-relay", dir: "in", port: 0, fallback: "5557"},
    {name: "signal relay", engine: true}, {hop: "signal-relay", dir: "out", label: "records / WebApp"},
    {name: "signals table"}]},
  {id: "fire-execution", title: "Fire execution", nodes: [
    {name: "WebApp"}, {hop: "command-router", dir: "in", label: "command queue"},
    {name: "command router", engine: true}, {hop: "command-router", dir: "out", port: 0},
    {name: "MT5 EA"}]},
  {id: "confirmation", title: "Confirmation", nodes: [
    {name: "MT5 EA"}, {hop: "confirmation-listener", dir: "in", port: 0},
    {name: "confirmation listener", engine: true}, {hop: "confirmation-listener", dir: "out", label: "fires table"},
    {name: "fires table"}]},
];

function renderFlows(data) {
  const byName = Object.fromEntries(data.flows.map((f) => [f.name, f]));
  $("flows").innerHTML = FLOWS.map((flow) => {
    const parts = flow.nodes.map((n) => {
      if (!n.hop) return `<div class="node${n.engine ? " engine" : ""}">${esc(n.name)}</div>`;
      const f = byName[n.hop];
      const status = f ? f.status : "unknown";
      const rate = f ? (n.dir === "in" ? f.rate_per_second_in : f.rate_per_second_out) : null;
      const total = f ? (n.dir === "in" ? f.received : f.sent) : 0;
      const port = n.port != null && f && f.ports[n.port] != null ? "port " + f.ports[n.port] : (n.label || n.fallback || "");
      return `<div class="hop" data-flow="${flow.id}" data-service="${esc(n.hop)}" data-direction="${n.dir}" data-status="${status}">
        <span class="label">${esc(port)}</span>
        <div class="line bg-${status}" style="border-left-color:var(--${status === "healthy" ? "ok" : status === "warning" ? "warn" : status === "critical" ? "bad" : "idle"})"></div>
        <span class="rate ${status}">${fmtRate(rate)}</span>
        <span class="label total">${total.toLocaleString()} msgs</span></div>`;
    }).join("");
    return `<div class="flow" data-flow="${flow.id}"><div class="flow-name">${esc(flow.title)}</div>${parts}</div>`;
  }).join("");
}

function renderIncidents(data) {
  $("incidents").innerHTML = (data.incidents || []).map((i) => {
    const acked = i.status === "acknowledged";
    return `<tr data-incident="${i.id}" data-status="${i.status}"><td>#${i.id} ${esc(i.title)}</td>
      <td class="${i.severity}">${i.severity}</td><td>L${i.level}</td>
      <td class="incident-status">${acked ? "acknowledged by " + esc(i.acknowledged_by) : "open"}</td><td>${fmtTime(i.opened_at)}</td>
      <td>${acked ? "" : `<button data-ack="${i.id}">acknowledge</button>`}</td></tr>`;
  }).join("") || `<tr><td colspan="6">none open</td></tr>`;
}

function renderWindows(data) {
  const section = document.querySelector('[data-section="windows"]');
  section.hidden = !data.windows || data.windows.length === 0;
  if (section.hidden) return;
  $("windows").innerHTML = data.windows.map((w) => {
    const now = w.in_force ? `<span class="warning">in force until ${new Date(w.in_force_until).toLocaleString()}</span>` : "not in force";
    const next = w.next_start ? `${esc(w.next_start_local)} (${new Date(w.next_start).toLocaleString()} here)` : "none ahead";
    return `<tr data-window="${w.id}" data-in-force="${w.in_force}"><td>#${w.id}</td><td>${esc(w.target)}</td><td>${esc(w.schedule)}</td>
      <td>${w.hold_runs ? "yes" : "no"}</td><td>${esc(w.at_end)}</td><td>${now}</td><td>${next}</td><td>${esc(w.reason)}</td></tr>`;
  }).join("");
}

function renderFleet(data) {
  const section = document.querySelector('[data-section="fleet"]');
  section.hidden = !data.fleet;
  if (!data.fleet) return;
  $("fleet").innerHTML = data.fleet.map((e) => {
    const status = e.role === "stopped" ? "idle" : e.alive ? "healthy" : "critical";
    const silent = status === "critical";
    return `<tr data-engine="${esc(e.name)}" data-role="${esc(e.role)}" data-status="${status}"><td><span class="dot bg-${status}"></span>${esc(e.name)}</td>
      <td>${esc(e.role)}</td><td>${esc(e.host)}</td><td class="${silent ? "critical" : ""}">${e.silent_for_seconds}s ago${silent ? " (silent)" : ""}</td>
      <td>${e.flows_up}/${e.flows_total}</td><td>${esc(e.version)}</td></tr>`;
  }).join("") || `<tr><td colspan="6">no engine has beaten yet</td></tr>`;
}

function renderChecks(data) {
  $("checks").innerHTML = data.checks.map((c) => `<tr data-check="${esc(c.name)}">
    <td><span class="dot bg-${c.status}"></span>${esc(c.name)}${c.flapping ? " (flapping)" : ""}</td>
    <td class="${c.status}">${c.status}</td><td>${esc(c.text ?? (c.value ?? ""))}</td><td>${esc(c.threshold)}</td></tr>`).join("")
    || `<tr><td colspan="4">no checks</td></tr>`;
}

function renderServices(data) {
  $("services").innerHTML = data.services.map((s) => {
    const up = s.state === "running" && !s.problem;
    return `<tr data-service="${esc(s.name)}"><td><span class="dot bg-${up ? "healthy" : "critical"}"></span>${esc(s.name)} <small>${s.kind}</small></td>
      <td class="${up ? "up" : "down"}">${esc(s.state)}${s.problem ? " – " + esc(s.problem) : ""}</td>
      <td>${s.restarts}</td><td>${(s.ports || []).join(", ")}</td>
      <td><button data-restart="${esc(s.name)}">restart</button></td></tr>`;
  }).join("");
}

// Runs paused at an approve step: the question, the answers so far, and buttons to answer.
function renderApprovals(data) {
  const waiting = data.approvals || [];
  document.querySelector('[data-section="approvals"]').hidden = !waiting.length;
  $("approvals").innerHTML = waiting.map((a) => {
    const approved = (a.votes || []).filter((v) => v.decision === "approve").map((v) => esc(v.by));
    return `<tr data-approval="${a.run_id}"><td>${a.run_id} ${esc(a.runbook)}<br>step ${esc(a.step_id)}</td><td>${esc(a.message)}</td>
      <td>${approved.length} of ${a.min_approvals}${approved.length ? ": " + approved.join(", ") : ""}${a.approvers.length ? "<br>approvers: " + a.approvers.map(esc).join(", ") : ""}</td>
      <td>${a.deadline ? new Date(a.deadline).toLocaleString() : "no deadline"}</td>
      <td><button data-approve="${a.run_id}" data-question="${a.id}">approve</button> <button data-reject="${a.run_id}" data-question="${a.id}">reject</button></td></tr>`;
  }).join("");
}

function renderRuns(data) {
  $("runs").innerHTML = data.runs.map((r) => {
    const steps = (r.steps || []).map((s) => `<li class="${s.status}">${esc(s.id)} (${esc(s.primitive)}) ${s.status}${s.duration_ms != null ? " " + Math.round(s.duration_ms) + " ms" : ""}${s.error ? " – " + esc(s.error) : ""}</li>`).join("");
    return `<tr data-run="${r.id}"><td>${r.id}</td><td>${esc(r.runbook)}</td><td>${esc(r.trigger)}${r.trigger_source ? " " + esc(r.trigger_source) : ""}</td>
      <td class="${r.status}">${r.status}</td><td>${fmtTime(r.started_at)}</td><td><ul class="steps">${steps}</ul></td></tr>`;
  }).join("") || `<tr><td colspan="6">no runs yet</td></tr>`;
}

// A line chart of [{x, y}] in an SVG of 460 by 140.
function lineChart(svg, points, unit) {
  const w = 460, h = 140, pad = 24;
  if (points.length < 2) { svg.innerHTML = `<text x="10" y="20">waiting for data…</text>`; return; }
  const max = Math.max(1, ...points.map((p) => p.y));
  const x0 = points[0].x, span = Math.max(1, points[points.length - 1].x - x0);
  const xy = points.map((p) => [pad + (p.x - x0) / span * (w - pad - 4), h - 14 - p.y / max * (h - 28)]);
  svg.innerHTML = `<line x1="${pad}" y1="${h - 14}" x2="${w}" y2="${h - 14}" stroke="#cbd5e0"/>
    <text x="2" y="12">${max.toFixed(0)}${unit}</text><text x="2" y="${h - 16}">0</text>
    <polyline fill="none" stroke="#3182ce" stroke-width="1.5" points="${xy.map((p) => p.join(",")).join(" ")}"/>
    <text x="${w - 90}" y="12" data-latest>${points[points.length - 1].y.toFixed(1)}${unit} now</text>`;
}

function barChart(svg, bars) {
  const w = 460, h = 140, pad = 24;
  if (!bars.length) { svg.innerHTML = `<text x="10" y="20">no signals recorded</text>`; return; }
  const max = Math.max(1, ...bars.map((b) => b.count));
  const bw = (w - pad) / bars.length;
  svg.innerHTML = `<text x="2" y="12">${max}</text><text x="2" y="${h - 16}">0</text>` + bars.map((b, i) => {
    const bh = b.count / max * (h - 28);
    return `<rect x="${pad + i * bw + 1}" y="${h - 14 - bh}" width="${Math.max(1, bw - 2)}" height="${bh}" fill="#38a169"><title>${new Date(b.hour).toLocaleString()}: ${b.count}</title></rect>`;
  }).join("") + `<text x="${pad}" y="${h - 2}">${new Date(bars[0].hour).getHours()}:00</text><text x="${w - 40}" y="${h - 2}">now</text>`;
}

function renderCharts(data) {
  lineChart($("ticks-chart"), data.ticks_per_second.map((p) => ({x: Date.parse(p.at) / 1000, y: p.per_second})), "/s");
  barChart($("signals-chart"), data.signals_per_hour);
}

function renderOverview(data) {
  const o = data.overview;
  const badge = $("status-badge");
  badge.textContent = o.status;
  badge.className = "bg-" + o.status;
  $("problems").textContent = o.problems.length ? o.problems.slice(0, 3).join("; ") : "";
  // Flows bound beyond loopback that accept anyone: shown until the configuration changes.
  $("exposure").hidden = !o.exposure;
  $("exposure").textContent = o.exposure ? "Warning: " + o.exposure : "";
  $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  // The kill switch: a red line across the page while fires cannot reach the EAs.
  const gate = o.gate && o.gate.closed ? o.gate : null;
  $("gate").hidden = !gate;
  $("gate").dataset.gateState = gate ? "closed" : "open";
  $("gate-close").hidden = !!gate;
  $("gate-text").textContent = gate ? `Gate closed by ${gate.by} (${gate.via}) at ${fmtTime(gate.at)}: ${gate.reason}. Fires fail and reach no EA.` : "";
}

// The last poll's answer.
let lastData = {incidents: []};

// Each renderer draws its section from the poll's answer; sections of other parts add theirs.
const renderers = [renderOverview, renderApprovals, renderIncidents, renderWindows, renderFleet, renderFlows, renderCharts, renderChecks, renderServices, renderRuns];

document.addEventListener("click", async (event) => {
  const data = event.target.dataset || {};
  if (data.restart) {
    $("service-error").textContent = "restarting " + data.restart + "…";
    try { await api("POST", "/api/services/" + encodeURIComponent(data.restart) + "/restart"); $("service-error").textContent = ""; }
    catch (error) { $("service-error").textContent = error.message; }
  } else if (data.gate) {
    const closing = data.gate === "close";
    const reason = closing ? window.prompt("Why close the gate? Every fire will fail with this reason.") : "";
    if (closing && !reason) return;
    if (!closing && !window.confirm("Open the gate? Fires will reach the EAs again.")) return;
    try {
      await api("POST", "/api/gate/" + data.gate, {reason, by: personBox.value || "dashboard", via: "dashboard"});
      $("gate-error").textContent = "";
    } catch (error) { $("gate-error").textContent = " " + error.message; if (closing) window.alert(error.message); }
  } else if (data.approve || data.reject) {
    const run = data.approve || data.reject;
    const verb = data.approve ? "approve" : "reject";
    if (!personBox.value) { $("approval-error").textContent = "type your name above: the step's approvers are named people"; return; }
    const reason = data.reject ? (window.prompt("Why reject run " + run + "? Its approve step fails.") || "") : "";
    try {
      const answer = await api("POST", "/api/runs/" + encodeURIComponent(run) + "/" + verb, {by: personBox.value, reason, via: "dashboard", question: String(data.question)});
      $("approval-error").textContent = answer.text || "";
    } catch (error) { $("approval-error").textContent = error.message; }
  } else if (data.ack) {
    $("incident-error").textContent = "acknowledging #" + data.ack + "…";
    try {
      const incident = await api("POST", "/api/incidents/" + encodeURIComponent(data.ack) + "/acknowledge", personBox.value ? {by: personBox.value, via: "dashboard"} : {via: "dashboard"});
      $("incident-error").textContent = "";
      // Shown at once; the next poll confirms it from the records.
      renderIncidents({incidents: (lastData.incidents || []).map((i) => i.id === incident.id ? incident : i)});
    } catch (error) { $("incident-error").textContent = error.message; }
  }
});

async function poll() {
  try {
    const response = await fetch("/api/dashboard", {cache: "no-store"});
    const data = await response.json();
    lastData = data;
    for (const render of renderers) {
      try { render(data); } catch (error) { console.error(error); }
    }
  } catch (error) {
    $("updated").textContent = "engine not answering (" + error.message + ")";
    $("status-badge").className = "bg-critical";
  }
  setTimeout(poll, 1000);
}
poll();
</script>
</body>
</html>
"""#
}
