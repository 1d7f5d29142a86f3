"""Deterministic phone-photo-like renders of real MNIST test digits, each labelled with its corruption type.

Every paper render is a photo: lighting gradient and vignetting, lens blur, Gaussian sensor noise, JPEG quality
40–90, rotation up to ±15°, an off-centre digit of 35–75 % of a 160–640 px frame. On top of that each kind adds
one hard thing. `corpus(seed, n)` is reproducible: the same seed gives the same bytes (numpy's PCG64, OpenCV and
libjpeg are deterministic). Used by tests/service/test_photos.py and bench/imaging.py.
"""
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

KINDS = ("photo", "salt_pepper", "colored_paper", "pencil", "ruled", "squared", "shadow", "paper_edge",
         "whiteboard", "screenshot")


@dataclass(frozen=True)
class Render:
    data: bytes  # the encoded file, as a client would upload it
    label: int
    kind: str
    index: int  # position in the MNIST test split


def corpus(seed: int, n: int, data_dir: Path, kinds: tuple[str, ...] = KINDS) -> list[Render]:
    """n renders of distinct MNIST test digits, the kinds taking turns."""
    from models.data import load_mnist

    images, labels = load_mnist("test", data_dir)
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(images), size=n, replace=False)
    return [Render(render(images[i], kinds[j % len(kinds)], rng), int(labels[i]), kinds[j % len(kinds)], int(i))
            for j, i in enumerate(picks)]


def render(digit: np.ndarray, kind: str, rng: np.random.Generator, frame: tuple[int, int] | None = None) -> bytes:
    """One MNIST digit (uint8 [28, 28], white on black) as an encoded photo of the given kind.

    `frame` (height, width) overrides the random 160–640 px frame (the benchmark's 1 and 12 megapixel photos).
    """
    if kind == "screenshot":
        return _screenshot(digit, rng)
    h, w = frame or _frame(rng)
    ink = _place(digit, (h, w), rng, thick=kind == "whiteboard")  # float [h, w] in [0, 1]
    paper = _SURFACES.get(kind, _white_paper)(h, w, rng)  # float RGB [h, w, 3] in [0, 255]
    colour, strength = _ink_colour(kind, rng)
    img = paper * (1 - strength * ink[..., None]) + colour * strength * ink[..., None]
    img *= _lighting(h, w, rng, shadow=kind == "shadow")[..., None]
    img = _camera(img, rng, salt=kind == "salt_pepper")
    return _encode(img, "JPEG", int(rng.integers(40, 91)))


def _frame(rng: np.random.Generator) -> tuple[int, int]:
    side = int(rng.integers(160, 641))
    aspect = rng.uniform(0.75, 1.34)
    return side, int(np.clip(side * aspect, 160, 640))


def _place(digit: np.ndarray, shape: tuple[int, int], rng: np.random.Generator, thick: bool) -> np.ndarray:
    """The digit scaled so its 20 px MNIST box is 35–75 % of the frame, rotated, thickened (marker), offset."""
    h, w = shape
    scale = rng.uniform(0.35, 0.75) * min(h, w) / 20  # frame pixels per MNIST pixel
    size = max(28, round(28 * scale))
    big = cv2.resize(digit.astype(np.float32) / 255, (size, size), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    if thick:  # a whiteboard marker draws strokes about twice as wide
        radius = max(1, round(scale * 0.9))
        big = cv2.dilate(big, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2))
    centre = (w / 2 + rng.uniform(-0.15, 0.15) * w, h / 2 + rng.uniform(-0.15, 0.15) * h)
    m = cv2.getRotationMatrix2D((size / 2, size / 2), rng.uniform(-15, 15), 1.0)
    m[:, 2] += (centre[0] - size / 2, centre[1] - size / 2)
    return cv2.warpAffine(big, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0.0)


