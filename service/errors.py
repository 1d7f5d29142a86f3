"""One exception family for the service, mapped to JSON by one handler per API surface (/v1 and /v2)."""
import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

log = logging.getLogger("kanserve.errors")


class ServiceError(Exception):
    """An error a client can act on; `status` is the HTTP status, `code` a stable machine-readable name."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadRequest(ServiceError):
    pass


class Unauthorized(ServiceError):
    status, code = 401, "unauthorized"


class NotFound(ServiceError):
    status, code = 404, "not_found"


class Busy(ServiceError):
    status, code = 409, "busy"


class TooLarge(ServiceError):
    status, code = 413, "payload_too_large"


class UnsupportedMedia(ServiceError):
    status, code = 415, "unsupported_media_type"


class Overloaded(ServiceError):
    status, code = 503, "overloaded"


class NotReady(ServiceError):
    status, code = 503, "not_ready"


def v1_body(status: int, code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def v2_body(status: int, code: str, message: str) -> bytes:
    return json.dumps({"error": message}).encode()  # OIP's error shape


def error_response(path: str, status: int, code: str, message: str, headers: dict | None = None) -> Response:
    """The JSON error of the surface that owns `path`."""
    body = (v2_body if path.startswith("/v2") else v1_body)(status, code, message)
    return Response(body, status_code=status, headers=headers, media_type="application/json")


async def _service_error(request: Request, exc: ServiceError) -> Response:
    return error_response(request.url.path, exc.status, exc.code, exc.message, exc.headers)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(request.url.path, exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    return error_response(request.url.path, 422, "validation_error", str(exc.errors()[:3]))


async def _unexpected(request: Request, exc: Exception) -> Response:
    # A bug, not a client error: log it with the trace, but never send the trace to the client.
    log.exception("unhandled error", extra={"path": request.url.path})
    return error_response(request.url.path, 500, "internal", "internal server error")


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
