"""The one callback grammar: ``<prefix>:<id>:<action>[:<arg>]``, at most 64 bytes.

Any client can send any string as callback data, so parsing is strict: ASCII
digits only for the id (``"²".isdigit()`` is True in Python), a bounded id, a
short action and a plain argument. Whatever does not parse is simply stale.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CALLBACK_DATA_MAX_BYTES = 64
MAX_ID = 2**53  # far above any row id, far below what databases overflow on

_PREFIX = re.compile(r"[a-z]{1,3}\Z")
_ID = re.compile(r"(?:0|[1-9][0-9]{0,15})\Z", re.ASCII)
_ACTION = re.compile(r"[a-z]{1,4}\Z")
_ARG = re.compile(r"[A-Za-z0-9_.+\-]{1,40}\Z", re.ASCII)


@dataclass(frozen=True)
class Press:
    prefix: str
    id: int
    action: str
    arg: str = ""


def row_id(text: str) -> int | None:
    """A row id carried in an argument (e.g. ``e:<report id>``), under the same rule as
    the dialog id: ASCII digits, bounded; None for anything else."""
    return int(text) if _ID.match(text) and int(text) < MAX_ID else None


def build(prefix: str, id_: int, action: str, arg: str = "") -> str:
    """Callback data for a button; a bug (not a user) if it does not fit."""
    data = f"{prefix}:{id_}:{action}" + (f":{arg}" if arg else "")
    if parse(data) != Press(prefix, id_, action, arg):
        raise ValueError(f"not valid callback data: {data!r}")
    return data


def parse(data: str | None) -> Press | None:
    if not data or len(data.encode("utf-8", "replace")) > CALLBACK_DATA_MAX_BYTES:
        return None
    parts = data.split(":")
    if len(parts) not in (3, 4):
        return None
    prefix, id_text, action = parts[:3]
    arg = parts[3] if len(parts) == 4 else ""
    if not (_PREFIX.match(prefix) and _ID.match(id_text) and _ACTION.match(action)):
        return None
    if len(parts) == 4 and not _ARG.match(arg):
        return None
    id_ = int(id_text)
    return Press(prefix, id_, action, arg) if id_ < MAX_ID else None
