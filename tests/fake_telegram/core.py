"""FakeTelegram: an in-memory Telegram Bot API server for tests.

``handle`` answers one Bot API call the way Telegram would (status and JSON body); the
adapters in request.py (in-process) and server.py (HTTP) feed it. Tests drive the
Telegram side through the World methods and can inject the failures real Telegram produces.
"""

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from .api import API_METHODS, BotApi
from .errors import ApiError, InjectedTimeout, NotImplementedByFake, bad_request, forbidden
from .params import Params, Upload
from .world import SUPERGROUP_ID_BASE, check_group_id

FaultKind = Literal["429", "500", "502", "403", "timeout", "timeout_after_send", "chat_migrated"]
"""``timeout`` fails before Telegram acts; ``timeout_after_send`` after (the send happened)."""

DEFAULT_TOKEN = "123456:TEST-token-abcdefghijklmnopqrstuvwxyz"


@dataclass
class _Fault:
    method: str
    kind: FaultKind
    chat_id: int | None
    times: int
    retry_after: int
    migrate_to: int | None


def _epoch_seconds() -> float:
    return time.time()  # looked up per call, so time-machine/freezegun patches apply


class FakeTelegram(BotApi):
    """Thread-safe fake Telegram: Bot API on one side, people in the app on the other."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "lagesbild_test_bot",
        clock: Callable[[], float] = time.monotonic,
        *,
        wall_clock: Callable[[], float] = _epoch_seconds,
    ) -> None:
        """``clock`` drives rate limits; ``wall_clock`` gives message dates (epoch seconds)."""
        super().__init__(int(token.split(":")[0]), bot_username, clock, wall_clock)
        self.token = token
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.unimplemented_calls: list[tuple[str, dict[str, Any]]] = []
        self._faults: list[_Fault] = []
        # In-process only (FakeRequest): calls to a held chat wait for its event;
        # a watched chat's event is set when a call to it has been answered.
        self.held_chats: dict[int, asyncio.Event] = {}
        self.watched_chats: dict[int, asyncio.Event] = {}
        # Over HTTP only (FakeTelegramServer): calls to a slow chat are answered this many
        # seconds late (the handler thread waits before taking the fake's lock).
        self.slow_chats: dict[int, float] = {}

    def hold(self, chat_id: int) -> asyncio.Event:
        """Make Telegram slow for one chat until the returned event is set."""
        return self.held_chats.setdefault(chat_id, asyncio.Event())

    def watch(self, chat_id: int) -> asyncio.Event:
        """An event set once a Bot API call to ``chat_id`` has been answered."""
        event = asyncio.Event()
        self.watched_chats[chat_id] = event
        return event

    def handle(
        self,
        method: str,
        params: Mapping[str, Any],
        files: Mapping[str, Upload] | None = None,
        *,
        token: str | None = None,
    ) -> tuple[int, dict[str, Any]]:
        """Answer one call: (HTTP status, JSON body). Raises InjectedTimeout when injected."""
        with self._cond:
            try:
                return self._answer(method, params, files, token)
            finally:
                self._cond.notify_all()  # whatever the bot did, wait_until re-checks

    def _answer(
        self,
        method: str,
        params: Mapping[str, Any],
        files: Mapping[str, Upload] | None,
        token: str | None,
    ) -> tuple[int, dict[str, Any]]:
        entry = API_METHODS.get(method.lower())
        name = entry[0] if entry else method
        self.calls.append((name, dict(params)))
        if token is not None and token != self.token:
            return 401, ApiError(401, "Unauthorized").body()
        try:
            if entry is None:
                raise NotImplementedByFake(
                    404, f"Not Found: method {method} not implemented by fake"
                )
            call = Params(params, files)
            fault = self._take_fault(name, call)
            if fault and fault.kind != "timeout_after_send":
                self._fail(fault)
            result = entry[1](self, call)
            if fault:
                raise InjectedTimeout(f"{name} succeeded, then its response was lost")
        except NotImplementedByFake as exc:
            self.unimplemented_calls.append((name, dict(params)))
            return exc.status, exc.body()
        except ApiError as exc:
            return exc.status, exc.body()
        return 200, {"ok": True, "result": result}

    def inject(
        self,
        method: str,
        kind: FaultKind,
        *,
        chat_id: int | None = None,
        times: int = 1,
        retry_after: int = 1,
        migrate_to: int | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` (to ``chat_id``, if given) fail.

        ``chat_migrated`` also upgrades the group (to ``migrate_to``, or a derived id),
        so later calls to the old id fail the same way, as on Telegram.
        """
        entry = API_METHODS.get(method.lower())
        if entry is None:
            raise ValueError(f"the fake does not implement {method}")
        if kind not in get_args(FaultKind):
            raise ValueError(f"unknown fault {kind!r}; use one of {get_args(FaultKind)}")
        with self._cond:
            if kind == "chat_migrated":
                if chat_id is None or self._group(chat_id).type != "group":
                    raise ValueError("chat_migrated needs the chat_id of a basic group")
                migrate_to = migrate_to or SUPERGROUP_ID_BASE - abs(chat_id)
                check_group_id(migrate_to, "supergroup")
            fault = _Fault(entry[0], kind, chat_id, times, retry_after, migrate_to)
            self._faults.append(fault)

    def clear_faults(self) -> None:
        """Forget injected failures not used up yet (e.g. once the bot they were for died)."""
        with self._cond:
            self._faults.clear()

    def _take_fault(self, name: str, call: Params) -> _Fault | None:
        for fault in self._faults:
            if fault.method != name or not _targets(fault.chat_id, call):
                continue
            fault.times -= 1
            if fault.times <= 0:
                self._faults.remove(fault)
            return fault
        return None

    def _fail(self, fault: _Fault) -> None:
        if fault.kind == "timeout":
            raise InjectedTimeout(f"{fault.method} timed out before Telegram acted")
        if fault.kind == "429":
            wait = fault.retry_after
            raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        if fault.kind == "403":
            raise forbidden("bot was blocked by the user")
        if fault.kind == "chat_migrated":
            assert fault.chat_id is not None and fault.migrate_to is not None  # set by inject
            self._migrate(fault.chat_id, fault.migrate_to)
            raise bad_request(
                "group chat was upgraded to a supergroup chat", migrate_to_chat_id=fault.migrate_to
            )
        description = "Internal Server Error" if fault.kind == "500" else "Bad Gateway"
        raise ApiError(int(fault.kind), description)


def _targets(chat_id: int | None, call: Params) -> bool:
    """Whether a fault for ``chat_id`` (None: any chat) applies to this call."""
    if chat_id is None:
        return True
    try:
        return call.chat_id() == chat_id
    except ApiError:
        return False
