"""`kanserve functions`: a KAN model's learned edge functions as a grid of small plots, from the functions.json the
service serves (one row per layer, its most important edges left to right), for reports and the README."""
from pathlib import Path

import numpy as np

from kanserve.repository import scan
from service.kan import FUNCTIONS_FILE, KanFunctions, read_functions, sample_edges


def load_functions(repository: str | Path, name: str, version: str | None = None) -> tuple[KanFunctions, str]:
    """The functions.json of `name` (its latest fp32 version unless `version`), verified; and the version read."""
    entries = [e for e in scan(Path(repository)) if e.name == name and (version is None or e.version == version)]
    with_functions = [e for e in entries if e.spec and FUNCTIONS_FILE in (e.spec.provenance.get("files") or {})]
    if not with_functions:
        raise ValueError(f"{name}{'/' + version if version else ''} in {repository} has no {FUNCTIONS_FILE}: "
                         "only KAN models exported with their functions have learnable activation functions")
    entry = max(with_functions, key=lambda e: (e.spec.precision == "fp32",
                                               int(e.version) if e.version.isdigit() else 0))
    return read_functions(entry.path.parent / FUNCTIONS_FILE,
                          entry.spec.provenance["files"][FUNCTIONS_FILE]), entry.version


def draw_functions(functions: KanFunctions, title: str, out: str | Path, top: int = 8, points: int = 96) -> Path:
    """One row per layer, its `top` most important edges φ over the inputs training produced; writes a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = functions.layers
    fig, axes = plt.subplots(len(rows), top, figsize=(1.9 * top, 1.55 * len(rows)), squeeze=False)
    for r, layer in enumerate(rows):
        edges = sample_edges(layer, top, points)
        for ax, edge in zip(axes[r], edges, strict=True):
            _panel(ax, edge)
        for ax in axes[r, len(edges):]:
            ax.axis("off")
        axes[r, 0].set_ylabel(f"layer {r}\n{layer.shape[1]}→{layer.shape[0]}", fontsize=9)
    measured = functions.measured
    fig.suptitle(f"{title}: the {top} most important learned functions φ(u) of each KAN layer (importance = mean |φ| "
                 f"over {measured.get('images')} training images; u spans the values they produced)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    out = Path(out)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def _panel(ax, edge: dict) -> None:
    x, y = np.asarray(edge["x"]), np.asarray(edge["y"])
    ax.axhline(0.0, color="#bbbbbb", linewidth=0.8)
    ax.plot(x, y, color="#d9531e", linewidth=1.6)
    ax.set_title(f"in {edge['in']} → out {edge['out']}  ({edge['importance']:.2f})", fontsize=8)
    ax.tick_params(labelsize=6, length=2)
