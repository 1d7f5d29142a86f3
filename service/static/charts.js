// Hand-drawn canvas charts (no library to vendor): signed bars, overlaid histograms and small function curves.

export const COLORS = {a: "#2f6fde", b: "#d9531e", good: "#1f8a4c", bad: "#c0392b", axis: "#8a93a3", text: "#1d2330"};
const FONT = "12px system-ui, sans-serif";

function start(canvas) {
  const c = canvas.getContext("2d");
  c.clearRect(0, 0, canvas.width, canvas.height);
  c.font = FONT;
  return c;
}

function hline(c, y, x0, x1) {
  c.strokeStyle = COLORS.axis;
  c.lineWidth = 1;
  c.beginPath();
  c.moveTo(x0, y);
  c.lineTo(x1, y);
  c.stroke();
}

// One bar per value, up for positive (green) and down for negative (red), labelled with its index; the zero line
// sits where the values' range puts it, so all-positive bars use the whole height.
export function drawSignedBars(canvas, values) {
  const c = start(canvas), W = canvas.width, H = canvas.height, pad = 18;
  const hi = Math.max(0, ...values), lo = Math.min(0, ...values), span = hi - lo || 1;
  const y = (v) => pad + ((hi - v) / span) * (H - 2 * pad);
  const width = (W - 2 * pad) / values.length;
  hline(c, y(0), pad, W - pad);
  c.textAlign = "center";
  values.forEach((v, i) => {
    const x = pad + i * width;
    c.fillStyle = v >= 0 ? COLORS.good : COLORS.bad;
    c.fillRect(x + 2, Math.min(y(v), y(0)), Math.max(1, width - 4), Math.abs(y(v) - y(0)));
    c.fillStyle = COLORS.text;
    c.fillText(String(i), x + width / 2, v >= 0 ? y(0) + 14 : y(0) - 5);
  });
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1)))];
}

// Latency histograms of several series on one axis (the slowest 0.5 % share the last bin), with a legend.
export function drawHistograms(canvas, series, bins = 40) {
  const c = start(canvas), W = canvas.width, H = canvas.height, left = 36, right = 36, bottom = 28, top = 22;
  const pooled = series.flatMap((s) => s.values).sort((a, b) => a - b);
  const lo = pooled[0], hi = Math.max(quantile(pooled, 0.995), lo * 1.001 + 1e-6);
  const step = (hi - lo) / bins;
  const counts = series.map((s) => {
    const n = new Array(bins).fill(0);
    s.values.forEach((v) => { n[Math.min(bins - 1, Math.floor((v - lo) / step))] += 1; });
    return n.map((k) => k / s.values.length);
  });
  const peak = Math.max(...counts.flat(), 1e-9);
  const x = (v) => left + ((v - lo) / (hi - lo)) * (W - left - right);
  const y = (f) => H - bottom - (f / peak) * (H - bottom - top);
  hline(c, H - bottom, left, W - right);
  series.forEach((s, k) => {
    c.fillStyle = s.color;
    c.globalAlpha = 0.55;
    counts[k].forEach((f, i) => c.fillRect(x(lo + i * step), y(f), Math.max(1, x(lo + step) - x(lo) - 1), H - bottom - y(f)));
    c.globalAlpha = 1;
    c.fillRect(left + 8 + k * 150, 6, 12, 12);
    c.fillStyle = COLORS.text;
    c.textAlign = "left";
    c.fillText(s.name, left + 24 + k * 150, 16);
  });
  c.textAlign = "center";
  for (let i = 0; i <= 4; i += 1) {
    const v = lo + ((hi - lo) * i) / 4;
    c.fillText(`${v.toFixed(v < 10 ? 2 : 1)} ms`, x(v), H - 8);
  }
}

function interpolate(xs, ys, u) {
  const i = xs.findIndex((x) => x >= u);
  if (i <= 0) return ys[Math.max(i, 0)];
  const t = (u - xs[i - 1]) / (xs[i] - xs[i - 1]);
  return ys[i - 1] + t * (ys[i] - ys[i - 1]);
}

// φ over its training range, the zero line, and a dot at the current input (hollow when outside that range).
export function drawCurve(canvas, xs, ys, u, color = COLORS.b) {
  const c = start(canvas), W = canvas.width, H = canvas.height, pad = 6;
  const ymin = Math.min(0, ...ys), ymax = Math.max(0, ...ys), span = ymax - ymin || 1;
  const x = (v) => pad + ((v - xs[0]) / (xs.at(-1) - xs[0] || 1)) * (W - 2 * pad);
  const y = (v) => H - pad - ((v - ymin) / span) * (H - 2 * pad);
  hline(c, y(0), pad, W - pad);
  c.strokeStyle = color;
  c.lineWidth = 2;
  c.beginPath();
  xs.forEach((v, i) => (i ? c.lineTo(x(v), y(ys[i])) : c.moveTo(x(v), y(ys[i]))));
  c.stroke();
  if (u === null || u === undefined) return;
  const inside = u >= xs[0] && u <= xs.at(-1);
  const clamped = Math.min(Math.max(u, xs[0]), xs.at(-1));
  c.beginPath();
  c.arc(x(clamped), y(interpolate(xs, ys, clamped)), 4.5, 0, 2 * Math.PI);
  c.fillStyle = COLORS.text;
  c.strokeStyle = COLORS.text;
  if (inside) c.fill(); else c.stroke();
}
