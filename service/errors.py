"""One exception family for the service, mapped to JSON by one handler per API surface (/v1 and /v2)."""
import logging

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from kanserve.contract import ContractError

log = logging.getLogger("kanserve.errors")
CLIENT_CLOSED = 499  # nginx's status for a client that went away before the answer: not a server error


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


class NotFound(ServiceError):
    status, code = 404, "not_found"


class RequestTimeout(ServiceError):
    status, code = 408, "request_timeout"


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


def error_body(path: str, code: str, message: str) -> bytes:
    """The JSON error of the surface that owns `path`: OIP's {"error": message} on /v2, {"error": {code,
    message}} elsewhere."""
    if path.startswith("/v2"):
        return orjson.dumps({"error": message})
    return orjson.dumps({"error": {"code": code, "message": message}})


def error_response(path: str, status: int, code: str, message: str, headers: dict | None = None) -> Response:
    return Response(error_body(path, code, message), status_code=status, headers=headers,
                    media_type="application/json")


async def _service_error(request: Request, exc: ServiceError) -> Response:
    return error_response(request.url.path, exc.status, exc.code, exc.message, exc.headers)


async def _contract_error(request: Request, exc: ContractError) -> Response:
    return error_response(request.url.path, 400, "bad_request", str(exc))


async def _http_error(request: Request, exc: HTTPException) -> Response:
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return error_response(request.url.path, exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    """FastAPI's checks of path and query parameters: a 400 in our shape, not its 422."""
    problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
    return error_response(request.url.path, 400, "bad_request", problems)


async def _disconnected(request: Request, exc: ClientDisconnect) -> Response:
    """The client left while its body was being read: nobody to answer, and not a server error."""
    return Response(status_code=CLIENT_CLOSED)


async def _unexpected(request: Request, exc: Exception) -> Response:
    # A bug, not a client error: log it with the trace, but never send the trace to the client.
    log.exception("unhandled error", extra={"path": request.url.path})
    return error_response(request.url.path, 500, "internal", "internal server error")


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(ContractError, _contract_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ClientDisconnect, _disconnected)
    app.add_exception_handler(Exception, _unexpected)
