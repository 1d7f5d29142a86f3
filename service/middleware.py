"""Pure ASGI middleware (cheaper than BaseHTTPMiddleware): request id, API key, body size and time limits,
response compression, metrics, the access log, and a JSON 503 for requests still running when a shutdown's drain
time runs out."""
import asyncio
import gzip
import hmac
import logging
import re
import time
import uuid
import zlib

from service.errors import CLIENT_CLOSED, RequestTimeout, TooLarge, error_body
from service.logs import request_id
from service.metrics import Metrics

log = logging.getLogger("kanserve.access")
OPEN_PATHS = ("/v2/health/live", "/v2/health/ready", "/metrics")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class ServiceMiddleware:
    def __init__(self, app, metrics: Metrics, max_body_bytes: int, body_timeout_s: float, api_key: str | None,
                 known_models: set[str], access_log: bool = True):
        self.app, self.metrics, self.limit, self.body_timeout_s = app, metrics, max_body_bytes, body_timeout_s
        self.api_key = api_key.encode() if api_key else None
        self.known_models = known_models  # metric labels only for real models: clients choose path names
        self.access_log = access_log

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()
        headers = dict(scope["headers"])
        rid = headers.get(b"x-request-id", b"").decode("latin-1")
        rid = rid if _SAFE_ID.match(rid) else uuid.uuid4().hex
        token = request_id.set(rid)
        status = [CLIENT_CLOSED]  # until a response starts: a request that never answers was abandoned
        send = _compressing(send, headers.get(b"accept-encoding", b""))

        async def send_with_id(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        async def answer(code: int, name: str, message: str, extra: list) -> None:
            body = error_body(scope["path"], name, message)
            await send_with_id({"type": "http.response.start", "status": code, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]})
            await send_with_id({"type": "http.response.body", "body": body})

        try:
            if not self._authorised(scope["path"], headers):
                return await answer(401, "unauthorized", "missing or wrong API key", [(b"www-authenticate", b"Bearer")])
            await self.app(scope, self._limited(receive, headers), send_with_id)
        except asyncio.CancelledError:
            # uvicorn cancels what is still running when the shutdown drain time is over: answer, don't 500.
            if status[0] == CLIENT_CLOSED:
                await answer(503, "shutting_down", "the server is shutting down; retry on another replica",
                             [(b"retry-after", b"1"), (b"connection", b"close")])
        finally:
            self._record(scope, status[0], time.perf_counter() - start, rid)
            request_id.reset(token)

    def _authorised(self, path: str, headers: dict) -> bool:
        if self.api_key is None or path in OPEN_PATHS:
            return True
        given = headers.get(b"x-api-key") or headers.get(b"authorization", b"").removeprefix(b"Bearer ")
        return hmac.compare_digest(given, self.api_key)

    def _limited(self, receive, headers: dict):
        """The body's size limit (from Content-Length up front, and by counting when chunked) and time limit."""
        limit, seen = self.limit, [0]
        length = headers.get(b"content-length", b"0")
        declared = int(length) if length.isdigit() else 0
        deadline = asyncio.get_running_loop().time() + self.body_timeout_s

        async def receive_limited():
            if declared > limit:
                raise TooLarge(f"body of {declared} bytes is above the limit of {limit}")
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise RequestTimeout(f"the request body did not arrive within {self.body_timeout_s:g} s",
                                     {"Connection": "close"}) from None
            seen[0] += len(message.get("body", b""))
            if seen[0] > limit:
                raise TooLarge(f"body is above the limit of {limit} bytes")
            return message

        return receive_limited

    def _record(self, scope, status: int, seconds: float, rid: str) -> None:
        route = scope.get("route")
        endpoint = getattr(route, "path", "unmatched")
        model = scope.get("path_params", {}).get("name", "")
        model = model if model in self.known_models else ("" if not model else "unknown")
        self.metrics.requests.labels(model, endpoint, str(status)).inc()
        self.metrics.request_seconds.labels(model, endpoint).observe(seconds)
        if self.access_log:
            log.info("request", extra={"method": scope["method"], "path": scope["path"], "status": status,
                                       "ms": round(seconds * 1e3, 3), "model": model or None})


def _encoding(accept: bytes) -> str | None:
    """gzip or deflate when the client accepts it (tritonclient's response_compression_algorithm), else None."""
    offered = {part.split(b";")[0].strip() for part in accept.lower().split(b",")}
    return next((e for e in ("gzip", "deflate") if e.encode() in offered), None)


def _compressing(send, accept: bytes):
    """`send`, compressing the response body per Accept-Encoding (bodies are buffered until complete)."""
    encoding = _encoding(accept) if accept else None
    if encoding is None:
        return send
    started, chunks = [], []

    async def send_compressed(message):
        if message["type"] == "http.response.start":
            started.append(message)
            return
        if message["type"] != "http.response.body":
            return await send(message)
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        start = started.pop()
        body = b"".join(chunks)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() not in (b"content-length",
                                                                                    b"content-encoding")]
        if body:
            body = gzip.compress(body, 6, mtime=0) if encoding == "gzip" else zlib.compress(body, 6)
            headers.append((b"content-encoding", encoding.encode()))
        headers += [(b"content-length", str(len(body)).encode()), (b"vary", b"Accept-Encoding")]
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return send_compressed
