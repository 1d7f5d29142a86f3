// The page: draw, pick or upload a digit; every model predicts it in parallel; the KAN and A/B panels follow.
import {debounce, errorText, getJSON, postJSON} from "./api.js";
import {setupAB} from "./ab.js";
import {KanPanel} from "./kan.js";
import {Pad, pixelCanvas} from "./pad.js";
import {modelCard, predictionCard, renderPrediction} from "./cards.js";

const $ = (id) => document.getElementById(id);
const MAX_SIDE = 1600; // photos are scaled down to this before upload (the server works at ~320 px anyway)
const state = {models: [], seq: 0, samples: []};
let pad, kan;

function setStatus(text, error = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", error);
}

// One model per name, the version an unversioned request gets: the latest fp32 one. Baseline first, KAN last.
function servedVersions(models) {
  const rank = (m) => (m.precision === "fp32" ? 1e9 : 0) + (Number(m.version) || 0);
  const byName = new Map();
  models.filter((m) => m.ready).forEach((m) => {
    if (!byName.has(m.name) || rank(m) > rank(byName.get(m.name))) byName.set(m.name, m);
  });
  return [...byName.values()].sort((a, b) => Number(a.functions) - Number(b.functions) || a.name.localeCompare(b.name));
}

async function predict(payload) {
  const seq = ++state.seq;
  setStatus("Predicting…");
  const results = await Promise.all(state.models.map((m) => {
    const query = m.functions ? "debug=true&explain=true" : "debug=true";
    return postJSON(`/v1/models/${encodeURIComponent(m.name)}/predict?${query}`, payload);
  }));
  if (seq !== state.seq) return null; // a newer digit is already on its way
  state.models.forEach((m, i) => renderPrediction(m, results[i]));
  kan?.update(results[state.models.findIndex((m) => m.functions)]);
  const failed = results.find((r) => !r.ok);
  setStatus(failed ? errorText(failed) : "", Boolean(failed));
  document.body.dataset.predictions = String(seq);
  return results;
}

const predictDrawing = debounce(() => { if (!pad.blank && !pad.picked) predict({image_base64: pad.png()}); }, 150, 600);

function onPad(event) {
  if (event !== "clear") return predictDrawing();
  state.seq += 1; // answers still on their way are for the old digit
  state.models.forEach((m) => renderPrediction(m, null));
  kan?.update(null);
  setStatus("");
}

function renderedDigits() { // when the server ships no MNIST samples: digits drawn from a font, 28×28
  return Array.from({length: 10}, (_, label) => {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 28;
    const c = canvas.getContext("2d");
    Object.assign(c, {fillStyle: "#000"});
    c.fillRect(0, 0, 28, 28);
    Object.assign(c, {fillStyle: "#fff", font: "bold 21px system-ui, sans-serif", textAlign: "center",
      textBaseline: "middle"});
    c.fillText(String(label), 14, 15);
    const data = c.getImageData(0, 0, 28, 28).data;
    const pixels = Array.from({length: 28}, (_, r) => Array.from({length: 28}, (_, k) => data[(r * 28 + k) * 4]));
    return {label, pixels};
  });
}

async function loadSamples() {
  const r = await getJSON("/samples.json");
  const shipped = r.ok ? r.body.samples : [];
  state.samples = shipped.length ? shipped : renderedDigits();
  $("samples-note").textContent = shipped.length ? `${shipped.length} labelled digits: ${r.body.source}.`
    : "No MNIST sample digits ship with this server: these are rendered from a font.";
  state.samples.forEach((s, i) => {
    const button = document.createElement("button");
    button.type = "button";
    button.setAttribute("role", "listitem");
    button.setAttribute("aria-label", `sample ${i + 1}: a ${s.label}`);
    button.dataset.label = String(s.label);
    button.append(pixelCanvas(s.pixels));
    button.addEventListener("click", () => {
      pad.showPixels(s.pixels);
      predict({images: [s.pixels]});
    });
    $("samples").append(button);
  });
}

function loadImage(url) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("the browser cannot read this image"));
    img.src = url;
  });
}

async function photoPayload(file, img) { // the file as it is, or scaled down when it is large
  const scale = Math.min(1, MAX_SIDE / Math.max(img.width, img.height));
  if (scale === 1 && file.size < 4e6) {
    const url = await new Promise((resolve) => { const f = new FileReader(); f.onload = () => resolve(f.result); f.readAsDataURL(file); });
    return {payload: {image_base64: url}, scale: 1};
  }
  const canvas = document.createElement("canvas");
  [canvas.width, canvas.height] = [Math.round(img.width * scale), Math.round(img.height * scale)];
  canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
  return {payload: {image_base64: canvas.toDataURL("image/jpeg", 0.9)}, scale};
}

async function usePhoto(file) {
  if (!file || !file.type.startsWith("image/")) return setStatus("That is not an image.", true);
  const url = URL.createObjectURL(file);
  try {
    const img = await loadImage(url);
    const {payload, scale} = await photoPayload(file, img);
    pad.showPhoto(img);
    const results = await predict(payload);
    const bbox = results?.find((r) => r.ok)?.body.debug?.[0]?.bbox;
    if (bbox) pad.showPhoto(img, bbox.map((v) => v / scale));
  } catch (e) {
    setStatus(e.message, true);
  } finally {
    URL.revokeObjectURL(url);
  }
}

function wireInputs() {
  pad = new Pad($("pad"), onPad);
  $("clear").addEventListener("click", () => pad.clear());
  $("upload").addEventListener("change", (e) => { usePhoto(e.target.files[0]); e.target.value = ""; });
  window.addEventListener("paste", (e) => {
    const item = [...(e.clipboardData?.items ?? [])].find((i) => i.type.startsWith("image/"));
    if (item) usePhoto(item.getAsFile());
  });
}

async function init() {
  wireInputs();
  const r = await getJSON("/v1/models");
  if (!r.ok) return setStatus(`cannot list the models: ${errorText(r)}`, true);
  r.body.models.forEach((m) => $("model-cards").append(modelCard(m)));
  state.models = servedVersions(r.body.models);
  state.models.forEach((m) => $("predictions").append(predictionCard(m)));
  const kanModel = state.models.find((m) => m.functions);
  if (kanModel) kan = new KanPanel(kanModel);
  else $("kan-panel").replaceWith(Object.assign(document.createElement("p"), {textContent: "No KAN model with exported functions is served."}));
  await loadSamples();
  setupAB(state.models, state.samples);
  document.body.dataset.ready = "true";
}

init();
