"""FakeRequest: PTB's request interface answered in-process by a FakeTelegram."""

import asyncio
import functools
import json
import re
from collections.abc import Mapping
from typing import IO

from telegram.error import TimedOut
from telegram.request import BaseRequest, RequestData

from .core import FakeTelegram
from .errors import InjectedTimeout
from .params import Upload

_BOT_URL = re.compile(r"/bot(?P<token>[^/]+)/(?P<method>[^/?]+)$")


class FakeRequest(BaseRequest):
    """Use as ``Bot(token, request=FakeRequest(fake), get_updates_request=FakeRequest(fake))``."""

    def __init__(self, core: FakeTelegram) -> None:
        self.core = core

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        """Nothing to open: there is no connection."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        match = _BOT_URL.search(url)
        if match is None:
            body = {"ok": False, "error_code": 404, "description": "Not Found"}
            return 404, json.dumps(body).encode()
        params = dict(request_data.parameters) if request_data else {}
        files = uploads(request_data.multipart_data) if request_data else {}
        call = functools.partial(
            self.core.handle, match["method"], params, files, token=match["token"]
        )
        chat_id = params.get("chat_id")
        held = self.core.held_chats.get(chat_id) if isinstance(chat_id, int) else None
        if held is not None:
            await held.wait()
        try:
            if match["method"].lower() == "getupdates" and _is_positive(params.get("timeout")):
                status, body = await self._long_poll(call)
            else:
                status, body = call()
        except InjectedTimeout as exc:
            raise TimedOut(f"Timed out (injected by FakeTelegram: {exc})") from exc
        watched = self.core.watched_chats.get(chat_id) if isinstance(chat_id, int) else None
        if watched is not None:
            watched.set()
        return status, json.dumps(body).encode()

    async def _long_poll(
        self, call: functools.partial[tuple[int, dict[str, object]]]
    ) -> tuple[int, dict[str, object]]:
        """Wait in a worker thread; if the caller gives up, release that thread at once."""
        try:
            return await asyncio.to_thread(call)
        except asyncio.CancelledError:
            self.core.interrupt_polling()
            raise


def uploads(multipart: Mapping[str, tuple[str, bytes | IO[bytes], str]]) -> dict[str, Upload]:
    """PTB's multipart parts (filename, bytes or file object, MIME type) as Uploads."""
    files = {}
    for name, (filename, content, mime_type) in multipart.items():
        data = content if isinstance(content, bytes) else content.read()
        files[name] = Upload(filename, data, mime_type)
    return files


def _is_positive(value: object) -> bool:
    return isinstance(value, int | float) and value > 0
