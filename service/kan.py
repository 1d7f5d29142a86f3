"""The KAN head's learned functions with numpy only (the serving install has no torch): read functions.json,
evaluate every edge's φ, sample edges for plots, and split a logit into the contributions of its edges.

A FasterKAN layer maps x [N, in] to y_j = Σ_i φ_ji(u_i) + bias_j, where u = LayerNorm(x) is what its edges read and
    φ_ji(u) = Σ_g c_jig · (1 - tanh²((u - g_g) · inv_h))        (eight RSWAF bases on a fixed grid g)
functions.json (written by export/functions.py with this module's math, so the importance ranked here is the φ
evaluated here) holds the coefficients, each input's range seen in training and each edge's importance. explain.onnx
(the same network with the KAN layers' inputs as outputs) gives x for an image; this module does the rest.
"""
import base64
import hashlib
import itertools
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from service.errors import NotFound, ServiceError

log = logging.getLogger("kanserve.kan")
FORMAT = "kanserve.kan-functions/1"
FUNCTIONS_FILE, EXPLAIN_FILE = "functions.json", "explain.onnx"


class KanDataError(ValueError):
    """functions.json or explain.onnx cannot be used; the message is safe to show to a client."""


def encode_array(a: np.ndarray) -> dict:
    """A float array as JSON: little-endian float32 bytes in base64 (exact, and ~4× smaller than decimal text)."""
    a = np.ascontiguousarray(a, dtype="<f4")
    return {"dtype": "float32", "shape": list(a.shape), "base64": base64.b64encode(a.tobytes()).decode("ascii")}


def decode_array(obj: dict) -> np.ndarray:
    """`encode_array`'s inverse, as float64 (the math below runs in float64)."""
    if not isinstance(obj, dict) or obj.get("dtype") != "float32":
        raise KanDataError("arrays must be {dtype: float32, shape, base64}")
    return np.frombuffer(base64.b64decode(obj["base64"], validate=True), "<f4").reshape(obj["shape"]).astype(np.float64)


@dataclass
class KanLayer:
    """One FasterKAN layer's weights, and what training showed about it (range and importance)."""

    coefficients: np.ndarray  # [out, in, G]
    grid: np.ndarray  # [G] basis centres
    inv_h: float
    ln_weight: np.ndarray  # [in]
    ln_bias: np.ndarray  # [in]
    ln_eps: float
    low: np.ndarray | None = None  # [in] smallest u_i seen in training
    high: np.ndarray | None = None  # [in] largest
    importance: np.ndarray | None = None  # [out, in] mean |φ_ji(u_i)| over training images

    @property
    def shape(self) -> tuple[int, int]:
        """(out, in)"""
        return self.coefficients.shape[0], self.coefficients.shape[1]

    @property
    def bias(self) -> np.ndarray:
        return np.zeros(self.shape[0])  # FasterKAN layers have none

    def edge_inputs(self, x: np.ndarray) -> np.ndarray:
        """x [N, in] -> u [N, in]: the LayerNorm every edge of this layer reads."""
        x = x.astype(np.float64)
        mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.ln_eps) * self.ln_weight + self.ln_bias

    def bases(self, u: np.ndarray) -> np.ndarray:
        """u [...] -> [..., G]"""
        t = np.tanh((u[..., None] - self.grid) * self.inv_h)
        return 1.0 - t * t

    def phi(self, u: np.ndarray) -> np.ndarray:
        """Every edge at once: u [N, in] -> φ [N, out, in]."""
        phi = np.matmul(self.bases(u).transpose(1, 0, 2), self.coefficients.transpose(1, 2, 0))  # [in, N, out]
        return phi.transpose(1, 2, 0)

    def forward(self, u: np.ndarray) -> np.ndarray:
        """The layer's output, Σ_i φ_ji(u_i) + bias_j: u [N, in] -> [N, out] (without φ's [N, out, in])."""
        return self.bases(u).reshape(len(u), -1) @ self.coefficients.reshape(self.shape[0], -1).T + self.bias

    def edge(self, out: int, inp: int, u: np.ndarray) -> np.ndarray:
        """One edge φ_{out,inp} at the points u [P] -> [P]."""
        return self.bases(u) @ self.coefficients[out, inp]

    def to_json(self) -> dict:
        data = {"kind": "fasterkan", "in": self.shape[1], "out": self.shape[0], "grid": self.grid.tolist(),
                "inv_h": self.inv_h, "layernorm": {"weight": encode_array(self.ln_weight),
                                                   "bias": encode_array(self.ln_bias), "eps": self.ln_eps},
                "coefficients": encode_array(self.coefficients)}
        if self.importance is not None:
            data |= {"range": {"low": encode_array(self.low), "high": encode_array(self.high)},
                     "importance": encode_array(self.importance)}
        return data

    @classmethod
    def from_json(cls, d: dict) -> "KanLayer":
        if d.get("kind") != "fasterkan":
            raise KanDataError(f"unsupported KAN layer kind {d.get('kind')!r}")
        ln, measured = d["layernorm"], d.get("range")
        layer = cls(decode_array(d["coefficients"]), np.asarray(d["grid"], np.float64), float(d["inv_h"]),
                    decode_array(ln["weight"]), decode_array(ln["bias"]), float(ln["eps"]))
        if measured is not None:
            layer.low, layer.high = decode_array(measured["low"]), decode_array(measured["high"])
            layer.importance = decode_array(d["importance"])
        return layer


