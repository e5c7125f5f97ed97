// byzlab trace: the viewer's script (embedded into trace.html by traceview/page.py).
// Plain JavaScript and SVG, no library. It reads the run's data from the JSON element
// #run-data and draws the panels; every string from the data goes into the page as text
// (textContent), never as markup.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("run-data").textContent);
  const SVG = document.getElementById("diagram");
  const NS = SVG.namespaceURI; // the SVG namespace, taken from the inline <svg>
  const N = DATA.n;
  const UNIT = DATA.time_unit;
  const M = DATA.messages;
  const C = M ? M.columns : null; // null when the page holds its deliveries pre-aggregated
  const PRE = M ? M.bundles : null; // ... aggregated in Python: per time bucket and node pair
  const CANVAS = document.getElementById("bundles");
  const COLOURS = ["#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
    "#17becf", "#bcbd22", "#7f7f7f", "#aec7e8"];
  const CORRUPTED = DATA.nodes.map((n) => n.role === "corrupted");

  // ------------------------------------------------------------------ helpers
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function sv(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function fmt(x) {
    if (x === null || x === undefined) return "-";
    if (typeof x !== "number") return String(x);
    if (Number.isInteger(x)) return String(x);
    return String(Number(x.toPrecision(6)));
  }
  function signed(v) {
    return v === null || v === undefined ? "-" : v > 0 ? "+" + v : String(v);
  }
  function table(header, rows, cls) {
    const t = el("table", cls ? { class: cls } : {});
    const hr = el("tr");
    header.forEach((h) => hr.appendChild(el("th", {}, h)));
    t.appendChild(hr);
    rows.forEach((r) => {
      const tr = el("tr");
      r.forEach((c) => {
        if (c instanceof Node) {
          const td = el("td");
          td.appendChild(c);
          tr.appendChild(td);
        } else tr.appendChild(el("td", {}, c));
      });
      t.appendChild(tr);
    });
    return t;
  }
  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }
  function checkbox(id, label, checked, onchange) {
    const l = el("label");
    const box = el("input", { type: "checkbox", id: id });
    box.checked = checked;
    box.addEventListener("change", onchange);
    l.appendChild(box);
    l.appendChild(document.createTextNode(" " + label));
    return l;
  }
  function fieldset(title) {
    const f = el("fieldset");
    f.appendChild(el("legend", {}, title));
    return f;
  }
  function select(id, options, onchange) {
    const s = el("select", { id: id });
    options.forEach(([value, label]) => s.appendChild(el("option", { value: value }, label)));
    s.addEventListener("change", onchange);
    return s;
  }
  function niceStep(span, count) {
    const raw = span / Math.max(1, count);
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
    return 10 * p;
  }
  function nodeName(i) {
    return CORRUPTED[i] ? i + " (corrupted)" : String(i);
  }
  function noData(container, text) {
    clear(container);
    container.appendChild(el("p", { class: "note" }, text));
  }

  if (DATA.missing) {
    const box = document.getElementById("missing");
    box.hidden = false;
    box.textContent = "No message trace: " + DATA.missing;
  }

  // ------------------------------------------------------------------ spacetime diagram
  const diagram = {
    width: 1100, left: 130, right: 20, top: 28, row: 30, height: 300,
    full: [0, 1], view: [0, 1],
    nodeOn: [], kindOn: [], outcomeOn: [], iteration: null, origin: null, seq: null,
    selected: -1, pending: false, drawn: [],
  };

  function setupDiagram() {
    const controls = document.getElementById("diagram-controls");
    if (!M) {
      noData(controls, "The diagram, the grid and the boards need the message trace.");
      SVG.setAttribute("height", "0");
      SVG.setAttribute("data-arrows", "0");
      return;
    }
    let tmin = 0, tmax = 0;
    if (C) {
      for (let i = 0; i < M.count; i++) if (C.time[i] > tmax) tmax = C.time[i];
    } else {
      PRE.recv.forEach((t) => { if (t > tmax) tmax = t; });
    }
    if (DATA.trace && DATA.trace.end_time > tmax && !M.window) tmax = DATA.trace.end_time;
    if (M.window) [tmin, tmax] = M.window;
    diagram.full = [tmin, tmax > tmin ? tmax : tmin + 1];
    diagram.view = diagram.full.slice();
    diagram.row = Math.max(9, Math.min(34, Math.floor(640 / N)));
    diagram.height = diagram.top + diagram.row * N + 10;
    const box = SVG.parentNode;
    diagram.width = Math.max(700, Math.min(1600, (box.clientWidth || 1100) - 2));
    SVG.setAttribute("width", diagram.width);
    SVG.setAttribute("height", diagram.height);
    CANVAS.width = diagram.width;
    CANVAS.height = diagram.height;
    diagram.nodeOn = new Array(N).fill(true);
    diagram.kindOn = M.labels.kind.map(() => true);
    diagram.outcomeOn = M.labels.outcome.map(() => true);

    const nodes = fieldset("nodes");
    for (let i = 0; i < N; i++) {
      nodes.appendChild(checkbox("node-" + i, nodeName(i), true, (e) => {
        diagram.nodeOn[i] = e.target.checked;
        redraw();
      }));
    }
    controls.appendChild(nodes);
    const kinds = fieldset("kinds");
    M.labels.kind.forEach((k, j) => {
      const l = checkbox("kind-" + j, k, true, (e) => {
        diagram.kindOn[j] = e.target.checked;
        redraw();
      });
      l.style.borderBottom = "3px solid " + COLOURS[j % COLOURS.length];
      kinds.appendChild(l);
    });
    controls.appendChild(kinds);
    const outcomes = fieldset("verdict");
    if (!C) outcomes.hidden = true; // pre-aggregated bundles carry no verdict
    M.labels.outcome.forEach((o, j) => {
      outcomes.appendChild(checkbox("outcome-" + j, o || "(none)", true, (e) => {
        diagram.outcomeOn[j] = e.target.checked;
        redraw();
      }));
    });
    controls.appendChild(outcomes);

    const iterations = C ? Array.from(new Set(C.iteration)).sort((a, b) => a - b) : [];
    const its = fieldset("iteration");
    if (!C) its.hidden = true;
    its.appendChild(select("iteration", [["all", "all"]].concat(
      iterations.map((t) => [String(t), t < 0 ? "none" : String(t)])), (e) => {
      diagram.iteration = e.target.value === "all" ? null : Number(e.target.value);
      redraw();
    }));
    controls.appendChild(its);

    const rbc = fieldset("RBC instance (origin, seq)");
    if (!C) rbc.hidden = true;
    const origins = [["all", "all"]];
    for (let i = 0; i < N; i++) origins.push([String(i), String(i)]);
    rbc.appendChild(select("origin", origins, (e) => {
      diagram.origin = e.target.value === "all" ? null : Number(e.target.value);
      redraw();
    }));
    const seq = el("input", { type: "number", id: "seq", min: "1", placeholder: "all" });
    seq.addEventListener("input", () => {
      diagram.seq = seq.value === "" ? null : Number(seq.value);
      redraw();
    });
    rbc.appendChild(seq);
    controls.appendChild(rbc);

    const span = fieldset("time (" + UNIT + ")");
    const from = el("input", { type: "number", id: "t-from", step: "any" });
    const to = el("input", { type: "number", id: "t-to", step: "any" });
    const apply = () => {
      const a = Number(from.value), b = Number(to.value);
      if (Number.isFinite(a) && Number.isFinite(b) && b > a) {
        diagram.view = [a, b];
        redraw();
      }
    };
    from.addEventListener("change", apply);
    to.addEventListener("change", apply);
    span.appendChild(from);
    span.appendChild(document.createTextNode(" to "));
    span.appendChild(to);
    const whole = el("button", { type: "button", id: "t-whole" }, "whole run");
    whole.addEventListener("click", () => {
      diagram.view = diagram.full.slice();
      redraw();
    });
    span.appendChild(whole);
    const fit = el("button", { type: "button", id: "t-fit" }, "fit to filter");
    fit.addEventListener("click", () => {
      // the time span of what the filters let through, over the whole run
      const keep = diagram.view;
      diagram.view = diagram.full.slice();
      const shown = inView();
      diagram.view = keep;
      if (!shown.length) return;
      let lo = Infinity, hi = -Infinity;
      for (const i of shown) {
        if (C.sent[i] < lo) lo = C.sent[i];
        if (C.time[i] > hi) hi = C.time[i];
      }
      const pad = Math.max((hi - lo) * 0.03, 1e-3);
      diagram.view = [lo - pad, hi + pad];
      redraw();
    });
    if (C) span.appendChild(fit);
    controls.appendChild(span);

    const legend = document.getElementById("legend");
    M.labels.kind.forEach((k, j) => {
      const s = el("span");
      s.appendChild(el("span", { class: "swatch", style: "border-color:" + COLOURS[j % COLOURS.length] }));
      s.appendChild(document.createTextNode(k));
      legend.appendChild(s);
    });
    [["rejected", "#d62728", "dashed"], ["dropped", "#888", "dotted"]].forEach(([t, c, st]) => {
      const s = el("span");
      s.appendChild(el("span", { class: "swatch", style: "border-top: 3px " + st + " " + c }));
      s.appendChild(document.createTextNode(t + " by the receiver"));
      legend.appendChild(s);
    });

    installZoom();
    redraw();
  }

  function x(t) {
    const [a, b] = diagram.view;
    return diagram.left + (t - a) / (b - a) * (diagram.width - diagram.left - diagram.right);
  }
  function tAt(px) {
    const [a, b] = diagram.view;
    return a + (px - diagram.left) / (diagram.width - diagram.left - diagram.right) * (b - a);
  }
  function y(node) {
    return diagram.top + diagram.row * (node + 0.5);
  }

  function inView() {
    const out = [];
    const [t0, t1] = diagram.view;
    const d = diagram;
    for (let i = 0; i < M.count; i++) {
      if (!d.nodeOn[C.src[i]] || !d.nodeOn[C.dst[i]]) continue;
      if (!d.kindOn[C.kind[i]] || !d.outcomeOn[C.outcome[i]]) continue;
      if (d.iteration !== null && C.iteration[i] !== d.iteration) continue;
      if (d.origin !== null && C.origin[i] !== d.origin) continue;
      if (d.seq !== null && C.rbc_seq[i] !== d.seq) continue;
      if (C.time[i] < t0 || C.sent[i] > t1) continue;
      out.push(i);
    }
    return out;
  }

  function redraw() {
    if (diagram.pending) return;
    diagram.pending = true;
    requestAnimationFrame(() => {
      diagram.pending = false;
      draw();
    });
  }

  function draw() {
    const d = diagram;
    clear(SVG);
    const defs = sv("defs");
    M.labels.kind.forEach((k, j) => {
      const m = sv("marker", { id: "head-" + j, viewBox: "0 0 6 6", refX: "6", refY: "3",
        markerWidth: "5", markerHeight: "5", orient: "auto" });
      m.appendChild(sv("path", { d: "M0,0 L6,3 L0,6 z", fill: COLOURS[j % COLOURS.length] }));
      defs.appendChild(m);
    });
    SVG.appendChild(defs);
    // time axis
    const [t0, t1] = d.view;
    const step = niceStep(t1 - t0, 10);
    const axis = sv("g", { class: "axis" });
    for (let t = Math.ceil(t0 / step) * step; t <= t1; t += step) {
      axis.appendChild(sv("line", { class: "tick", x1: x(t), x2: x(t), y1: d.top - 6, y2: d.height }));
      axis.appendChild(sv("text", { x: x(t), y: d.top - 10, "text-anchor": "middle" }, fmt(t)));
    }
    axis.appendChild(sv("text", { x: 4, y: d.top - 10 }, "t (" + UNIT + ")"));
    SVG.appendChild(axis);
    // node lines
    const lines = sv("g");
    for (let i = 0; i < N; i++) {
      if (!d.nodeOn[i]) continue;
      lines.appendChild(sv("line", { class: "nodeline", x1: d.left, x2: d.width - d.right,
        y1: y(i), y2: y(i), stroke: CORRUPTED[i] ? "#d62728" : "#999" }));
      lines.appendChild(sv("text", { class: "nodelabel", x: 4, y: y(i) + 4 },
        "node " + nodeName(i)));
    }
    DATA.nodes.forEach((n) => {
      if (n.decided_at !== null && n.decided_at !== undefined && d.nodeOn[n.id] && UNIT === "delta") {
        const cx = x(n.decided_at);
        if (cx >= d.left && cx <= d.width - d.right) {
          lines.appendChild(sv("path", { class: "decision", fill: "#000",
            d: "M" + cx + "," + (y(n.id) - 5) + " l4,5 l-4,5 l-4,-5 z" }));
        }
      }
    });
    SVG.appendChild(lines);

    const group = sv("g", { id: "arrows" });
    const banner = document.getElementById("aggregated");
    CANVAS.getContext("2d").clearRect(0, 0, CANVAS.width, CANVAS.height);
    let count = 0, aggregate = true;
    if (!C) {
      count = drawPreBundles(banner);
      d.drawn = [];
    } else {
      const shown = inView();
      count = shown.length;
      aggregate = count > DATA.aggregate_above;
      if (aggregate) drawBundles(shown, banner);
      else {
        banner.hidden = true;
        for (const i of shown) group.appendChild(arrow(i));
      }
      d.drawn = aggregate ? [] : shown;
    }
    SVG.appendChild(group);
    SVG.setAttribute("data-in-view", String(count));
    SVG.setAttribute("data-arrows", aggregate ? "0" : String(count));
    SVG.setAttribute("data-aggregated", aggregate ? "1" : "0");
    const of = M.window ? " (the window " + fmt(M.window[0]) + " to " + fmt(M.window[1]) +
      " of the run's " + M.total.toLocaleString("en") + ")" : "";
    document.getElementById("diagram-count").textContent = count.toLocaleString("en") +
      " of " + M.count.toLocaleString("en") + " deliveries" + of + " in view (" +
      M.sends.toLocaleString("en") + " transmissions in the run), " + fmt(t0) + " to " +
      fmt(t1) + " " + UNIT + ".";
    for (const [id, t] of [["t-from", t0], ["t-to", t1]]) {
      const input = document.getElementById(id);
      if (document.activeElement !== input) input.value = fmt(t); // not while typed into
    }
  }

  function arrow(i) {
    const x1 = x(C.sent[i]), y1 = y(C.src[i]), x2 = x(C.time[i]), y2 = y(C.dst[i]);
    const k = C.kind[i];
    const outcome = M.labels.outcome[C.outcome[i]];
    const path = C.src[i] === C.dst[i]
      ? "M" + x1 + "," + y1 + " c8,-10 8,10 0.01,0" // a delivery to itself: a small loop
      : "M" + x1 + "," + y1 + " L" + x2 + "," + y2;
    const p = sv("path", { class: "arrow v-" + outcome + (i === diagram.selected ? " selected" : ""),
      d: path, stroke: COLOURS[k % COLOURS.length], "data-i": String(i),
      "marker-end": "url(#head-" + k + ")" });
    p.addEventListener("click", (e) => {
      e.stopPropagation();
      diagram.selected = i;
      showDetails(i);
      redraw();
    });
    return p;
  }

  // Bundles are drawn on a canvas under the SVG: at n = 64 there may be hundreds of
  // thousands, too many for SVG elements.
  function paintBundles(bundles) {
    const d = diagram;
    const ctx = CANVAS.getContext("2d");
    let most = 1;
    for (const e of bundles) if (e.count > most) most = e.count;
    ctx.lineWidth = 1.2;
    for (const e of bundles) {
      ctx.globalAlpha = 0.08 + 0.92 * Math.log1p(e.count) / Math.log1p(most);
      ctx.strokeStyle = e.kind < 0 ? "#333" : COLOURS[e.kind % COLOURS.length];
      ctx.beginPath();
      ctx.moveTo(x(e.sent), y(e.src));
      ctx.lineTo(x(e.recv), y(e.dst));
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
    ctx.clearRect(0, 0, d.left - 2, CANVAS.height); // keep the node labels legible
  }

  function drawBundles(shown, banner) {
    // per time bucket (by send time) and node pair: one line, its opacity the count
    const d = diagram;
    const buckets = Math.max(8, Math.floor((d.width - d.left - d.right) / 8));
    const [t0, t1] = d.view;
    const width = (t1 - t0) / buckets;
    const bundles = new Map();
    for (const i of shown) {
      const b = Math.min(buckets - 1, Math.max(0, Math.floor((C.sent[i] - t0) / width)));
      const key = (b * N + C.src[i]) * N + C.dst[i];
      let e = bundles.get(key);
      if (!e) {
        e = { sent: t0 + (b + 0.5) * width, src: C.src[i], dst: C.dst[i], count: 0, recv: 0,
          kind: C.kind[i] };
        bundles.set(key, e);
      }
      e.count += 1;
      e.recv += C.time[i];
      if (e.kind !== C.kind[i]) e.kind = -1;
    }
    const list = Array.from(bundles.values());
    list.forEach((e) => { e.recv /= e.count; });
    paintBundles(list);
    SVG.setAttribute("data-bundles", String(list.length));
    banner.hidden = false;
    banner.textContent = "Aggregated: " + shown.length.toLocaleString("en") +
      " deliveries in view (more than " + DATA.aggregate_above.toLocaleString("en") +
      ") are drawn as " + list.length.toLocaleString("en") + " bundles, one per time bucket of " +
      fmt(width) + " " + UNIT + " and node pair, darker for more (black: mixed kinds). " +
      "Zoom in or filter to see single messages.";
  }

  function drawPreBundles(banner) {
    // the page holds more deliveries than it embeds one by one: Python bundled them
    const d = diagram;
    const [t0, t1] = d.view;
    const list = [];
    let count = 0;
    for (let j = 0; j < PRE.count.length; j++) {
      const sent = PRE.t0 + (PRE.bucket[j] + 0.5) * PRE.width;
      if (!d.nodeOn[PRE.src[j]] || !d.nodeOn[PRE.dst[j]]) continue;
      const k = PRE.kind[j];
      if (k >= 0 ? !d.kindOn[k] : !d.kindOn.some((on) => on)) continue;
      if (PRE.recv[j] < t0 || sent - PRE.width / 2 > t1) continue;
      count += PRE.count[j];
      list.push({ sent: sent, src: PRE.src[j], dst: PRE.dst[j], count: PRE.count[j],
        recv: PRE.recv[j], kind: k });
    }
    paintBundles(list);
    SVG.setAttribute("data-bundles", String(list.length));
    banner.hidden = false;
    banner.textContent = "Aggregated: this page holds " + M.count.toLocaleString("en") +
      " deliveries, more than it embeds one by one (" + M.embed_limit.toLocaleString("en") +
      "), so they were bundled when it was written: " + PRE.count.length.toLocaleString("en") +
      " bundles, one per time bucket of " + fmt(PRE.width) + " " + UNIT + " and node pair, " +
      "darker for more (black: mixed kinds); node and kind filters apply. For single messages, " +
      "write a page of a time window: byzlab trace RUN_DIR --from T1 --to T2.";
    return count;
  }

  function showDetails(i) {
    const box = document.getElementById("details");
    clear(box);
    const rows = [];
    for (const name of Object.keys(C)) {
      if (name === "payload") continue;
      const v = M.labels[name] ? M.labels[name][C[name][i]] : C[name][i];
      rows.push([name, fmt(v)]);
    }
    const payload = M.payloads[C.payload[i]] || {};
    for (const name of Object.keys(payload)) {
      const v = payload[name];
      rows.push(["payload " + name, typeof v === "object" && v !== null ? JSON.stringify(v) : fmt(v)]);
    }
    box.appendChild(el("p", {}, "Delivery " + i + ": " + M.labels.kind[C.kind[i]] + " from node " +
      C.src[i] + " to node " + C.dst[i]));
    const t = table(["field", "value"], rows);
    t.id = "details-table";
    box.appendChild(t);
    if (C.origin[i] >= 0 && C.rbc_seq[i] >= 0) {
      const b = el("button", { type: "button" }, "ECHO/READY grid of instance (" + C.origin[i] +
        ", " + C.rbc_seq[i] + ")");
      b.addEventListener("click", () => showGrid(C.origin[i], C.rbc_seq[i]));
      box.appendChild(b);
    }
  }

  function segmentDistance(px, py, x1, y1, x2, y2) {
    const dx = x2 - x1, dy = y2 - y1;
    const length = dx * dx + dy * dy;
    const u = length ? Math.max(0, Math.min(1, ((px - x1) * dx + (py - y1) * dy) / length)) : 0;
    return Math.hypot(px - x1 - u * dx, py - y1 - u * dy);
  }

  function installZoom() {
    let drag = null;
    SVG.addEventListener("wheel", (e) => {
      e.preventDefault();
      const rect = SVG.getBoundingClientRect();
      const tc = tAt(e.clientX - rect.left);
      const factor = Math.exp(Math.max(-0.5, Math.min(0.5, e.deltaY * 0.002)));
      const [a, b] = diagram.view;
      const span = Math.max((b - a) * factor, 1e-6);
      const full = diagram.full[1] - diagram.full[0];
      if (span >= full) {
        diagram.view = diagram.full.slice();
      } else {
        let lo = tc - (tc - a) * factor;
        lo = Math.max(diagram.full[0], Math.min(lo, diagram.full[1] - span));
        diagram.view = [lo, lo + span];
      }
      redraw();
    }, { passive: false });
    SVG.addEventListener("mousedown", (e) => {
      drag = { x: e.clientX, view: diagram.view.slice(), moved: false };
      SVG.classList.add("dragging");
    });
    window.addEventListener("mousemove", (e) => {
      if (!drag) return;
      if (Math.abs(e.clientX - drag.x) < 3 && !drag.moved) return;
      drag.moved = true;
      const [a, b] = drag.view;
      const dt = (e.clientX - drag.x) / (diagram.width - diagram.left - diagram.right) * (b - a);
      let lo = a - dt;
      lo = Math.max(diagram.full[0] - (b - a) / 2, Math.min(lo, diagram.full[1] - (b - a) / 2));
      diagram.view = [lo, lo + (b - a)];
      redraw();
    });
    window.addEventListener("mouseup", () => {
      // the click that ends a drag comes after this: let it see that the mouse moved
      const ended = drag;
      setTimeout(() => { if (drag === ended) drag = null; }, 0);
      SVG.classList.remove("dragging");
    });
    // a click near an arrow selects it: arrows are thin, and a user aims at them roughly
    SVG.addEventListener("click", (e) => {
      if (drag && drag.moved) return;
      const rect = SVG.getBoundingClientRect();
      const px = e.clientX - rect.left, py = e.clientY - rect.top;
      let best = -1, bestDistance = 6;
      for (const i of diagram.drawn) {
        const dist = segmentDistance(px, py, x(C.sent[i]), y(C.src[i]), x(C.time[i]), y(C.dst[i]));
        if (dist < bestDistance) {
          best = i;
          bestDistance = dist;
        }
      }
      if (best >= 0) {
        diagram.selected = best;
        showDetails(best);
        redraw();
      }
    });
    SVG.addEventListener("dblclick", () => {
      diagram.view = diagram.full.slice();
      redraw();
    });
  }

  // ------------------------------------------------------------------ ECHO/READY grid
  const grid = { origin: 0, seq: 1 };

  function setupGrid() {
    const controls = document.getElementById("grid-controls");
    if (!C) {
      noData(document.getElementById("grid"), M ? "The grid needs single messages: this page " +
        "holds its deliveries aggregated (write a page of a time window with --from and --to)."
        : "No message trace.");
      return;
    }
    const origins = [];
    for (let i = 0; i < N; i++) origins.push([String(i), nodeName(i)]);
    const o = select("grid-origin", origins, (e) => showGrid(Number(e.target.value), grid.seq));
    const s = el("input", { type: "number", id: "grid-seq", min: "1", value: "1" });
    s.addEventListener("change", () => showGrid(grid.origin, Number(s.value)));
    const lo = el("label", {}, "origin ");
    lo.appendChild(o);
    const ls = el("label", {}, "seq ");
    ls.appendChild(s);
    controls.appendChild(lo);
    controls.appendChild(ls);
    showGrid(0, 1);
  }

  function showGrid(origin, seq) {
    grid.origin = origin;
    grid.seq = seq;
    const box = document.getElementById("grid");
    if (!C) return;
    document.getElementById("grid-origin").value = String(origin);
    document.getElementById("grid-seq").value = String(seq);
    clear(box);
    const kind = { INITIAL: M.labels.kind.indexOf("INITIAL"), ECHO: M.labels.kind.indexOf("ECHO"),
      READY: M.labels.kind.indexOf("READY") };
    const cells = {}; // "src,dst" -> [text, refused]
    const initial = new Array(N).fill(null);
    let item = null;
    let found = 0;
    for (let i = 0; i < M.count; i++) {
      if (C.origin[i] !== origin || C.rbc_seq[i] !== seq) continue;
      found += 1;
      const refused = M.labels.outcome[C.outcome[i]] !== "accepted";
      if (C.kind[i] === kind.INITIAL) {
        initial[C.dst[i]] = [C.time[i], refused];
        if (!item) item = M.payloads[C.payload[i]];
        continue;
      }
      const tag = C.kind[i] === kind.ECHO ? "E" : C.kind[i] === kind.READY ? "R" : null;
      if (!tag) continue;
      const key = C.src[i] + "," + C.dst[i];
      (cells[key] = cells[key] || []).push([tag, C.time[i], refused]);
    }
    if (!found) {
      box.appendChild(el("p", { class: "note" }, "No message of instance (" + origin + ", " + seq +
        ") in the trace."));
      return;
    }
    if (item) {
      const parts = Object.keys(item).filter((k) => k !== "message").map((k) =>
        k + " = " + (typeof item[k] === "object" && item[k] !== null ? JSON.stringify(item[k]) : fmt(item[k])));
      box.appendChild(el("p", { class: "note" }, "Instance (" + origin + ", " + seq + "): " +
        parts.join(", ")));
    }
    const t = el("table", { class: "grid", id: "grid-table" });
    const head = el("tr");
    head.appendChild(el("th", {}, "from \\ to"));
    for (let j = 0; j < N; j++) head.appendChild(el("th", {}, nodeName(j)));
    t.appendChild(head);
    const ir = el("tr");
    ir.appendChild(el("th", { class: "l" }, "INITIAL of " + origin));
    for (let j = 0; j < N; j++) {
      const c = initial[j];
      const td = el("td", { class: c ? "" : "none" }, c ? "I " + fmt(c[0]) : "-");
      if (c && c[1]) td.style.textDecoration = "line-through";
      ir.appendChild(td);
    }
    t.appendChild(ir);
    for (let i = 0; i < N; i++) {
      const tr = el("tr");
      tr.appendChild(el("th", { class: "l" }, nodeName(i)));
      for (let j = 0; j < N; j++) {
        const entries = cells[i + "," + j];
        const td = el("td", { class: entries ? "" : "none" });
        if (!entries) td.textContent = "-";
        else entries.sort((a, b) => a[1] - b[1]).forEach(([tag, time, refused], n) => {
          if (n) td.appendChild(el("br"));
          const s = el("span", {}, tag + " " + fmt(time));
          if (refused) s.style.textDecoration = "line-through";
          td.appendChild(s);
        });
        tr.appendChild(td);
      }
      t.appendChild(tr);
    }
    box.appendChild(t);
  }

  // ------------------------------------------------------------------ blackboards
  function setupBoards() {
    const box = document.getElementById("boards");
    const controls = document.getElementById("board-controls");
    const B = DATA.boards;
    if (!B) {
      noData(box, M ? "This run wrote no blackboard cells (" + (DATA.protocol || "its protocol") +
        " has no blackboards, or no node reached the coin)." : "No message trace.");
      return;
    }
    const holders = Object.keys(B.cells).map(Number).sort((a, b) => a - b);
    let end = 0;
    holders.forEach((p) => B.cells[p].forEach((c) => { if (c[4] > end) end = c[4]; }));
    const who = select("board-node", holders.map((p) => [String(p), "node " + p]), () => draw());
    const slider = el("input", { type: "range", id: "board-time", min: "0", max: String(end),
      step: String(end / 500 || 1), value: String(end) });
    const label = el("span", { id: "board-time-label" });
    slider.addEventListener("input", () => draw());
    const lw = el("label", {}, "view of ");
    lw.appendChild(who);
    controls.appendChild(lw);
    const lt = el("label", {}, "time ");
    lt.appendChild(slider);
    controls.appendChild(lt);
    controls.appendChild(label);
    const boards = Object.keys(B.rows).map(Number).sort((a, b) => a - b);

    function draw() {
      const p = Number(who.value);
      const t = Number(slider.value);
      label.textContent = fmt(t) + " " + UNIT;
      const held = {};
      B.cells[p].forEach(([b, r, q, v, at]) => { if (at <= t) held[b + "," + r + "," + q] = v; });
      clear(box);
      boards.forEach((b) => {
        const wrap = el("div");
        const rows = B.rows[b];
        let count = 0;
        const tb = el("table", { class: "board" });
        const head = el("tr");
        head.appendChild(el("th", {}, ""));
        for (let q = 0; q < N; q++) head.appendChild(el("th", {}, q));
        tb.appendChild(head);
        for (let r = 1; r <= rows; r++) {
          const tr = el("tr");
          tr.appendChild(el("th", {}, r));
          for (let q = 0; q < N; q++) {
            const v = held[b + "," + r + "," + q];
            const cls = v === undefined ? "empty" : v > 0 ? "pos" : v < 0 ? "neg" : "zero";
            if (v !== undefined) count += 1;
            tr.appendChild(el("td", { class: cls, title: "row " + r + ", column " + q },
              v === undefined ? "" : v > 0 ? "+" : v < 0 ? "-" : "0"));
          }
          tb.appendChild(tr);
        }
        const it = Math.ceil(b / 2);
        wrap.appendChild(el("div", { class: "small" }, "board " + b + " (iteration " + it + ", " +
          (b % 2 ? "stage 1 values" : "coin flips") + "): " + count + " cells"));
        wrap.appendChild(tb);
        box.appendChild(wrap);
      });
    }
    draw();
  }

  // ------------------------------------------------------------------ coins, weights, timeline
  function setupCoins() {
    const box = document.getElementById("coins");
    const T = DATA.trace;
    if (!T) return noData(box, "No trace.json (only simulator runs have one).");
    if (!T.coins.length) return noData(box, "No coin: every honest node decided without one.");
    T.coins.forEach((c) => {
      const ids = Object.keys(c.outputs).map(Number).sort((a, b) => a - b);
      box.appendChild(el("p", {}, "Iteration " + c.iteration + ": " +
        (c.unanimous ? "unanimous" : "split") + "."));
      const rows = ids.map((i) => {
        const bias = c.bias[i], sigma = c.sigma[i];
        const total = bias === undefined || sigma === undefined ? null : bias + sigma;
        const out = el("span", { class: c.outputs[i] > 0 ? "ok" : "bad" }, signed(c.outputs[i]));
        return [String(i), out, fmt(bias), fmt(sigma), fmt(total), bar(total, c)];
      });
      box.appendChild(table(["node", "output", "bias", "Sigma", "bias + Sigma", ""], rows));
    });
  }

  function bar(total, coin) {
    const s = sv("svg", { width: "160", height: "12" });
    if (total === null) return s;
    let most = 1e-9;
    Object.keys(coin.bias).forEach((k) => {
      const v = Math.abs(coin.bias[k] + (coin.sigma[k] || 0));
      if (v > most) most = v;
    });
    const w = 75 * Math.abs(total) / most;
    s.appendChild(sv("line", { x1: 80, x2: 80, y1: 0, y2: 12, stroke: "#444" }));
    s.appendChild(sv("rect", { x: total >= 0 ? 80 : 80 - w, y: 2, width: Math.max(w, 0.5), height: 8,
      fill: total >= 0 ? "#4e79a7" : "#e15759" }));
    return s;
  }

  function setupWeights() {
    const box = document.getElementById("weights");
    const T = DATA.trace;
    if (!T) return noData(box, "No trace.json (only simulator runs have one).");
    if (!T.epoch_weights.length) {
      return noData(box, (DATA.protocol || "This protocol") + " has no weights.");
    }
    box.appendChild(el("p", { class: "note" }, "The consensus weight of each node in each epoch " +
      "(an epoch is T = " + T.T + " iterations); a node whose blackboard cells are caught lying " +
      "loses weight, and a weight below w_min is 0."));
    const header = ["epoch"];
    for (let i = 0; i < N; i++) header.push(nodeName(i));
    const rows = T.epoch_weights.map((w, e) => {
      if (w === null) return [String(e + 1)].concat(new Array(N).fill("unknown"));
      return [String(e + 1)].concat(w.map((v) => {
        const s = el("span", {}, fmt(v));
        s.style.background = "rgba(78,121,167," + Math.max(0, Math.min(1, v)) * 0.6 + ")";
        return s;
      }));
    });
    box.appendChild(table(header, rows));
  }

  function setupTimeline() {
    const box = document.getElementById("timeline");
    const T = DATA.trace;
    if (!T) return noData(box, "No trace.json (only simulator runs have one).");
    const ids = Object.keys(T.starts).map(Number).sort((a, b) => a - b);
    const left = 70, width = 1000, lane = 18, top = 20;
    const end = T.end_time > 0 ? T.end_time : 1;
    const s = sv("svg", { width: left + width + 20, height: top + lane * ids.length + 10, id: "timeline-svg" });
    const tx = (t) => left + t / end * width;
    const step = niceStep(end, 10);
    for (let t = 0; t <= end; t += step) {
      s.appendChild(sv("line", { x1: tx(t), x2: tx(t), y1: top - 4, y2: top + lane * ids.length, stroke: "#eee" }));
      s.appendChild(sv("text", { class: "small", x: tx(t), y: top - 6, "text-anchor": "middle" }, fmt(t)));
    }
    const decided = {};
    T.decisions.forEach((d) => { decided[d.node] = d; });
    ids.forEach((i, row) => {
      const y0 = top + row * lane;
      s.appendChild(sv("text", { class: "small", x: 2, y: y0 + 12 }, "node " + i));
      const log = T.starts[i];
      const stop = T.halts[i] !== undefined ? T.halts[i] : end;
      log.forEach(([it, at], k) => {
        const next = k + 1 < log.length ? log[k + 1][1] : stop;
        const r = sv("rect", { x: tx(at), y: y0 + 2, width: Math.max(1, tx(next) - tx(at)), height: lane - 4,
          fill: it % 2 ? "#c6dbef" : "#9ecae1" });
        r.appendChild(sv("title", {}, "iteration " + it + " from " + fmt(at)));
        s.appendChild(r);
        s.appendChild(sv("text", { class: "small", x: tx(at) + 2, y: y0 + 13 }, it));
      });
      const d = decided[i];
      if (d) {
        const m = sv("path", { d: "M" + tx(d.time) + "," + (y0 + 1) + " l5,8 l-5,8 l-5,-8 z", fill: "#000" });
        m.appendChild(sv("title", {}, "decided " + signed(d.value) + " in iteration " + d.iteration +
          " at " + fmt(d.time)));
        s.appendChild(m);
      }
    });
    box.appendChild(el("p", { class: "note" }, "Each honest node's iterations (numbered), its " +
      "decision (diamond) and the time it halted (where its bar ends); time in " + UNIT + "."));
    box.appendChild(s);
  }

  setupDiagram();
  setupGrid();
  setupBoards();
  setupCoins();
  setupWeights();
  setupTimeline();
})();
