"""Request bodies (media type, content encoding) read the same way by every router, and the one JSON encoder."""
import zlib

import orjson
from fastapi import Request
from starlette.responses import Response

from service.errors import BadRequest, TooLarge, UnsupportedMedia
from service.workers import WorkerPool


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def require_json_or_none(request: Request, accepted: str = "application/json") -> None:
    """A JSON body may come with a JSON media type or none at all (tritonclient); anything else is 415."""
    mt = media_type(request)
    if mt and mt != "application/json" and not mt.endswith("+json"):
        raise UnsupportedMedia(f"unsupported media type {mt!r}; send {accepted}")



def json_response(obj: object, status: int = 200) -> Response:
    """orjson-encoded JSON (numpy arrays included): several times faster than json.dumps + FastAPI's encoder."""
    return Response(orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY), status, media_type="application/json")


async def read_body(request: Request, pool: WorkerPool, limit: int) -> bytes:
    """The body, decompressed when it comes with Content-Encoding gzip or deflate (as tritonclient's
    request_compression_algorithm sends it); the size limit applies to the decompressed bytes too, so a zip bomb is
    a 413, not an out-of-memory."""
    raw = await request.body()
    encoding = request.headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding not in ("gzip", "deflate"):
        raise UnsupportedMedia(f"unsupported Content-Encoding {encoding!r}; send gzip, deflate or identity")
    return await pool.run(decompress, raw, encoding, limit)


def decompress(data: bytes, encoding: str, limit: int) -> bytes:
    """gzip, or deflate as zlib data (RFC 9110) or raw deflate (what some clients send), at most `limit` bytes."""
    for wbits in (31,) if encoding == "gzip" else (15, -15):
        d = zlib.decompressobj(wbits)
        try:
            out = d.decompress(data, limit + 1)
        except zlib.error:
            continue
        if len(out) > limit or d.unconsumed_tail:
            raise TooLarge(f"decompressed body is above the limit of {limit} bytes")
        if not d.eof:
            raise BadRequest(f"truncated {encoding} body")
        return out
    raise BadRequest(f"body is not valid {encoding} data")
