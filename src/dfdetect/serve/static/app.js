// dfdetect web page: upload a file, show each face boxed with its verdict, the per-person
// timeline (videos), heatmaps, and offer the JSON. Plain DOM, no dependencies.
"use strict";

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const PALETTE = ["#2563eb", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d", "#9333ea", "#ea580c"];
const state = { info: null, result: null, objectUrl: null, filename: "" };

function svgEl(name, attrs, text) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

function setStatus(text) { $("status").textContent = text; }
function showError(text) { $("error").textContent = text; $("error").hidden = !text; }

function headers() {
  const key = $("api-key").value || localStorage.getItem("dfdetect-api-key") || "";
  if (key) localStorage.setItem("dfdetect-api-key", key);
  return key ? { "X-API-Key": key } : {};
}

async function api(path, options = {}) {
  const response = await fetch(path, { ...options, headers: { ...headers(), ...(options.headers || {}) } });
  let body = null;
  try { body = await response.json(); } catch (_) { /* not JSON */ }
  if (!response.ok) {
    const err = body && body.error ? body.error : { code: String(response.status), message: response.statusText };
    const e = new Error(`${err.message} (${response.status} ${err.code})`);
    e.status = response.status;
    e.code = err.code;
    throw e;
  }
  return body;
}

async function loadInfo() {
  try {
    const info = await api("/v1/info");
    state.info = info;
    const mb = (info.max_upload_bytes / 1048576).toFixed(0);
    $("model-info").textContent = `model ${info.model} · ${info.status} · uploads up to ${mb} MB`;
    $("key-row").hidden = !info.auth_required;
    $("api-key").value = localStorage.getItem("dfdetect-api-key") || "";
    $("heatmaps").checked = info.heatmaps;
    if (info.status === "loading") setTimeout(loadInfo, 2000);
  } catch (e) {
    $("model-info").textContent = `service unreachable: ${e.message}`;
  }
}

async function analyze(file) {
  showError("");
  $("result").hidden = true;
  state.filename = file.name;
  const isVideo = file.type.startsWith("video/");
  const form = new FormData();
  form.append("file", file, file.name);
  const query = `?heatmaps=${$("heatmaps").checked}`;
  try {
    let result;
    if (!isVideo) {
      setStatus(`analyzing ${file.name}…`);
      try {
        result = await api(`/v1/images${query}`, { method: "POST", body: form });
      } catch (e) {
        if (e.code !== "video_upload") throw e;  // a video without a video/* type
        result = await runJob(form, query, file.name);
        return show(file, result, true);
      }
      return show(file, result, false);
    }
    result = await runJob(form, query, file.name);
    show(file, result, true);
  } catch (e) {
    setStatus("");
    showError(`${file.name}: ${e.message}`);
  }
}

async function runJob(form, query, name) {
  setStatus(`uploading ${name}…`);
  const job = await api(`/v1/jobs${query}`, { method: "POST", body: form });
  const started = Date.now();
  for (;;) {
    const status = await api(job.links.self);
    const secs = ((Date.now() - started) / 1000).toFixed(0);
    if (status.status === "done") break;
    if (status.status === "failed") throw new Error(status.error ? status.error.message : "the job failed");
    setStatus(`job ${status.status} (${secs} s)…`);
    await new Promise((r) => setTimeout(r, 700));
  }
  return api(job.links.result);
}

function show(file, result, isVideo) {
  state.result = result;
  setStatus(`${result.faces.length} face(s), ${result.persons.length} person(s), ${result.elapsed_s} s`);
  if (state.objectUrl) URL.revokeObjectURL(state.objectUrl);
  state.objectUrl = URL.createObjectURL(file);
  const img = $("image"), video = $("video");
  img.hidden = isVideo; video.hidden = !isVideo;
  const media = result.media || {};
  const width = media.width || 1, height = media.height || 1;
  $("overlay").setAttribute("viewBox", `0 0 ${width} ${height}`);
  if (isVideo) {
    img.removeAttribute("src");
    video.src = state.objectUrl;
    video.ontimeupdate = () => { drawFaces(nearestFrame(video.currentTime)); drawNow(video.currentTime); };
    drawFaces(result.frames.length ? result.frames[0].index : 0);
  } else {
    video.removeAttribute("src");
    img.src = state.objectUrl;
    drawFaces(0);
  }
  showVerdict(result);
  showPersons(result);
  showTimeline(result, isVideo);
  showHeatmaps(result);
  $("result").hidden = false;
}

function showVerdict(result) {
  const el = $("verdict");
  el.className = "verdict";
  if (result.status === "no_face") {
    el.textContent = "No face found";
    return;
  }
  el.classList.add(result.label);
  el.textContent = `${result.label.toUpperCase()}: P(fake) ${result.prob.toFixed(3)} (threshold ${result.threshold.toFixed(2)})`;
}

function nearestFrame(t) {
  let best = null, gap = Infinity;
  for (const f of state.result.frames) {
    const d = Math.abs((f.time_s || 0) - t);
    if (d < gap) { gap = d; best = f.index; }
  }
  return best;
}

function drawFaces(frameIndex) {
  const svg = $("overlay");
  svg.replaceChildren();
  const width = (state.result.media || {}).width || 640;
  for (const face of state.result.faces) {
    if (face.frame_index !== frameIndex) continue;
    const [x1, y1, x2, y2] = face.box;
    svg.append(svgEl("rect", { x: x1, y: y1, width: x2 - x1, height: y2 - y1, class: face.label }));
    const size = Math.max(12, width / 40);
    svg.append(svgEl("text", { x: x1, y: Math.max(size, y1 - 4), "font-size": size, class: face.label },
      `P${face.person} ${face.label} ${face.prob.toFixed(2)}`));
  }
}

function showPersons(result) {
  const body = $("persons").querySelector("tbody");
  body.replaceChildren();
  for (const p of result.persons) {
    const row = document.createElement("tr");
    const seen = p.first_time_s == null ? "" : `${p.first_time_s.toFixed(1)}–${p.last_time_s.toFixed(1)} s`;
    for (const [text, cls] of [[`P${p.id}`], [p.label, p.label], [p.prob.toFixed(3)], [p.max_prob.toFixed(3)], [p.n_faces], [seen]]) {
      const td = document.createElement("td");
      td.textContent = text;
      if (cls) td.className = cls;
      row.append(td);
    }
    body.append(row);
  }
}

function showTimeline(result, isVideo) {
  const box = $("timeline-box"), svg = $("timeline");
  svg.replaceChildren();
  box.hidden = !isVideo || result.faces.length === 0;
  if (box.hidden) return;
  const W = 640, H = 200, L = 36, R = 10, T = 10, B = 24;
  const duration = (result.media && result.media.duration_s) || Math.max(...result.faces.map((f) => f.time_s || 0), 1);
  const x = (t) => L + (t / duration) * (W - L - R);
  const y = (p) => T + (1 - p) * (H - T - B);
  svg.append(svgEl("line", { x1: L, y1: y(0), x2: W - R, y2: y(0), class: "axis" }));
  svg.append(svgEl("line", { x1: L, y1: y(1), x2: L, y2: y(0), class: "axis" }));
  svg.append(svgEl("line", { x1: L, y1: y(result.threshold), x2: W - R, y2: y(result.threshold), class: "threshold" }));
  svg.append(svgEl("text", { x: 2, y: y(1) + 4 }, "1.0"));
  svg.append(svgEl("text", { x: 2, y: y(0) + 4 }, "0.0"));
  svg.append(svgEl("text", { x: W - R - 40, y: H - 6 }, `${duration.toFixed(1)} s`));
  result.persons.forEach((p, i) => {
    const colour = PALETTE[i % PALETTE.length];
    const pts = result.faces.filter((f) => f.person === p.id).sort((a, b) => a.time_s - b.time_s)
      .map((f) => `${x(f.time_s || 0).toFixed(1)},${y(f.prob).toFixed(1)}`);
    svg.append(svgEl("polyline", { points: pts.join(" "), stroke: colour }));
    svg.append(svgEl("text", { x: L + 6 + 70 * i, y: T + 12, style: `fill:${colour}` }, `P${p.id} ${p.label}`));
  });
  svg.append(svgEl("line", { id: "now", x1: L, y1: y(1), x2: L, y2: y(0), class: "now" }));
  svg.onclick = (ev) => {
    const rect = svg.getBoundingClientRect();
    const px = ((ev.clientX - rect.left) / rect.width) * W;
    $("video").currentTime = Math.min(duration, Math.max(0, ((px - L) / (W - L - R)) * duration));
  };
  drawNow.x = x;
}

function drawNow(t) {
  const line = document.getElementById("now");
  if (!line || !drawNow.x) return;
  line.setAttribute("x1", drawNow.x(t));
  line.setAttribute("x2", drawNow.x(t));
}

function showHeatmaps(result) {
  const list = $("heatmap-list");
  list.replaceChildren();
  const maps = result.heatmaps || [];
  $("heatmaps-box").hidden = maps.length === 0;
  const persons = Object.fromEntries(result.persons.map((p) => [p.id, p]));
  for (const h of maps) {
    for (const [src, what] of [[h.crop, "face"], [h.frame, "frame"]]) {
      const fig = document.createElement("figure");
      const img = document.createElement("img");
      img.src = src;
      img.alt = `heatmap of person ${h.person} on the ${what}`;
      const cap = document.createElement("figcaption");
      const p = persons[h.person];
      cap.textContent = `P${h.person} ${what}${p ? ` · ${p.label} ${p.prob.toFixed(2)}` : ""}`;
      fig.append(img, cap);
      list.append(fig);
    }
  }
}

function download() {
  const blob = new Blob([JSON.stringify(state.result, null, 2)], { type: "application/json" });
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `${state.filename || "result"}.dfdetect.json`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

$("file").addEventListener("change", (ev) => { if (ev.target.files[0]) analyze(ev.target.files[0]); });
const drop = $("drop");
drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (ev) => {
  ev.preventDefault();
  drop.classList.remove("over");
  if (ev.dataTransfer.files[0]) analyze(ev.dataTransfer.files[0]);
});
$("download").addEventListener("click", download);
loadInfo();
