// Panels beside the cluster map: etcd, fleet, updates, anything else the report grows, and the
// event stream. Each panel shows itself when its data is in the report and hides otherwise, so a
// new part of the emulator appears here without a change to the dashboard's core.
"use strict";

const Dash = (window.Dash = {});

// el("div", {class: "x", "data-node": "core-01"}, "text", child, ...) — text is never parsed as HTML
Dash.el = function (tag, attrs, ...children) {
  const svg = ["svg", "line", "polyline", "text", "g", "path", "marker", "defs", "title"].includes(tag);
  const node = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
};
const el = Dash.el;

Dash.show = function (value) {
  if (value === null || value === undefined || value === "") return "–";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
};

function kvTable(rows) {
  return el("table", { class: "kv" }, rows.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, Dash.show(v)))));
}

function table(head, rows) {
  return el("table", { class: "kv" },
    el("tr", {}, head.map((h) => el("th", {}, h))),
    rows.map((r) => el("tr", {}, r.map((c) => el("td", {}, c instanceof Node ? c : Dash.show(c))))));
}

function setPanel(id, title, body) {
  const panel = document.getElementById(id);
  if (!body) { panel.hidden = true; return; }
  panel.hidden = false;
  panel.replaceChildren(el("h2", {}, title), body);
}

// --- etcd ----------------------------------------------------------------------------------------
function sparkline(points) {
  const w = 360, h = 70, pad = 14;
  const svg = el("svg", { class: "spark", viewBox: `0 0 ${w} ${h}`, preserveAspectRatio: "none" });
  const usable = points.filter((p) => p[1] !== null || p[2] !== null);
  if (usable.length < 2) {
    svg.append(el("text", { x: 8, y: h / 2 }, "collecting samples…"));
    return svg;
  }
  const t0 = usable[0][0], t1 = usable[usable.length - 1][0];
  const top = Math.max(1, ...usable.map((p) => Math.max(p[1] || 0, p[2] || 0)));
  const x = (t) => ((t - t0) / Math.max(1, t1 - t0)) * (w - 4) + 2;
  const y = (v) => h - pad - ((v || 0) / top) * (h - pad - 4);
  for (const [i, cls] of [[1, "reads"], [2, "writes"]]) {
    const pts = usable.filter((p) => p[i] !== null).map((p) => `${x(p[0]).toFixed(1)},${y(p[i]).toFixed(1)}`);
    svg.append(el("polyline", { class: cls, points: pts.join(" ") }));
  }
  const span = Math.round(t1 - t0);
  svg.append(el("text", { x: 4, y: h - 3 }, `last ${span >= 60 ? Math.round(span / 60) + " min" : span + " s"} · peak ${top.toFixed(1)}/s`));
  return svg;
}

function etcdPanel(etcd) {
  if (!etcd) return null;
  const rates = etcd.rates || [];
  const last = rates.length ? rates[rates.length - 1] : [0, null, null];
  const num = (v) => (v === null || v === undefined ? "–" : v.toFixed(1));
  return el("div", {},
    el("div", { class: "stats" },
      el("div", {}, el("span", {}, "leader"), el("b", { class: "big", id: "etcd-leader" }, etcd.leader || "none")),
      el("div", {}, el("span", {}, "term"), el("b", { class: "big" }, Dash.show(etcd.term))),
      el("div", {}, el("span", { class: "key-reads" }, "reads/s"), el("b", { class: "big" }, num(last[1]))),
      el("div", {}, el("span", { class: "key-writes" }, "writes/s"), el("b", { class: "big" }, num(last[2]))),
      etcd.keys !== null && etcd.keys !== undefined ? el("div", {}, el("span", {}, "keys"), el("b", { class: "big" }, etcd.keys)) : null),
    sparkline(rates),
    table(["member", "role", "voter", "applied"],
      etcd.members.map((m) => [m.name, m.role, m.voter === undefined || m.voter === null ? "–" : (m.voter ? "yes" : "no"), m.applied_index])));
}

