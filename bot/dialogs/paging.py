"""Long lists in pages that fit Telegram, measured the way Telegram measures.

Telegram limits a message to 4096 characters counted in UTF-16 code units (an
emoji outside the BMP is two). The raw HTML is never shorter than the parsed
text, so budgeting on it is safe.
"""

from __future__ import annotations

from collections.abc import Sequence

MESSAGE_LIMIT = 4096
SEPARATOR = "\n\n"


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def clip(text: str, limit: int, ellipsis: str = "…") -> str:
    """Cut ``text`` to at most ``limit`` UTF-16 units (one item that alone is too long)."""
    if utf16_len(text) <= limit:
        return text
    out, used = [], utf16_len(ellipsis)
    for char in text:
        used += utf16_len(char)
        if used > limit:
            break
        out.append(char)
    return "".join(out) + ellipsis


def pages(blocks: Sequence[str], budget: int, separator: str = "\n") -> list[list[str]]:
    """Split blocks into pages whose joined length stays within ``budget``."""
    result: list[list[str]] = [[]]
    used = 0
    for block in blocks:
        block = clip(block, budget)
        size = utf16_len(block) + (utf16_len(separator) if result[-1] else 0)
        if result[-1] and used + size > budget:
            result.append([])
            size, used = utf16_len(block), 0
        result[-1].append(block)
        used += size
    return result


def page_of(blocks: Sequence[str], page: int, *, header: str = "", footer: str = "",
            limit: int = MESSAGE_LIMIT, separator: str = "\n") -> tuple[str, int, int]:
    """The text of page ``page`` (clamped), its number and the page count.

    Room is kept for the header, the footer and a "sida 2/3" line.
    """
    reserve = utf16_len(header) + utf16_len(footer) + 40
    split = pages(blocks, max(limit - reserve, 200), separator)
    page = min(max(page, 0), len(split) - 1)
    body = separator.join(split[page])
    parts = [part for part in (header, body, footer) if part]
    return "\n\n".join(parts), page, len(split)


def _truncate(block: str, budget: int, marker: str) -> str:
    """The block's first lines that fit in ``budget`` together with ``marker``.

    Templates keep every line complete HTML, so cutting between lines never splits a tag.
    """
    kept: list[str] = []
    for line in block.split("\n"):
        if utf16_len("\n".join([*kept, line, marker])) > budget:
            break
        kept.append(line)
    return "\n".join([*kept, marker])


def pack_pages(header: str, continued: str, blocks: list[str], marker: str,
               limit: int = MESSAGE_LIMIT) -> list[str]:
    """Pack area blocks into messages of at most ``limit``, never splitting a block.

    The first page starts with ``header``, later ones with ``continued``. A block that
    does not fit on a page of its own is cut at a line boundary and ends with ``marker``.
    """
    pages: list[str] = []
    current, has_block = header, False
    for block in blocks:
        candidate = current + SEPARATOR + block
        if has_block and utf16_len(candidate) > limit:
            pages.append(current)
            current, has_block = continued, False
            candidate = current + SEPARATOR + block
        if utf16_len(candidate) <= limit:
            current, has_block = candidate, True
            continue
        budget = limit - utf16_len(current + SEPARATOR)
        pages.append(current + SEPARATOR + _truncate(block, budget, marker))
        current, has_block = continued, False
    if has_block or not pages:
        pages.append(current)
    return pages
