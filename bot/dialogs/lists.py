"""A paged list inside a dialog step: the page the dialog is on, within Telegram's limit."""

from __future__ import annotations

from collections.abc import Sequence

from bot.dialogs.paging import MESSAGE_LIMIT, page_of, utf16_len
from bot.dialogs.spec import Turn

# Room on a list page for the line the engine puts above it (a status change).
NOTICE_ROOM = 100


def list_page(turn: Turn, blocks: Sequence[str], *, header: str, footer: str = "",
              gap: str = "\n", separator: str = "\n") -> tuple[str, list[int], tuple[int, int]]:
    """The page of a list the dialog is on: its text, which blocks it shows, (page, pages).

    The header and the footer are on every page; the whole page, with the "Sida 2 av 3"
    line and a notice above it, stays within Telegram's 4096 UTF-16 units.
    """
    limit = MESSAGE_LIMIT - NOTICE_ROOM - utf16_len(header) - utf16_len(gap)

    def paged(items: Sequence[str], page: int) -> tuple[str, int, int]:
        return page_of(items, page, footer=footer, limit=limit, separator=separator)

    body, page, pages = paged(blocks, turn.page)
    # Pages are filled greedily, so a block is on the last page of the blocks up to it.
    shown = [i for i in range(len(blocks)) if paged(blocks[:i + 1], 0)[2] - 1 == page]
    text = f"{header}{gap}{body}"
    if pages > 1:
        text += "\n\n" + turn.render("dialogs", "page_of", page=page + 1, pages=pages)
    return text, shown, (page, pages)
