// The A/B panel: POST /v1/compare with per-run samples; both latency histograms, the ratio with its CI, agreement.
import {errorText, postJSON} from "./api.js";
import {COLORS, drawHistograms} from "./charts.js";

const $ = (id) => document.getElementById(id);

function summary(body, a, b) {
  const ratio = body.ratios[`${b}/${a}`];
  const p50 = (m) => `${body.latency[m].p50_ms.toFixed(3)} ms`;
  const agreement = body.predictions
    ? ` They agree on ${(body.predictions.agreement * 100).toFixed(1)} % of the ${body.predictions.n} sample digits.` : "";
  return `${b} takes ${ratio.ratio.toFixed(2)}× the time of ${a} (median ${p50(b)} vs ${p50(a)}; 95 % CI of the ` +
    `ratio ${ratio.ci_low.toFixed(2)}–${ratio.ci_high.toFixed(2)}, ${body.config.iterations} runs each, batch ` +
    `${body.config.batch_size}, ${body.latency[a].provider}).${agreement}`;
}

export function setupAB(models, samples) {
  const form = $("ab-form");
  if (models.length < 2) {
    form.replaceWith(Object.assign(document.createElement("p"), {textContent: "A/B needs two served models."}));
    return;
  }
  const [a, b] = models.map((m) => m.name);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    $("ab-run").disabled = true;
    $("ab-summary").textContent = "Running…";
    const payload = {models: [a, b], iterations: Number($("ab-iterations").value), warmup: 10,
      batch_size: Number($("ab-batch").value), samples: true};
    if (samples.length) payload.images = samples.slice(0, 64).map((s) => s.pixels);
    const r = await postJSON("/v1/compare", payload);
    $("ab-run").disabled = false;
    if (!r.ok) return void ($("ab-summary").textContent = errorText(r));
    $("ab-summary").textContent = summary(r.body, a, b);
    $("ab-chart").hidden = false;
    drawHistograms($("ab-chart"), [{name: a, color: COLORS.a, values: r.body.samples_ms[a]},
      {name: b, color: COLORS.b, values: r.body.samples_ms[b]}]);
    document.body.dataset.ab = "done";
  });
}
