// The dashboard page: the live stream, the cluster map (nodes and links) and the fault controls.
// State arrives as server-sent events; every action is a POST carrying the run's secret in a header.
"use strict";

(function () {
  const el = Dash.el;
  const TOKEN = document.querySelector('meta[name="dashboard-token"]').content;
  const PROCESS_ACTIONS = ["kill", "stop", "pause", "resume", "restart"];
  // fields a node box shows in its own rows; anything else is shown generically
  const KNOWN_NODE = new Set(["name", "address", "pid", "state", "uptime_s", "peers", "rejected_frames", "restarts",
    "last_exit", "client_url", "machine_id", "role", "term", "leader", "commit_index", "applied_index", "raft",
    "membership", "fault_rules_version", "version", "partition", "update_status", "lock_holder", "units", "engine_leader"]);

  let view = null;
  let receivedAt = 0;
  let ended = false;
  const boxes = new Map(); // node name → its box, kept across updates so buttons stay put

  // --- acting --------------------------------------------------------------------------------
  function result(text, ok) {
    const r = document.getElementById("fault-result");
    r.textContent = text;
    r.className = "result " + (ok ? "ok" : "error");
  }

  async function fault(form) {
    try {
      const resp = await fetch("/api/fault", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Dashboard-Token": TOKEN },
        body: JSON.stringify(form),
      });
      const text = await resp.text();
      let data;
      try { data = JSON.parse(text); } catch (e) { data = { error: text.trim() }; }
      if (resp.ok) result(`fault #${data.fault_id} started: ${data.description} (nodes: ${data.nodes.join(", ")})`, true);
      else result(`refused: ${data.error}`, false);
    } catch (e) {
      result(`could not reach the dashboard: ${e}`, false);
    }
  }

  document.getElementById("heal-all").addEventListener("click", () => fault({ kind: "clear" }));

  for (const id of ["drop-form", "delay-form"]) {
    const form = document.getElementById(id);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const f = Object.fromEntries(new FormData(form));
      fault({ kind: id.replace("-form", ""), ...f }); // the loss form names its own kind
    });
  }

  const partitionForm = document.getElementById("partition-form");
  partitionForm.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const data = new FormData(partitionForm);
    const sides = { A: [], B: [] };
    for (const name of boxes.keys()) {
      const side = data.get("side-" + name);
      if (side in sides) sides[side].push(name);
    }
    fault({ kind: "partition", sides: [sides.A, sides.B], mode: data.get("mode"), one_way: data.get("one_way") === "on",
      for: data.get("for") });
  });

  // --- node boxes ----------------------------------------------------------------------------
  function makeBox(name) {
    const actions = el("div", { class: "actions" }, PROCESS_ACTIONS.map((a) =>
      el("button", { type: "button", "data-action": a, "data-node": name, title: `fault ${a} ${name}` }, a)));
    actions.addEventListener("click", (ev) => {
      const b = ev.target.closest("button");
      if (b) fault({ kind: b.dataset.action, targets: [name], for: document.getElementById("node-for").value });
    });
    const box = el("div", { class: "node", "data-node": name },
      el("div", { class: "title" }), el("div", { class: "rows" }), actions);
    document.getElementById("map").append(box);
    return box;
  }

  function uptime(s) {
    if (s === null || s === undefined) return "–";
    s = Math.floor(s);
    return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`
      : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  }

  function fillBox(box, n, mark) {
    box.dataset.state = n.state;
    box.dataset.role = n.state === "up" && n.role ? n.role : "";
    box.classList.toggle("leader", mark === "leader");
    const title = [n.name, el("span", { class: `badge state-${n.state}` }, n.state)];
    if (mark === "leader") title.push(el("span", { class: "badge leader", "data-leader": "" }, "★ leader"));
    if (mark === "stale") title.push(el("span", { class: "badge stale", title: "says it leads, but not for a majority" }, "stale leader"));
    box.querySelector(".title").replaceChildren(...title);
    const rows = [];
    const row = (label, ...value) => rows.push(el("div", { class: "row" }, el("b", {}, label + " "), ...value));
    row("addr", `${n.address} · pid ${n.pid || "–"} · up ${uptime(n.uptime_s)}`);
    if (n.restarts) row("restarts", `${n.restarts} (last exit ${Dash.show(n.last_exit)})`);
    const silent = Object.entries(n.peers || {}).filter(([, p]) => !p.reachable).map(([name]) => name);
    if (silent.length) rows.push(el("div", { class: "row silent" }, `✗ no answer from ${silent.join(", ")}`));
    if (n.role !== undefined && n.state === "up") {
      row("etcd", `${n.role} · term ${Dash.show(n.term)} · commit ${Dash.show(n.commit_index)}/${Dash.show(n.applied_index)}`);
    }
    if ("version" in n || "partition" in n || "update_status" in n || "lock_holder" in n) {
      const os = [Dash.show(n.version), Dash.show(n.partition)];
      if ("update_status" in n) os.push(Dash.show(n.update_status).replace("UPDATE_STATUS_", ""));
      if ("lock_holder" in n) os.push(`lock ${Dash.show(n.lock_holder)}`);
      row("os", os.join(" · "));
    }
    if ("units" in n) {
      const count = typeof n.units === "number" ? n.units : Object.keys(n.units || {}).length;
      row("fleet", `${count} unit${count === 1 ? "" : "s"}${n.engine_leader === n.machine_id ? " · engine leader" : ""}`);
    }
    // whatever else a part publishes: one click away, so boxes stay small
    const more = Object.entries(n).filter(([k]) => !KNOWN_NODE.has(k));
    if (more.length) {
      rows.push(el("details", {}, el("summary", {}, more.map(([k]) => k.replace(/_/g, " ")).join(", ")),
        el("pre", {}, JSON.stringify(Object.fromEntries(more), null, 1))));
    }
    box.querySelector(".rows").replaceChildren(...rows);
  }

  // up to 8 nodes on an ellipse (the first at the top), more in a grid; the map grows to fit.
  // Returns name → {x, y}, box centres in the map's pixels.
  function layout(names) {
    const map = document.getElementById("map");
    const n = names.length;
    const boxW = 265, tallest = Math.max(80, ...[...boxes.values()].map((b) => b.offsetHeight));
    const w = map.clientWidth;
    const pos = new Map();
    if (n > 8) {
      const cols = Math.max(1, Math.floor(w / boxW)), rowH = tallest + 40;
      map.style.height = `${Math.ceil(n / cols) * rowH}px`;
      names.forEach((name, i) => pos.set(name, { x: boxW / 2 + (i % cols) * ((w - boxW) / Math.max(1, cols - 1)),
        y: rowH / 2 + Math.floor(i / cols) * rowH }));
      return pos;
    }
    const h = n <= 3 ? 520 : tallest * 4 + 40; // room for two boxes and a link between them each side
    map.style.height = `${h}px`;
    const rx = Math.max(0, w / 2 - boxW / 2), ry = Math.max(0, (h - tallest) / 2 - 4);
    names.forEach((name, i) => {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / n;
      pos.set(name, { x: w / 2 + rx * Math.cos(a), y: h / 2 + ry * Math.sin(a) });
    });
    return pos;
  }

  // where the segment from a box's centre towards (tx, ty) leaves the box
  function edge(p, box, tx, ty) {
    const dx = tx - p.x, dy = ty - p.y;
    const hw = box.offsetWidth / 2 + 6, hh = box.offsetHeight / 2 + 6;
    const t = Math.min(dx ? hw / Math.abs(dx) : Infinity, dy ? hh / Math.abs(dy) : Infinity, 0.45);
    return { x: p.x + dx * t, y: p.y + dy * t };
  }

  const short = (name) => name.slice(name.lastIndexOf("-") + 1); // core-04 → 04, on crowded maps

  function linkLabel(l) {
    if (l.status === "ok") return l.rtt_ms !== null ? `${l.rtt_ms} ms` : "";
    if (l.status === "degraded") return l.note;
    if (l.status === "cut") return "✗ cut";
    if (l.status === "one-way") return `✗ ${short(l.blocked[0][0])}→${short(l.blocked[0][1])}`;
    if (l.status === "unreachable") return "no answer";
    return "";
  }

  function drawLinks(links, pos) {
    const svg = document.getElementById("links");
    const defs = el("defs", {}, el("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 5, markerHeight: 5, orient: "auto" },
      el("path", { d: "M0,0 L10,5 L0,10 z", fill: "#f07c00" })));
    const items = [defs], labels = [];
    for (const l of links) {
      let [from, to] = [l.a, l.b];
      if (l.status === "one-way") [from, to] = [l.blocked[0][1], l.blocked[0][0]]; // arrow: what gets through
      const pa = pos.get(from), pb = pos.get(to);
      if (!pa || !pb) continue;
      const s = edge(pa, boxes.get(from), pb.x, pb.y), e = edge(pb, boxes.get(to), pa.x, pa.y);
      const mx = (s.x + e.x) / 2, my = (s.y + e.y) / 2; // the visible part's middle, clear of boxes
      const label = linkLabel(l);
      items.push(el("g", { class: l.status, "data-link": `${l.a}|${l.b}`, "data-status": l.status },
        el("title", {}, `${l.a} — ${l.b}: ${l.status}${l.note ? " (" + l.note + ")" : ""}`),
        el("line", { x1: s.x, y1: s.y, x2: e.x, y2: e.y, "marker-end": l.status === "one-way" ? "url(#arrow)" : null })));
      // labels live in a layer above the boxes: a short link's middle may sit at a box's edge
      if (label) labels.push(el("g", { class: l.status }, el("text", { x: mx, y: my - 6, "text-anchor": "middle" }, label)));
    }
    svg.replaceChildren(...items);
    document.getElementById("link-labels").replaceChildren(...labels);
  }

  function renderMap(report, links, marks) {
    const names = report.nodes.map((n) => n.name);
    for (const n of report.nodes) {
      const box = boxes.get(n.name) || boxes.set(n.name, makeBox(n.name)).get(n.name);
      fillBox(box, n, (marks || {})[n.name]);
    }
    const pos = layout(names);
    for (const [name, p] of pos) {
      const box = boxes.get(name);
      box.style.left = `${p.x}px`;
      box.style.top = `${p.y}px`;
    }
    drawLinks(links, pos);
  }

  // --- faults --------------------------------------------------------------------------------
  function renderFaults() {
    const list = document.getElementById("active-faults");
    const faults = (view && view.faults) || [];
    if (!faults.length) { list.replaceChildren(el("li", { class: "none" }, "no active faults")); return; }
    const since = (Date.now() - receivedAt) / 1000;
    list.replaceChildren(...faults.map((f) => {
      const left = typeof f.ends_in_s === "number" ? `${Math.max(0, f.ends_in_s - since).toFixed(0)} s left` : "until healed";
      return el("li", { "data-fault": f.id }, el("span", { class: "left" }, left), `#${f.id} ${f.fault}`);
    }));
  }
  setInterval(renderFaults, 250);

  function syncForms(names) {
    const tbody = document.querySelector("#partition-sides tbody");
    if (tbody.dataset.nodes !== names.join(",")) {
      tbody.dataset.nodes = names.join(",");
      const radio = (name, side, checked) => el("td", {}, el("input", { type: "radio", name: "side-" + name,
        value: side, "data-node": name, "data-side": side || "none", checked }));
      tbody.replaceChildren(...names.map((name, i) => el("tr", {}, el("td", {}, name),
        ["A", "B"].map((side) => radio(name, side, side === (i === 0 ? "A" : "B"))))));
      for (const select of document.querySelectorAll(".node-select")) {
        select.replaceChildren(el("option", { value: "" }, "all"), ...names.map((n) => el("option", { value: n }, n)));
      }
    }
  }

  // --- the stream ----------------------------------------------------------------------------
  function banner(text, warn) {
    const b = document.getElementById("banner");
    b.hidden = !text;
    b.textContent = text || "";
    b.className = "banner" + (warn ? " warn" : "");
  }

  function live(on, text) {
    const l = document.getElementById("live");
    l.className = "live " + (on ? "on" : "off");
    l.textContent = text;
  }

  function render(v) {
    view = v;
    receivedAt = Date.now();
    if (!v.alive || !v.report) {
      banner(`The supervisor is not answering: ${v.error || "no status yet"}`, true);
      return;
    }
    banner("");
    const report = v.report;
    document.getElementById("cluster-name").textContent = report.cluster;
    document.getElementById("run-dir").textContent = `${report.run_dir} · seed ${report.seed}`;
    document.title = `coreemu · ${report.cluster}`;
    syncForms(report.nodes.map((n) => n.name));
    renderMap(report, v.links, v.leaders);
    renderFaults();
    Dash.renderPanels(v);
  }

  const stream = new EventSource("/events");
  let lostTimer = null;
  stream.addEventListener("state", (e) => render(JSON.parse(e.data)));
  stream.addEventListener("logs", (e) => Dash.addEvents(JSON.parse(e.data)));
  stream.addEventListener("end", (e) => {
    ended = true;
    stream.close();
    live(false, "stopped");
    banner(`The run has stopped (${JSON.parse(e.data).reason}). This page no longer updates; start a new run with: python run.py up`);
    document.body.classList.add("ended");
  });
  stream.onopen = () => {
    clearTimeout(lostTimer);
    lostTimer = null;
    live(true, "live");
    if (view && view.alive) banner("");
  };
  // the browser retries every second, each failure another error: the first one starts the clock
  stream.onerror = () => {
    if (ended || lostTimer !== null) return;
    live(false, "reconnecting…");
    lostTimer = setTimeout(() => {
      lostTimer = null;
      if (stream.readyState !== EventSource.OPEN) {
        banner("Lost the run: its supervisor is gone (the run stopped or was killed). This page no longer updates.");
        live(false, "gone");
      }
    }, 2500);
  };
  window.addEventListener("resize", () => view && view.report && renderMap(view.report, view.links, view.leaders));
})();
