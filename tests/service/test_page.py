"""The page in a real browser (Debian's chromium driven by Playwright) against a real `kanserve serve` on 127.0.0.1:
draw real MNIST digits by replaying their ink as mouse strokes, pick a sample, upload a photo, open the KAN panel,
run the A/B panel, the offline API docs, a phone-sized screen and the keyboard. Every test asserts that the browser
logged no error and asked no host but the test server for anything. Screenshots go to the test's tmp dir."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from models.data import load_mnist
from tests.service.conftest import start_server, wait_ready
from tests.service.photos import render

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (.ci/run installs it); Playwright's download is unreachable
DRAWN = (0, 1)  # MNIST test images drawn stroke by stroke: a 7 and a 2
SAMPLES = 20  # the first MNIST test images, served to the page as its sample row
TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def mnist(data_dir) -> tuple[np.ndarray, np.ndarray]:
    return load_mnist("test", data_dir)


@pytest.fixture(scope="module")
def base_url(model_repo, tmp_path_factory):
    proc, port, log = start_server(model_repo, tmp_path_factory.mktemp("page"), KANSERVE_ACCESS_LOG="false")
    try:
        wait_ready(proc, port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()
        log.close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists() or shutil.which("chromium") is None:
        pytest.fail("Debian's chromium is not installed: apt-get install chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM))
        yield b
        b.close()


class Watched:
    """A page whose console errors, uncaught exceptions and requests to other hosts are recorded."""

    def __init__(self, browser, base_url: str, **context):
        self.context = browser.new_context(**context)
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.base, self.errors, self.foreign = base_url, [], []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", self._request)

    def _request(self, request):
        url = request.url
        if not url.startswith((self.base + "/", f"blob:{self.base}/", "data:")):
            self.foreign.append(url)

    def close(self):
        self.context.close()
        assert self.errors == [], self.errors
        assert self.foreign == [], self.foreign


@pytest.fixture
def watched(browser, base_url):
    opened = []

    def open_page(**context) -> Watched:
        opened.append(Watched(browser, base_url, **context))
        return opened[-1]

    yield open_page
    for w in opened:
        w.close()


def serve_samples(page, images: np.ndarray, labels: np.ndarray) -> None:
    """The page's sample row from real MNIST test digits (the server ships none yet): answered inside the browser,
    so no request leaves it."""
    body = {"source": f"the first {SAMPLES} MNIST test images",
            "samples": [{"label": int(labels[i]), "pixels": images[i].tolist()} for i in range(SAMPLES)]}
    page.route("**/samples.json", lambda route: route.fulfill(json=body))


def open_page(w: Watched, mnist) -> None:
    serve_samples(w.page, *mnist)
    w.page.goto(w.base + "/")
    w.page.wait_for_selector("body[data-ready=true]")


def labels_shown(page) -> list[str]:
    return page.locator(".card[data-model] .label").all_inner_texts()


def expect_labels(page, digit: int) -> None:
    """Both models (every served model) answer `digit`."""
    page.wait_for_function("d => [...document.querySelectorAll('.card[data-model] .label')].every(l => "
                           "l.textContent === d)", arg=str(digit))
    assert labels_shown(page) == [str(digit)] * 2


def trace(page, digit: np.ndarray, threshold: int = 80) -> None:
    """Replay the ink of a 28×28 digit on the board: each row's runs of ink become one mouse stroke, scaled up."""
    box = page.locator("#pad").bounding_box()
    step = box["width"] / 28
    for r, row in enumerate(digit >= threshold):
        columns = np.flatnonzero(row)
        for run in np.split(columns, np.flatnonzero(np.diff(columns) > 1) + 1) if len(columns) else []:
            y = box["y"] + (r + 0.5) * step
            page.mouse.move(box["x"] + (run[0] + 0.5) * step, y)
            page.mouse.down()
            page.mouse.move(box["x"] + (run[-1] + 0.5) * step, y, steps=max(1, len(run) // 2))
            page.mouse.up()


def test_draw_pick_upload_kan_and_ab(watched, mnist, tmp_path):
    images, labels = mnist
    w = watched(viewport={"width": 1200, "height": 900})
    page = w.page
    open_page(w, mnist)
    assert page.locator("#samples button").count() == SAMPLES
    for i in DRAWN:
        page.click("#clear")
        trace(page, images[i])
        expect_labels(page, labels[i])
        page.screenshot(path=tmp_path / f"drawn-{labels[i]}.png")
    assert page.locator(".card[data-model] img.seen:not([hidden])").count() == 2  # the 28×28 each model saw
    assert "round trip" in page.locator(".card[data-model] .timing").first.inner_text()

    page.locator("#samples button").nth(4).click()
    expect_labels(page, labels[4])

    photo = render(images[3], "photo", np.random.default_rng(5))
    page.set_input_files("#upload", files=[{"name": "digit.jpg", "mimeType": "image/jpeg", "buffer": photo}])
    expect_labels(page, labels[3])
    page.screenshot(path=tmp_path / "photo.png")

    page.click("#kan-panel summary")
    page.wait_for_selector("body[data-kan-layer='4']")
    assert page.locator("#functions figure").count() == 12
    assert f"says {labels[3]}" in page.locator("#contrib-note").inner_text()
    assert page.evaluate("() => { const c = document.getElementById('contributions'); return c.getContext('2d')"
                         ".getImageData(0, 0, c.width, c.height).data.some(v => v > 0); }")

    page.fill("#ab-iterations", "60")
    page.click("#ab-run")
    page.wait_for_selector("body[data-ab=done]")
    summary = page.locator("#ab-summary").inner_text()
    assert "95 % CI" in summary and f"of the {SAMPLES} sample digits" in summary, summary
    assert float(summary.split("agree on ")[1].split(" %")[0]) >= 90
    page.screenshot(path=tmp_path / "page.png", full_page=True)
    assert page.locator("[data-card]").count() >= 2  # model cards, with precision and sha256
    assert "fp32" in page.locator("#model-cards").inner_text()


def test_phone_screen_and_keyboard(watched, mnist, tmp_path):
    w = watched(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    page = w.page
    open_page(w, mnist)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375  # nothing wider than the phone
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.closest('#samples') !== null"):
            break
    page.keyboard.press("Tab")  # the second sample
    page.keyboard.press("Enter")
    expect_labels(page, mnist[1][1])
    page.screenshot(path=tmp_path / "phone.png", full_page=True)


def test_api_docs_work_offline(watched, tmp_path):
    w = watched(viewport={"width": 1200, "height": 900})
    page = w.page
    page.goto(w.base + "/docs")
    page.wait_for_selector('.opblock-summary-path:has-text("/v1/models/{name}/functions")')
    page.screenshot(path=tmp_path / "docs.png")
    page.goto(w.base + "/redoc")
    page.wait_for_selector("h2:has-text('Learned functions of a KAN model')")
    page.screenshot(path=tmp_path / "redoc.png")
    assert json.loads(page.evaluate("fetch('/openapi.json').then(r => r.text())"))["info"]["title"] == "kanserve"
