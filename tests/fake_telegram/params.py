"""Typed access to request parameters.

Parameters arrive as JSON values (in-process adapter, JSON bodies) or as strings (form
fields, where PTB JSON-encodes every non-string value). Telegram accepts both, so each
accessor accepts both.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import bad_request


@dataclass(frozen=True)
class Upload:
    """A file uploaded with a request (multipart/form-data)."""

    filename: str
    content: bytes
    mime_type: str = "application/octet-stream"


class Params:
    """Read-only view of one call's parameters with Telegram's coercions."""

    def __init__(self, raw: Mapping[str, Any], files: Mapping[str, Upload] | None = None) -> None:
        self.raw = raw
        self.files = files or {}

    def has(self, name: str) -> bool:
        return self.raw.get(name) is not None

    def string(self, name: str) -> str | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise bad_request(f'parameter "{name}" must be a String')
        return value

    def required_string(self, name: str) -> str:
        value = self.string(name)
        if value is None:
            raise bad_request(f'parameter "{name}" is required')
        return value

    def integer(self, name: str) -> int | None:
        value = self.raw.get(name)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise bad_request(f'parameter "{name}" must be an Integer')

    def required_integer(self, name: str) -> int:
        value = self.integer(name)
        if value is None:
            raise bad_request(f'parameter "{name}" is required')
        return value

    def boolean(self, name: str) -> bool:
        value = self.raw.get(name)
        if isinstance(value, str):
            return value.lower() in ("true", "1")
        return bool(value)

    def json(self, name: str) -> Any:
        """A JSON-serialized parameter (reply_markup, entities, commands, scope...)."""
        value = self.raw.get(name)
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise bad_request(f'can\'t parse "{name}" JSON object') from None

    def chat_id(self) -> int:
        """The target chat; "@username" targets are not modelled, so they are not found."""
        value = self.raw.get("chat_id")
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            return int(value)
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None
