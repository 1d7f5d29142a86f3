"""Request body helpers: read (the size limit is enforced by the middleware while reading), JSON, multipart."""
import json

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from service.errors import BadRequest, UnsupportedMedia

MAX_FILES = 256


async def read_body(request: Request) -> bytes:
    chunks = [chunk async for chunk in request.stream()]
    return b"".join(chunks)


def parse_json(body: bytes) -> object:
    """json.loads on raw bytes: tritonclient sends no Content-Type, so never rely on framework body parsing."""
    if not body:
        raise BadRequest("empty body: expected JSON")
    try:
        return json.loads(body)
    except UnicodeDecodeError as e:
        raise BadRequest(f"body is not valid UTF-8 ({e.reason} at byte {e.start})") from e
    except ValueError as e:
        raise BadRequest(f"invalid JSON: {e}") from e
    except RecursionError as e:
        raise BadRequest("invalid JSON: nested too deeply") from e


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def parse_multipart(request: Request, body: bytes) -> list[bytes]:
    """All uploaded files of a multipart/form-data body, in order."""
    async def stream():
        yield body

    try:
        form = await MultiPartParser(request.headers, stream(), max_files=MAX_FILES, max_fields=16).parse()
    except MultiPartException as e:
        raise BadRequest(f"invalid multipart body: {e.message}") from e
    files = [v for _, v in form.multi_items() if isinstance(v, UploadFile)]
    try:
        return [await f.read() for f in files]
    finally:
        await form.close()


def require_json_or_none(request: Request, accepted: str = "application/json") -> None:
    """A JSON body may come with a JSON media type or none at all (tritonclient); anything else is 415."""
    mt = media_type(request)
    if mt and mt != "application/json" and not mt.endswith("+json"):
        raise UnsupportedMedia(f"unsupported media type {mt!r}; send {accepted}")
