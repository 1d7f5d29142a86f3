"""Request bodies in /openapi.json for routes that parse their own body (for speed, and to accept several media
types): `json_body(Model)` documents the route, `install_openapi(app)` adds the models to the components."""
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

REF = "#/components/schemas/{model}"
_BODIES: dict[str, type[BaseModel]] = {}


def json_body(model: type[BaseModel], extra_content: dict | None = None, required: bool = True) -> dict:
    """`openapi_extra` for a route whose JSON body is `model` (plus other media types, e.g. multipart)."""
    _BODIES[model.__name__] = model
    content = {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}, **(extra_content or {})}
    return {"requestBody": {"required": required, "content": content}}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, model in _BODIES.items():
                body = model.model_json_schema(ref_template=REF)
                components.update(body.pop("$defs", {}))
                components[name] = body
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi
