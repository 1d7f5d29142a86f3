// ReDoc hard-codes its sidebar logo to cdn.redoc.ly: point every other host's <img> at our icon instead, so /redoc asks
// no other host for anything (the logo is all it would fetch; scripts and styles are local files already).
const local = (url) => (new URL(String(url), location.href).origin === location.origin ? url : "/static/favicon.svg");
const src = Object.getOwnPropertyDescriptor(HTMLImageElement.prototype, "src");
Object.defineProperty(HTMLImageElement.prototype, "src", {...src, set(url) { src.set.call(this, local(url)); }});
const setAttribute = Element.prototype.setAttribute;
Element.prototype.setAttribute = function (name, value) {
  const image = this.tagName === "IMG" && name.toLowerCase() === "src";
  return setAttribute.call(this, name, image ? local(value) : value);
};