@dataclass
class KanFunctions:
    """The head's layers in order, and how importance and ranges were measured (`measured`)."""

    layers: list[KanLayer]
    measured: dict
    explain_outputs: list[str]  # explain.onnx output names: the input of each layer, in order

    def to_json(self) -> dict:
        return {"format": FORMAT, "measured": self.measured, "explain_outputs": self.explain_outputs,
                "layers": [layer.to_json() for layer in self.layers]}

    @classmethod
    def from_json(cls, data: object) -> "KanFunctions":
        try:
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise KanDataError(f"not a {FORMAT} file")
            layers = [KanLayer.from_json(d) for d in data["layers"]]
            functions = cls(layers, dict(data["measured"]), [str(n) for n in data["explain_outputs"]])
        except (KeyError, TypeError, ValueError) as e:
            raise KanDataError(f"{FUNCTIONS_FILE}: {type(e).__name__}: {e}") from None
        functions.check()
        return functions

    def check(self) -> None:
        """Consecutive layers fit, one explain output per layer, and every layer carries its measurements."""
        widths = [layer.shape for layer in self.layers]
        if not widths or any(a[0] != b[1] for a, b in itertools.pairwise(widths)):
            raise KanDataError(f"{FUNCTIONS_FILE}: layer shapes {widths} do not chain")
        if len(self.explain_outputs) != len(self.layers) or any(k.importance is None for k in self.layers):
            raise KanDataError(f"{FUNCTIONS_FILE}: needs one explain output and measurements per layer")

    def edge_inputs(self, layer_inputs: list[np.ndarray]) -> list[np.ndarray]:
        """explain.onnx's outputs (each layer's x) -> each layer's u."""
        return [layer.edge_inputs(x) for layer, x in zip(self.layers, layer_inputs, strict=True)]


def read_verified(path: Path, sha256: str | None) -> bytes:
    """The file's bytes, after checking them against the hash metadata.json recorded."""
    data = path.read_bytes()
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise KanDataError(f"{path.name}: sha256 does not match metadata.json")
    return data


def read_functions(path: Path, sha256: str | None) -> KanFunctions:
    """functions.json, checked against the hash metadata.json recorded for it."""
    data = read_verified(path, sha256)
    try:
        return KanFunctions.from_json(json.loads(data))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise KanDataError(f"{FUNCTIONS_FILE}: unreadable JSON ({type(e).__name__})") from None


