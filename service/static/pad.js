// The drawing board: white ink on black (MNIST's convention), with mouse, pen or finger (pointer events).
// It also shows what was picked instead: a sample digit (28×28 pixels) or a photo with the box the server found.

const INK = 18; // px on the 280 px board: about MNIST's stroke width once the digit is scaled into 20×20

export class Pad {
  constructor(canvas, onChange) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.onChange = onChange; // ("draw" | "end" | "clear")
    this.drawing = false;
    this.blank = true;
    canvas.addEventListener("pointerdown", (e) => this.down(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    for (const type of ["pointerup", "pointercancel"]) canvas.addEventListener(type, () => this.up());
    canvas.addEventListener("keydown", (e) => {
      if (["Escape", "Delete", "Backspace"].includes(e.key)) this.clear();
    });
    this.clear(false);
  }

  point(e) {
    const r = this.canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * this.canvas.width / r.width, (e.clientY - r.top) * this.canvas.height / r.height];
  }

  down(e) {
    e.preventDefault();
    this.canvas.setPointerCapture?.(e.pointerId);
    if (this.picked) this.clear(false); // drawing over a sample or a photo starts afresh
    this.drawing = true;
    this.last = this.point(e);
    this.line(this.last);
  }

  move(e) {
    if (!this.drawing) return;
    const p = this.point(e);
    this.line(p);
    this.last = p;
    this.onChange("draw");
  }

  up() {
    if (!this.drawing) return;
    this.drawing = false;
    this.onChange("end");
  }

  line([x, y]) {
    const c = this.ctx;
    Object.assign(c, {strokeStyle: "#fff", lineWidth: INK, lineCap: "round", lineJoin: "round"});
    c.beginPath();
    c.moveTo(...this.last);
    c.lineTo(x, y);
    c.stroke();
    this.blank = false;
  }

  clear(notify = true) {
    this.ctx.fillStyle = "#000";
    this.ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
    this.blank = true;
    this.picked = false;
    if (notify) this.onChange("clear");
  }

  png() {
    return this.canvas.toDataURL("image/png");
  }

  showPixels(pixels) { // 28×28 ints 0-255, scaled up
    const small = pixelCanvas(pixels);
    this.clear(false);
    this.ctx.imageSmoothingEnabled = true;
    this.ctx.drawImage(small, 0, 0, this.canvas.width, this.canvas.height);
    this.blank = false;
    this.picked = true;
  }

  showPhoto(img, bbox) { // fitted inside the board, with the digit's box (image pixels) when the server found one
    this.clear(false);
    const scale = Math.min(this.canvas.width / img.width, this.canvas.height / img.height);
    const [dx, dy] = [(this.canvas.width - img.width * scale) / 2, (this.canvas.height - img.height * scale) / 2];
    this.ctx.drawImage(img, dx, dy, img.width * scale, img.height * scale);
    if (bbox) {
      const [l, t, r, b] = bbox;
      Object.assign(this.ctx, {strokeStyle: "#ffb400", lineWidth: 2});
      this.ctx.strokeRect(dx + l * scale, dy + t * scale, (r - l) * scale, (b - t) * scale);
    }
    this.blank = false;
    this.picked = true;
  }
}

export function pixelCanvas(pixels) {
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = 28;
  const ctx = canvas.getContext("2d");
  const image = ctx.createImageData(28, 28);
  pixels.flat().forEach((v, i) => image.data.set([v, v, v, 255], i * 4));
  ctx.putImageData(image, 0, 0);
  return canvas;
}