def _ink_colour(kind: str, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """RGB of the ink and how opaque it is: pen, pencil or marker."""
    if kind == "pencil":
        return np.full(3, rng.uniform(70, 120)), rng.uniform(0.55, 0.8)
    if kind == "whiteboard":
        markers = [(20, 20, 25), (25, 40, 150), (170, 25, 30), (20, 110, 50)]
        return np.array(markers[rng.integers(len(markers))], dtype=float), rng.uniform(0.85, 1.0)
    pens = [(15, 15, 20), (20, 30, 110), (35, 35, 45)]  # black, blue, dark grey ballpoint
    return np.array(pens[rng.integers(len(pens))], dtype=float), rng.uniform(0.8, 1.0)


def _white_paper(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    return np.broadcast_to(rng.uniform(215, 250, 3), (h, w, 3)).copy()


def _colored_paper(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    tints = [(250, 235, 150), (170, 215, 245), (250, 190, 210), (190, 235, 175), (245, 200, 140)]
    tint = np.array(tints[rng.integers(len(tints))], dtype=float) * rng.uniform(0.85, 1.0)
    return np.broadcast_to(tint, (h, w, 3)).copy()


def _lined(h: int, w: int, rng: np.random.Generator, squared: bool) -> np.ndarray:
    """White paper with pale printed lines (blue or grey), every 4–9 % of the frame, slightly tilted."""
    paper = _white_paper(h, w, rng)
    colour = np.array([(150, 180, 225), (170, 170, 175), (140, 190, 210)][rng.integers(3)], dtype=float)
    lines = np.zeros((h, w), np.float32)
    step, width = rng.uniform(0.04, 0.09) * max(h, w), int(rng.integers(1, 3))
    for y in np.arange(rng.uniform(0, step), h, step):
        cv2.line(lines, (0, int(y)), (w - 1, int(y)), 1.0, width)
    if squared:
        for x in np.arange(rng.uniform(0, step), w, step):
            cv2.line(lines, (int(x), 0), (int(x), h - 1), 1.0, width)
    elif rng.random() < 0.5:  # a red margin line
        x = int(rng.uniform(0.05, 0.2) * w)
        cv2.line(lines, (x, 0), (x, h - 1), 1.0, width)
    lines = cv2.warpAffine(lines, cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-3, 3), 1.0), (w, h))
    alpha = rng.uniform(0.5, 0.9) * lines[..., None]
    return paper * (1 - alpha) + colour * alpha


def _paper_edge(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A sheet that does not fill the frame: a darker desk shows along one or two edges."""
    desk = np.broadcast_to(rng.uniform(40, 150) * np.array([1.0, 0.8, 0.6]), (h, w, 3))
    desk = desk + rng.normal(0, 8, (h, w, 1))  # wood or cloth texture
    sheet = np.zeros((h, w), np.float32)
    margin = rng.uniform(0.03, 0.12, 4) * (w, h, w, h) * (rng.random(4) < 0.5)  # left, top, right, bottom
    cv2.rectangle(sheet, (int(margin[0]), int(margin[1])), (int(w - margin[2]), int(h - margin[3])), 1.0, -1)
    if not margin.any():  # at least one edge shows
        sheet[:, : max(4, w // 12)] = 0
    sheet = cv2.warpAffine(sheet, cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-4, 4), 1.0), (w, h))[..., None]
    return desk * (1 - sheet) + _white_paper(h, w, rng) * sheet


def _whiteboard(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A greyish-white board with a glare spot of a ceiling light."""
    board = _white_paper(h, w, rng) * rng.uniform(0.85, 0.95)
    yy, xx = np.mgrid[0:h, 0:w]
    cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.1, 0.3) * max(h, w)
    glare = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))[..., None]
    return board + (255 - board) * 0.8 * glare


_SURFACES: dict[str, Callable[[int, int, np.random.Generator], np.ndarray]] = {
    "colored_paper": _colored_paper,
    "ruled": lambda h, w, rng: _lined(h, w, rng, squared=False),
    "squared": lambda h, w, rng: _lined(h, w, rng, squared=True),
    "paper_edge": _paper_edge,
    "whiteboard": _whiteboard,
}


def _lighting(h: int, w: int, rng: np.random.Generator, shadow: bool) -> np.ndarray:
    """Multiplicative light: a linear gradient, vignetting, and optionally a soft shadow across the sheet."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = (xx - w / 2) / max(h, w), (yy - h / 2) / max(h, w)  # about -0.5..0.5
    angle = rng.uniform(0, 2 * np.pi)
    light = 1 + rng.uniform(0.1, 0.35) * (u * np.cos(angle) + v * np.sin(angle)) * 2
    light *= 1 - rng.uniform(0.1, 0.4) * (u * u + v * v) * 2
    if shadow:  # a half-plane darkened to 45–70 %, its edge blurred like a real penumbra
        a, offset = rng.uniform(0, 2 * np.pi), rng.uniform(-0.25, 0.25)
        side = (u * np.cos(a) + v * np.sin(a) > offset).astype(np.float32)
        sigma = rng.uniform(0.01, 0.04) * max(h, w)
        light *= 1 - rng.uniform(0.3, 0.55) * cv2.GaussianBlur(side, (0, 0), sigma)
    return light


def _camera(img: np.ndarray, rng: np.random.Generator, salt: bool) -> np.ndarray:
    """Lens blur, then sensor noise (Gaussian; salt-and-pepper for that kind), clipped to uint8 RGB."""
    img = cv2.GaussianBlur(img.astype(np.float32), (0, 0), rng.uniform(0.5, 1.5))
    img += rng.normal(0, rng.uniform(3, 12), img.shape[:2])[..., None] + rng.normal(0, 2, img.shape)
    if salt:
        hits = rng.random(img.shape[:2]) < rng.uniform(0.005, 0.03)
        img[hits] = rng.choice([0.0, 255.0], size=(int(hits.sum()), 1))
    return img.clip(0, 255).astype(np.uint8)


def _screenshot(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """A light digit drawn in a dark-themed app: flat dark background, no camera, PNG or JPEG."""
    h, w = _frame(rng)
    ink = _place(digit, (h, w), rng, thick=False)[..., None]
    background, colour = rng.uniform(10, 60, 3), rng.uniform(190, 255, 3)
    img = (background * (1 - ink) + colour * ink).clip(0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        return _encode(img, "PNG", 0)
    return _encode(img, "JPEG", int(rng.integers(40, 91)))


def _encode(img: np.ndarray, fmt: str, quality: int) -> bytes:
    buf = BytesIO()
    Image.fromarray(img).save(buf, fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    return buf.getvalue()
