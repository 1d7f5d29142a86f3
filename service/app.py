"""The app factory: create_app(settings) wires the runtime, the routers, the error handlers and the middleware."""
import asyncio
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.responses import Response

from service import routes_v1, routes_v2
from service.core import Service
from service.deps import ServiceDep
from service.errors import install_handlers
from service.metrics import Metrics
from service.middleware import ServiceMiddleware
from service.openapi import install_openapi
from service.routes_page import DOCS_ASSETS, install_page
from service.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics()
    service = Service(settings, metrics)
    known_models: set[str] = set()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Sessions load here, not at import, so tests and the CLI control when (and with which settings).
        await asyncio.to_thread(service.load)
        known_models.update(service.models)
        try:
            yield
        finally:
            service.close()

    # Swagger UI from fastapi-offline's local copy (FastAPI's own /docs loads it from a CDN); /redoc: routes_page.
    app = FastAPIOffline(title="kanserve", version="0.1.0", lifespan=lifespan, docs_url="/docs", redoc_url=None,
                         static_url=DOCS_ASSETS, favicon_url="/static/favicon.svg",
                         swagger_ui_parameters={"validatorUrl": None},
                         description="KAN and MLP MNIST classifiers on onnxruntime: a friendly /v1 API, the Open "
                                     "Inference Protocol on /v2, and a page for people at /.")
    app.state.service = service
    # /v2 first: FastAPI tries routes in order, and per-route matching is a measurable part of a small request.
    app.include_router(routes_v2.router)
    app.include_router(routes_v1.router)
    install_page(app)
    app.add_api_route("/metrics", _metrics, methods=["GET"], include_in_schema=False)
    install_handlers(app)
    install_openapi(app)
    key = settings.api_key.get_secret_value() if settings.api_key else None
    app.add_middleware(ServiceMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes,
                       body_timeout_s=settings.body_timeout_s, api_key=key, known_models=known_models,
                       access_log=settings.access_log)
    return app


async def _metrics(svc: ServiceDep) -> Response:
    body, content_type = svc.metrics.expose()
    return Response(body, media_type=content_type)
