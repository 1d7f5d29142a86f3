"""uvicorn, hardened: a deadline for request headers, JSON for malformed HTTP, and exit status 0 after a SIGTERM
drain. uvicorn has no header-read timeout (a slow client could hold a connection for as long as it liked),
answers unparseable requests in plain text, and re-raises SIGTERM after shutting down (exit 143)."""
import signal

import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from service.settings import Settings


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol; a connection must deliver each request's headers within `header_timeout_s`
    of opening (or of the request's first byte), else it gets a 408 and is closed."""

    def __init__(self, *args, header_timeout_s: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.header_timeout_s = header_timeout_s
        self._header_timer = None

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        self._answer_and_close(408, f"request headers not received within {self.header_timeout_s:g} s")

    def send_400_response(self, msg: str) -> None:
        self._answer_and_close(400, msg)

    def _answer_and_close(self, status: int, message: str) -> None:
        if self.transport.is_closing():
            return
        body = orjson.dumps({"error": message})
        reason = {400: b"Bad Request", 408: b"Request Timeout"}[status]
        self.transport.write(b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
                             b"connection: close\r\n\r\n%s" % (status, reason, len(body), body))
        self.transport.close()


class DrainingServer(uvicorn.Server):
    def handle_exit(self, sig: int, frame) -> None:
        super().handle_exit(sig, frame)
        if sig == signal.SIGTERM:  # a drained SIGTERM is the orderly stop: exit 0, not 143
            self._captured_signals.remove(sig)


def serve(app, settings: Settings) -> bool:
    """Run until SIGTERM/SIGINT; False when the app never started (its lifespan refused)."""
    protocol = _protocol_factory(settings.header_timeout_s)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, http=protocol, loop="auto",
                            log_config=None, access_log=False, log_level=settings.log_level, lifespan="on",
                            timeout_graceful_shutdown=settings.shutdown_timeout_s)
    server = DrainingServer(config)
    server.run()
    return server.started


def _protocol_factory(header_timeout_s: float):
    class Protocol(HeaderDeadlineProtocol):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, header_timeout_s=header_timeout_s, **kwargs)

    return Protocol
