"""FakeTelegramServer: the same FakeTelegram over HTTP, for whole-process tests.

Point PTB at it with ``base_url=server.base_url``. Bodies are decoded as Telegram accepts
them: JSON, form fields (PTB's HTTPXRequest sends every value as a string, JSON-encoding
non-strings) and multipart/form-data with files. Request logging is off, since every URL
carries the bot token.
"""

import json
import re
import sys
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

from .core import FakeTelegram
from .errors import InjectedTimeout
from .params import Upload

_BOT_PATH = re.compile(r"/bot(?P<token>[^/]+)/(?P<method>[A-Za-z0-9_]+)")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, core: FakeTelegram, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.core = core

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (e.g. a killed bot mid long poll) is normal here."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._answer({}, {})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            self._answer(*_multipart(content_type, body))
        elif content_type.startswith("application/json") and body:
            self._answer(json.loads(body), {})
        else:
            self._answer(dict(parse_qsl(body.decode(), keep_blank_values=True)), {})

    def _answer(self, params: dict[str, Any], files: dict[str, Upload]) -> None:
        url = urlsplit(self.path)
        match = _BOT_PATH.fullmatch(url.path)
        if match is None:
            self._send(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        params = dict(parse_qsl(url.query, keep_blank_values=True)) | params
        delay = self.server.core.slow_chats.get(_chat_id(params.get("chat_id")))
        if delay:
            time.sleep(delay)  # this chat's calls are slow; other handler threads go on
        try:
            status, body = self.server.core.handle(
                match["method"], params, files, token=match["token"]
            )
        except InjectedTimeout:
            self.close_connection = True  # hang up unanswered: the client sees a network error
            return
        self._send(status, body)

    def _send(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the request line contains the token."""


def _chat_id(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _multipart(content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, Upload]]:
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    params: dict[str, Any] = {}
    files: dict[str, Upload] = {}
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        content = part.get_payload(decode=True)
        filename = part.get_filename()
        if filename is None:
            params[name] = content.decode()
        else:
            files[name] = Upload(filename, content, part.get_content_type())
    return params, files


class FakeTelegramServer:
    """Serves a FakeTelegram on 127.0.0.1 at a free port from a daemon thread."""

    def __init__(self, core: FakeTelegram) -> None:
        self.core = core
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """PTB's base_url form: the token and method are appended."""
        if self._server is None:
            raise RuntimeError("server not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/bot"

    def start(self) -> Self:
        self._server = _Server(self.core, ("127.0.0.1", 0))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self.core.interrupt_polling()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
