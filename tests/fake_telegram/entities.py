"""Telegram's HTML parse mode and text measuring.

Telegram measures text and entity offsets in UTF-16 code units and trims surrounding
whitespace after parsing. The parser follows the Bot API's rules (supported tags, proper
nesting, only &lt; &gt; &amp; &quot; and numeric entities) and is stricter in one place: a
bare "&" is an error, where Telegram keeps it literally, so that unescaped user text is caught
by tests before it meets a "<".
"""

import re
from dataclasses import dataclass
from typing import Any

Entity = dict[str, Any]

_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_ENTITY = re.compile(r"&(?:#([0-9]{1,7})|#x([0-9a-fA-F]{1,6})|(lt|gt|amp|quot));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_WHITESPACE = " \t\r\n"
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@([A-Za-z0-9_]{1,32}))?(?![A-Za-z0-9_@])")


class HtmlError(ValueError):
    """The text is not valid Telegram HTML; the message reads like Telegram's."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _OpenTag:
    name: str
    attrs: dict[str, str]
    offset: int
    out_index: int
    language: str | None = None


class _HtmlParser:
    def __init__(self, source: str) -> None:
        self.src = source
        self.pos = 0
        self.out: list[str] = []
        self.offset = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[Entity] = []

    def parse(self) -> tuple[str, list[Entity]]:
        while self.pos < len(self.src):
            char = self.src[self.pos]
            if char == "&":
                self._emit(self._entity(self.pos))
            elif char != "<":
                self._emit(char)
                self.pos += 1
            elif self.src.startswith("</", self.pos):
                self._end_tag()
            else:
                self._start_tag()
        if self.stack:
            name = self.stack[-1].name
            raise HtmlError(f'Can\'t find end tag corresponding to start tag "{name}"')
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.out), self.entities

    def _emit(self, text: str) -> None:
        self.out.append(text)
        self.offset += utf16_len(text)

    def _bytes(self, index: int) -> int:
        return len(self.src[:index].encode())

    def _entity(self, start: int) -> str:
        match = _ENTITY.match(self.src, start)
        if match is None or (char := _decode_entity(match)) is None:
            raise HtmlError(
                f'Unescaped "&" or unsupported entity at byte offset {self._bytes(start)}'
                " (the fake requires &amp;)"
            )
        self.pos = match.end()
        return char

    def _skip_space(self) -> None:
        while self.pos < len(self.src) and self.src[self.pos].isspace():
            self.pos += 1

    def _start_tag(self) -> None:
        start = self.pos
        self.pos += 1
        while self.pos < len(self.src) and not self.src[self.pos].isspace():
            if self.src[self.pos] == ">":
                break
            self.pos += 1
        if self.pos >= len(self.src):
            raise HtmlError(f"Unclosed start tag at byte offset {self._bytes(start)}")
        name = self.src[start + 1 : self.pos].lower()
        if name not in _TAG_TYPES:
            raise HtmlError(f'Unsupported start tag "{name}" at byte offset {self._bytes(start)}')
        attrs = self._attributes(name, start)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise HtmlError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {self._bytes(start)}'
            )
        if name == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
            raise HtmlError("Invalid custom emoji identifier specified")
        self.stack.append(_OpenTag(name, attrs, self.offset, len(self.out)))

    def _attributes(self, tag: str, start: int) -> dict[str, str]:
        attrs: dict[str, str] = {}
        unclosed = HtmlError(f"Unclosed start tag at byte offset {self._bytes(start)}")
        while True:
            self._skip_space()
            if self.pos >= len(self.src):
                raise unclosed
            if self.src[self.pos] == ">":
                self.pos += 1
                return attrs
            name_start = self.pos
            while self.pos < len(self.src) and self.src[self.pos] not in "=> \t\r\n":
                self.pos += 1
            name = self.src[name_start : self.pos].lower()
            if not name:
                raise HtmlError(
                    f'Empty attribute name in the tag "{tag}" at byte offset {self._bytes(start)}'
                )
            self._skip_space()
            if self.pos < len(self.src) and self.src[self.pos] != "=":
                if tag == "blockquote" and name == "expandable":
                    attrs[name] = ""
                    continue
                raise HtmlError(
                    f'Expected equal sign in declaration of an attribute of the tag "{tag}"'
                    f" at byte offset {self._bytes(start)}"
                )
            self.pos += 1
            self._skip_space()
            if self.pos >= len(self.src):
                raise unclosed
            attrs[name] = self._attribute_value()

    def _attribute_value(self) -> str:
        quote = self.src[self.pos]
        if quote not in "\"'":
            value_start = self.pos
            while self.pos < len(self.src) and (
                self.src[self.pos].isalnum() or self.src[self.pos] in ".-"
            ):
                self.pos += 1
            if self.pos < len(self.src) and self.src[self.pos] not in "> \t\r\n":
                raise HtmlError(
                    f"Unexpected end of name token at byte offset {self._bytes(self.pos)}"
                )
            return self.src[value_start : self.pos].lower()
        self.pos += 1
        value: list[str] = []
        while self.pos < len(self.src) and self.src[self.pos] != quote:
            if self.src[self.pos] == "&":
                value.append(self._entity(self.pos))
            else:
                value.append(self.src[self.pos])
                self.pos += 1
        if self.pos >= len(self.src):
            raise HtmlError(
                f"Unclosed end of attribute value at byte offset {self._bytes(self.pos)}"
            )
        self.pos += 1
        return "".join(value)

    def _end_tag(self) -> None:
        start = self.pos
        if not self.stack:
            raise HtmlError(f"Unexpected end tag at byte offset {self._bytes(start)}")
        self.pos += 2
        while self.pos < len(self.src) and self.src[self.pos] not in "> \t\r\n":
            self.pos += 1
        name = self.src[start + 2 : self.pos].lower()
        self._skip_space()
        if self.pos >= len(self.src) or self.src[self.pos] != ">":
            raise HtmlError(f"Unclosed end tag at byte offset {self._bytes(start)}")
        self.pos += 1
        tag = self.stack.pop()
        if name != tag.name:
            raise HtmlError(
                f'Unmatched end tag at byte offset {self._bytes(start)}, expected "</{tag.name}>",'
                f' found "</{name}>"'
            )
        self._close(tag)

    def _close(self, tag: _OpenTag) -> None:
        css_class = tag.attrs.get("class", "")
        if tag.name == "code" and css_class.startswith("language-"):
            parent = self.stack[-1] if self.stack else None
            if parent and parent.name == "pre" and parent.offset == tag.offset:
                parent.language = css_class.removeprefix("language-")
                return
        length = self.offset - tag.offset
        if length == 0:
            return
        entity: Entity = {"type": _TAG_TYPES[tag.name], "offset": tag.offset, "length": length}
        if tag.name == "a":
            entity["url"] = tag.attrs.get("href") or "".join(self.out[tag.out_index :])
        elif tag.name == "pre" and tag.language:
            entity["language"] = tag.language
        elif tag.name == "blockquote" and "expandable" in tag.attrs:
            entity["type"] = "expandable_blockquote"
        elif tag.name == "tg-emoji":
            entity["custom_emoji_id"] = tag.attrs["emoji-id"]
        self.entities.append(entity)


def _decode_entity(match: re.Match[str]) -> str | None:
    decimal, hexadecimal, named = match.groups()
    if named:
        return _NAMED[named]
    code = int(decimal) if decimal else int(hexadecimal, 16)
    if not 0 < code < 0x110000 or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def parse_html(source: str) -> tuple[str, list[Entity]]:
    """Plain text and entities of an HTML-formatted text; HtmlError if Telegram would refuse."""
    return _HtmlParser(source).parse()


def strip_text(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Trim surrounding whitespace as Telegram does, moving and clipping the entities."""
    stripped = text.strip(_WHITESPACE)
    shift = utf16_len(text[: len(text) - len(text.lstrip(_WHITESPACE))])
    total = utf16_len(stripped)
    kept = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def command_entity(text: str) -> tuple[Entity, str | None] | None:
    """The bot_command entity of a text starting with /command, and its @addressee if any."""
    match = _COMMAND.match(text)
    if match is None:
        return None
    return {"type": "bot_command", "offset": 0, "length": utf16_len(match.group())}, match.group(1)