// --- fleet (machines and unit states from fleet's API v1, when fleet runs) -----------------------
function fleetPanel(fleet) {
  if (!fleet) return null;
  // one block per machine: who it is, then its units (the aside is narrow for a wide table)
  const machines = fleet.machines.map((m) => el("div", { class: "machine", "data-machine": m.id },
    el("div", {}, el("b", {}, m.node || "?"), " ", el("span", { class: "dim", title: m.id }, m.id.slice(0, 8)),
      ` · ${Dash.show(m.ip)}`, fleet.engine_leader && fleet.engine_leader === m.node ? " · engine" : ""),
    Object.keys(m.metadata).length
      ? el("div", { class: "dim" }, Object.entries(m.metadata).map(([k, v]) => `${k}=${v}`).join(", ")) : null,
    m.units.length
      ? table(["unit", "active", "sub"], m.units.map((u) => [u.name, u.active, u.sub]))
      : el("div", { class: "dim" }, "no units")));
  return el("div", {}, el("div", {}, el("b", {}, "engine leader: "), fleet.engine_leader || "none"), machines);
}

// --- updates (when nodes report OS version, update status or the reboot lock) --------------------
const UPDATE_COLUMNS = [
  ["version", (n) => n.version], ["boot", (n) => n.partition],
  ["update status", (n) => (n.update_status === undefined ? undefined : String(n.update_status).replace("UPDATE_STATUS_", ""))],
  ["new version", (n) => n.new_version], ["progress", (n) => (typeof n.progress === "number" ? `${Math.round(n.progress * 100)}%` : n.progress)],
  ["reboot lock", (n) => n.lock_holder], ["locksmith", (n) => n.locksmith && n.locksmith.phase],
];
const UPDATE_TOP = ["releases", "rollout", "semaphore", "update_service"];

// a flat object as a key/value table, anything deeper as indented JSON
Dash.objectView = function (value) {
  const flat = value && typeof value === "object" && !Array.isArray(value) &&
    Object.values(value).every((v) => v === null || typeof v !== "object");
  return flat ? kvTable(Object.entries(value)) : el("pre", { class: "json" }, JSON.stringify(value, null, 1));
};

function rolloutView(rollout) {
  const channels = rollout.channels.map((c) => `${c.channel} ${c.version || "–"}`).join(" · ");
  const groups = rollout.groups.map((g) => `${g.name} → ${g.channel}${g.updates_enabled === false ? " (updates off)" : ""}` +
    (g.stopped ? ` (stopped: ${g.stopped})` : ""));
  return [
    el("div", {}, el("b", {}, "channels: "), channels || "none"),
    groups.length ? el("div", {}, el("b", {}, "groups: "), groups.join(" · ")) : null,
    rollout.instances.length
      ? table(["instance", "group", "version", "rollout", "last event"],
        rollout.instances.map((i) => [i.node, i.group, i.version, i.status, i.last_event]))
      : null,
  ];
}

function updatesPanel(report, rollout) {
  const nodes = report.nodes;
  // a column where no node says anything yet (no update under way) only takes room
  const idle = (v) => v === undefined || v === null || v === "" || v === "0.0.0.0" || v === "0%";
  const columns = UPDATE_COLUMNS.filter(([, get]) => nodes.some((n) => !idle(get(n))));
  const topKeys = UPDATE_TOP.filter((k) => k in report && report[k] !== null);
  if (!columns.length && !topKeys.length && !rollout) return null;
  const parts = [];
  if (columns.length) parts.push(table(["node", ...columns.map(([h]) => h)], nodes.map((n) => [n.name, ...columns.map(([, get]) => get(n))])));
  const holders = nodes.filter((n) => n.lock_holder === true).map((n) => n.name);
  if (nodes.some((n) => "lock_holder" in n)) {
    parts.push(el("div", {}, el("b", {}, "reboot semaphore held by: "), holders.length ? holders.join(", ") : "nobody"));
  }
  for (const k of topKeys) parts.push(el("h3", {}, k.replace(/_/g, " ")), Dash.objectView(report[k]));
  if (rollout) parts.push(el("h3", {}, "rollout"), ...rolloutView(rollout));
  return el("div", {}, parts);
}

