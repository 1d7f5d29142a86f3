// The KAN panel: the most important learned functions of one layer (input marked) and why this answer (bars).
import {errorText, getJSON} from "./api.js";
import {drawCurve, drawSignedBars} from "./charts.js";

const $ = (id) => document.getElementById(id);
const TOP = 12, POINTS = 48;

export class KanPanel {
  constructor(model) {
    this.model = model;
    this.url = `/v1/models/${encodeURIComponent(model.name)}/functions`;
    this.explanation = null;
    this.edges = [];
    $("kan-panel").addEventListener("toggle", () => { if ($("kan-panel").open) this.open(); });
    $("kan-layer").addEventListener("change", (e) => this.show(Number(e.target.value)));
  }

  async open() {
    if (this.layers) return;
    const r = await getJSON(`${this.url}?top=1&points=2`); // every layer's shape, cheaply
    if (!r.ok) return void ($("kan-info").textContent = errorText(r));
    this.layers = r.body.layers;
    this.measured = r.body.measured;
    this.layers.forEach((l) => $("kan-layer").append(new Option(`${l.index}: ${l.inputs} → ${l.outputs}`, l.index)));
    $("kan-layer").value = String(this.layers.length - 1);
    await this.show(this.layers.length - 1);
  }

  async show(layer) {
    const r = await getJSON(`${this.url}?layer=${layer}&top=${TOP}&points=${POINTS}`);
    if (!r.ok) return void ($("kan-info").textContent = errorText(r));
    const info = r.body.layers[0];
    this.layer = layer;
    this.edges = info.edges;
    $("kan-info").textContent = `${info.inputs * info.outputs} edges; the ${this.edges.length} most important of ` +
      `them, ranked on ${this.measured.images} training images`;
    $("functions").replaceChildren(...this.edges.map((e) => {
      const canvas = Object.assign(document.createElement("canvas"), {width: 180, height: 110});
      canvas.setAttribute("role", "img");
      canvas.setAttribute("aria-label", `phi from input ${e.in} to output ${e.out}`);
      const caption = document.createElement("figcaption");
      caption.textContent = `φ in ${e.in} → out ${e.out} · importance ${e.importance.toFixed(3)}`;
      const figure = document.createElement("figure");
      figure.append(canvas, caption);
      return figure;
    }));
    this.redraw();
    document.body.dataset.kanLayer = String(layer);
  }

  update(result) {
    this.explanation = result?.ok ? result.body.explain?.[0] ?? null : null;
    this.redraw();
  }

  redraw() {
    const ex = this.explanation;
    const inputs = ex && this.layer !== undefined ? ex.edge_inputs[this.layer] : null;
    [...$("functions").querySelectorAll("canvas")].forEach((canvas, i) => {
      const e = this.edges[i];
      drawCurve(canvas, e.x, e.y, inputs ? inputs[e.in] : null);
    });
    const bars = $("contributions");
    if (!ex) {
      bars.getContext("2d").clearRect(0, 0, bars.width, bars.height);
      return void ($("contrib-note").textContent = "Draw or pick a digit.");
    }
    drawSignedBars(bars, ex.contributions);
    $("contrib-note").textContent = `${this.model.name} says ${ex.label}: its logit ${ex.logit.toFixed(3)} is the sum ` +
      `of the ${ex.contributions.length} edges of layer ${ex.layer} into class ${ex.label} (${ex.sum.toFixed(3)}) ` +
      `plus a bias of ${ex.bias}. Bars: each edge's φ at this digit's input (green for, red against).`;
  }
}
