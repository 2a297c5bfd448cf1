"""Validation of reply_markup as Telegram applies it.

Only inline keyboards are echoed back on the Message, so only they are kept. The fake is
stricter than Telegram in one place: a button with more than one action (e.g. both url and
callback_data) is refused, where Telegram silently keeps one of them.
"""

import json
from typing import Any

from .errors import bad_request

Markup = dict[str, Any]

_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_URL_SCHEMES = ("http://", "https://", "tg://")
MAX_CALLBACK_DATA_BYTES = 64


def parse_reply_markup(raw: object, *, inline_only: bool = False) -> Markup | None:
    """The inline keyboard to store on the message (None if there is none); 400 if invalid."""
    if raw is None:
        return None
    markup = raw
    if isinstance(raw, str):
        try:
            markup = json.loads(raw)
        except ValueError:
            raise bad_request("can't parse reply keyboard markup JSON object") from None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        return _inline_keyboard(markup["inline_keyboard"])
    if not markup.keys() & {"keyboard", "remove_keyboard", "force_reply"}:
        return None  # e.g. PTB's InlineKeyboardMarkup([]) is sent as {}: no keyboard
    if inline_only:
        raise bad_request("inline keyboard expected")
    if "keyboard" in markup:
        _reply_keyboard(markup["keyboard"])
    return None


def _rows(rows: object, what: str) -> list[list[Any]]:
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request(f'field "{what}" must be an Array of Arrays')
    return rows


def _inline_keyboard(rows: object) -> Markup | None:
    kept = [row for row in _rows(rows, "inline_keyboard") if row]
    for row in kept:
        for button in row:
            _inline_button(button)
    return {"inline_keyboard": kept} if kept else None


def _inline_button(button: object) -> None:
    def refuse(reason: str) -> Exception:
        return bad_request(f"can't parse inline keyboard button: {reason}")

    if not isinstance(button, dict):
        raise refuse("InlineKeyboardButton must be an Object")
    text = button.get("text")
    if not isinstance(text, str) or not text:
        raise bad_request("inline keyboard button text must be non-empty")
    actions = [key for key in _BUTTON_ACTIONS if key in button]
    if not actions:
        raise refuse("Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise refuse(f"exactly one of {', '.join(actions)} must be used (fake is strict here)")
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not url.startswith(_URL_SCHEMES) or " " in url:
            raise bad_request("BUTTON_URL_INVALID")


def _reply_keyboard(rows: object) -> None:
    for row in _rows(rows, "keyboard"):
        for button in row:
            text = button.get("text") if isinstance(button, dict) else button
            if not isinstance(text, str) or not text:
                raise bad_request("keyboard button text must be non-empty")


def button_rows(markup: Markup | None) -> list[list[dict[str, Any]]]:
    return markup["inline_keyboard"] if markup else []
