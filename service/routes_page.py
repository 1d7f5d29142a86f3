"""The page for people (GET / and its static files: no CDN, no web fonts, works offline), ReDoc from local files, and
the KAN head's learned functions (GET /v1/models/{name}/functions). Swagger UI at /docs is fastapi-offline's
(service/app.py), whose static files also serve ReDoc's script here."""
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query
from fastapi.openapi.docs import get_redoc_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import FileResponse, HTMLResponse, Response

from service.body import json_response
from service.deps import ServiceDep
from service.errors import BadRequest
from service.kan import KanLayer, explainer_of, sample_edges
from service.schemas import V1_ERRORS, FunctionsResponse

STATIC = Path(__file__).parent / "static"
DOCS_ASSETS = "/static/docs"  # fastapi-offline's Swagger UI and ReDoc files (mounted by FastAPIOffline in app.py)
SAMPLES = STATIC / "samples.json"  # labelled MNIST test digits for the page's sample row, when the package ships them
LAYER = Annotated[int | None, Query(ge=0, description="one KAN layer of the head (0 = first); default: every layer")]
TOP = Annotated[int, Query(ge=1, le=1 << 20, description="keep the k most important edges of each layer")]
MAX_SAMPLES = 262_144  # edges × points in one /functions answer (~5 MB of JSON)
POINTS = Annotated[int, Query(ge=2, le=512, description="samples per edge, evenly spaced over its training range")]

page = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/v1", tags=["v1"], responses=V1_ERRORS)


@page.get("/")
async def index() -> FileResponse:
    return FileResponse(STATIC / "index.html", media_type="text/html")


@page.get("/redoc")
async def redoc() -> HTMLResponse:
    """ReDoc from local files, with redoc-local.js first: ReDoc hard-codes a CDN URL for its sidebar logo."""
    html = get_redoc_html(openapi_url="/openapi.json", title="kanserve - ReDoc", with_google_fonts=False,
                          redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js", redoc_favicon_url="/static/favicon.svg")
    body = html.body.decode().replace("<script src=", '<script src="/static/redoc-local.js"></script>\n<script src=', 1)
    return HTMLResponse(body)


@page.get("/samples.json")
async def samples() -> Response:
    """{"source", "samples": [{"label", "pixels": 28×28 ints}]}; none shipped: the page draws digits from a font."""
    if SAMPLES.exists():
        return FileResponse(SAMPLES, media_type="application/json")
    return json_response({"source": None, "samples": []})


@api.get("/models/{name}/functions", response_model=FunctionsResponse, summary="Learned functions of a KAN model")
async def functions(name: str, svc: ServiceDep, layer: LAYER = None, top: TOP = 16, points: POINTS = 32) -> Response:
    """A KAN model's learned edge functions φ, most important first (importance: mean |φ| over training images,
    measured at export), each sampled over the range its input took in training. An MLP has none: 404."""
    model = svc.ready_model(name)
    return json_response(await svc.pool.run(functions_body, model, layer, top, points))


def functions_body(rt, layer: int | None, top: int, points: int) -> dict:
    """GET /v1/models/{name}/functions: the `top` most important edges of one layer (or of each), sampled."""
    kan = explainer_of(rt)
    layers = kan.functions.layers
    if layer is not None and layer >= len(layers):
        raise BadRequest(f"layer must be in 0..{len(layers) - 1} for {rt.name}")
    chosen = range(len(layers)) if layer is None else [layer]
    samples = sum(min(top, layers[i].importance.size) for i in chosen) * points
    if samples > MAX_SAMPLES:
        raise BadRequest(f"that asks for {samples} samples (edges × points), above the limit of {MAX_SAMPLES}; "
                         "choose one `layer`, a smaller `top` or fewer `points`")
    prov = rt.spec.provenance if rt.spec else {}
    return {"model": rt.name, "version": rt.version, "architecture": prov.get("architecture"),
            "measured": kan.functions.measured, "layers": [_layer_body(i, layers[i], top, points) for i in chosen]}


def _layer_body(index: int, layer: KanLayer, top: int, points: int) -> dict:
    out, inp = layer.shape
    return {"index": index, "kind": "fasterkan", "inputs": inp, "outputs": out,
            "basis": {"kind": "rswaf", "formula": "1 - tanh²((u - centre)·inv_h)", "centres": layer.grid,
                      "inv_h": layer.inv_h}, "edges": sample_edges(layer, top, points)}


def install_page(app: FastAPI) -> None:
    """The page, its static files under /static, and the functions route."""
    app.include_router(page)
    app.include_router(api)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