// --- anything else at the report's top level gets a panel of its own -----------------------------
const KNOWN_TOP = new Set(["cluster", "run_dir", "seed", "supervisor_pid", "active_faults", "nodes", "link_rules",
  "dashboard", ...UPDATE_TOP]);

function extraPanels(report) {
  const box = document.getElementById("extra-panels");
  const panels = Object.keys(report).filter((k) => !KNOWN_TOP.has(k) && report[k] !== null).sort().map((k) =>
    el("section", { class: "panel", "data-panel": k }, el("h2", {}, k),
      typeof report[k] === "object" ? Dash.objectView(report[k]) : el("div", {}, Dash.show(report[k]))));
  box.replaceChildren(...panels);
}

Dash.renderPanels = function (view) {
  const report = view.report;
  setPanel("etcd-panel", "etcd", etcdPanel(view.etcd));
  setPanel("fleet-panel", "fleet", fleetPanel(view.fleet));
  setPanel("updates-panel", "updates", updatesPanel(report, view.rollout));
  extraPanels(report);
};

// --- the event stream ----------------------------------------------------------------------------
const LEVELS = ["debug", "info", "warning", "error"];
const MAX_EVENTS = 1500;
const events = [];
let lastSeq = 0;

function clock(ts) {
  const d = new Date(ts * 1000);
  return d.toTimeString().slice(0, 8) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

function addOption(select, value) {
  if ([...select.options].some((o) => o.value === value)) return;
  select.append(el("option", { value }, value));
}

function passes(e) {
  const node = document.getElementById("filter-node").value;
  const actor = document.getElementById("filter-actor").value;
  const level = document.getElementById("filter-level").value;
  const text = document.getElementById("filter-text").value.toLowerCase();
  if (node && e.node !== node) return false;
  if (actor && e.actor !== actor) return false;
  if (LEVELS.indexOf(e.level) < LEVELS.indexOf(level)) return false;
  return !text || `${e.node} ${e.actor} ${e.event} ${e.text}`.toLowerCase().includes(text);
}

function row(e) {
  return el("div", { class: e.level, "data-seq": e.seq },
    el("span", { class: "t" }, clock(e.ts)), " ", el("span", { class: "n" }, e.node.padEnd(8)), " ",
    e.actor.padEnd(13), " ", e.level.padEnd(7), " ", el("span", { class: "e" }, e.event), " ", el("span", { class: "f" }, e.text));
}

function redrawEvents() {
  const box = document.getElementById("events");
  box.replaceChildren(...events.filter(passes).slice(-500).map(row));
  if (document.getElementById("follow").checked) box.scrollTop = box.scrollHeight;
}

Dash.addEvents = function (batch) {
  const box = document.getElementById("events");
  const fresh = batch.filter((e) => e.seq > lastSeq); // a reconnect resends what we have
  if (!fresh.length) return;
  lastSeq = fresh[fresh.length - 1].seq;
  events.push(...fresh);
  if (events.length > MAX_EVENTS) events.splice(0, events.length - MAX_EVENTS);
  for (const e of fresh) {
    addOption(document.getElementById("filter-node"), e.node);
    addOption(document.getElementById("filter-actor"), e.actor);
  }
  box.append(...fresh.filter(passes).map(row));
  while (box.childElementCount > 500) box.firstElementChild.remove();
  if (document.getElementById("follow").checked) box.scrollTop = box.scrollHeight;
};

for (const id of ["filter-node", "filter-actor", "filter-level", "filter-text"]) {
  document.getElementById(id).addEventListener("input", redrawEvents);
}
