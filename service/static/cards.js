// Cards: one per served model with its answer (top-3 bars, the 28×28 input it saw, latencies), one per version.
import {errorText} from "./api.js";

function el(tag, attrs = {}, ...children) {
  const node = Object.assign(document.createElement(tag), attrs);
  node.append(...children);
  return node;
}

export function predictionCard(m) {
  const card = el("article", {className: m.functions ? "card kan" : "card"},
    el("h3", {}, m.name, " ", el("small", {className: "hint"}, `version ${m.version} · ${m.precision}`)),
    el("div", {className: "answer"},
      el("div", {className: "label", title: "predicted digit"}, "–"),
      el("img", {className: "seen", alt: "the 28×28 input the model saw", hidden: true}),
      el("div", {className: "bars"})),
    el("p", {className: "timing"}, "Draw a digit, pick a sample or upload a photo."));
  card.dataset.model = m.name;
  return card;
}

function bar(label, p) {
  const fill = el("div", {className: "fill"});
  fill.style.width = `${(p * 100).toFixed(1)}%`;
  return el("div", {className: "bar"}, el("span", {}, String(label)), el("div", {className: "track"}, fill),
    el("span", {}, `${(p * 100).toFixed(1)} %`));
}

export function renderPrediction(m, r) {
  const card = document.querySelector(`.card[data-model="${CSS.escape(m.name)}"]`);
  const [label, seen, bars, timing] = ["label", "seen", "bars", "timing"].map((c) => card.querySelector(`.${c}`));
  bars.replaceChildren();
  seen.hidden = true;
  label.textContent = "–";
  timing.classList.remove("error");
  if (!r) return void (timing.textContent = "Draw a digit, pick a sample or upload a photo.");
  if (!r.ok) {
    timing.textContent = errorText(r);
    return void timing.classList.add("error");
  }
  const {probabilities, label: best} = r.body.predictions[0];
  label.textContent = String(best);
  probabilities.map((p, d) => [d, p]).sort((a, b) => b[1] - a[1]).slice(0, 3).forEach(([d, p]) => bars.append(bar(d, p)));
  const picture = r.body.debug?.[0]?.image_png_base64;
  if (picture) Object.assign(seen, {src: `data:image/png;base64,${picture}`, hidden: false});
  const t = r.body.timings;
  timing.textContent = `round trip ${r.ms.toFixed(1)} ms · server ${t.total_ms.toFixed(1)} ms ` +
    `(inference ${t.inference_ms.toFixed(2)} ms, queue ${t.queue_ms.toFixed(2)} ms, batch ${t.batch_size})`;
}

function fact(dl, term, value) {
  dl.append(el("dt", {}, term), el("dd", {}, value));
}

export function modelCard(m) {
  const facts = el("dl", {className: "facts"});
  fact(facts, "architecture", m.architecture ?? "—");
  fact(facts, "parameters", m.parameters?.toLocaleString("en") ?? "—");
  fact(facts, "test accuracy", m.test_accuracy == null ? "—" : `${(m.test_accuracy * 100).toFixed(2)} %`);
  fact(facts, "precision", m.precision ?? "—");
  fact(facts, "provider", m.provider ?? "—");
  fact(facts, "state", m.ready ? "ready" : `not ready: ${m.error}`);
  fact(facts, "sha256", el("code", {title: m.sha256 ?? ""}, m.sha256 ? `${m.sha256.slice(0, 16)}…` : "—"));
  const card = el("article", {className: "card"}, el("h3", {}, `${m.name} · version ${m.version}`), facts);
  card.dataset.card = `${m.name}/${m.version}`;
  return card;
}