class Explainer:
    """explain.onnx (an onnxruntime session) and functions.json: why one image got its logit."""

    def __init__(self, functions: KanFunctions, session):
        names = {o.name for o in session.get_outputs()}
        if missing := [n for n in functions.explain_outputs if n not in names]:
            raise KanDataError(f"{EXPLAIN_FILE} lacks the outputs {missing}")
        self.functions, self.session = functions, session
        self.input_name = session.get_inputs()[0].name

    def edge_inputs(self, x: np.ndarray) -> list[np.ndarray]:
        """images [N,1,28,28] -> u [N, in_l] for every layer l."""
        return self.functions.edge_inputs(self.session.run(self.functions.explain_outputs, {self.input_name: x}))

    def explain(self, x: np.ndarray, logits: np.ndarray) -> list[dict]:
        """Per image: the last layer's edge contributions φ_{c,i}(u_i) to the served logit of the predicted class c
        (they sum to it up to the bias), and what every layer's edges read (u, for marking the curves)."""
        us = self.edge_inputs(x)
        last = self.functions.layers[-1]
        out = []
        for n, row in enumerate(logits):
            c = int(row.argmax())
            contributions = np.einsum("ig,ig->i", last.bases(us[-1][n]), last.coefficients[c])  # [in]
            out.append({"label": c, "layer": len(us) - 1, "logit": float(row[c]), "bias": float(last.bias[c]),
                        "sum": float(contributions.sum() + last.bias[c]), "contributions": contributions,
                        "edge_inputs": [np.round(u[n], 6) for u in us]})
        return out


def load_explainer(entry, make_session) -> tuple[Explainer | None, str | None]:
    """The version's Explainer when metadata.json names functions.json and explain.onnx, else (None, None);
    (None, reason) when they are named but unusable: the model itself is still served."""
    files = (entry.spec.provenance.get("files") if entry.spec else None) or {}
    if FUNCTIONS_FILE not in files:
        return None, None
    try:
        return _explainer(entry.path.parent, files, make_session), None
    except Exception as e:
        reason = str(e) if isinstance(e, KanDataError) else f"{type(e).__name__} while loading {EXPLAIN_FILE}"
        log.warning("KAN functions not loaded", extra={"model": entry.name, "version": entry.version,
                                                        "reason": reason})
        return None, reason


def _explainer(folder: Path, files: dict, make_session) -> Explainer:
    functions = read_functions(folder / FUNCTIONS_FILE, files[FUNCTIONS_FILE])
    read_verified(folder / EXPLAIN_FILE, files.get(EXPLAIN_FILE))
    return Explainer(functions, make_session(str(folder / EXPLAIN_FILE)))


def explainer_of(rt, error: type[ServiceError] = NotFound) -> Explainer:
    """The model's Explainer, or `error` saying why it has none (an MLP has no learnable activation functions)."""
    if rt.kan is not None:
        return rt.kan
    why = (f"its KAN functions could not be loaded ({rt.kan_error})" if rt.kan_error else
           "it has no learnable activation functions (only a KAN head has them, exported with functions.json)")
    raise error(f"model {rt.name}/{rt.version} cannot show its functions: {why}")


def sample_edges(layer: KanLayer, top: int, points: int) -> list[dict]:
    """The `top` most important edges of `layer`, each φ sampled at `points` even steps over its training range."""
    order = np.argsort(-layer.importance, axis=None, kind="stable")[:top]
    outs, ins = np.unravel_index(order, layer.importance.shape)
    steps = np.linspace(0.0, 1.0, points)
    u = layer.low[ins, None] + (layer.high[ins] - layer.low[ins])[:, None] * steps  # [E, P]
    y = np.einsum("epg,eg->ep", layer.bases(u), layer.coefficients[outs, ins])
    return [{"out": int(j), "in": int(i), "importance": float(layer.importance[j, i]),
             "range": [float(layer.low[i]), float(layer.high[i])], "x": np.round(u[e], 6), "y": np.round(y[e], 6)}
            for e, (j, i) in enumerate(zip(outs, ins, strict=True))]
