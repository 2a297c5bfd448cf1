"""/agenda: what coordinators flag for points 5–7 of the Thursday meeting.

Each item belongs to one of the points (``est.digest.AGENDA_KINDS``) and is a short
free text, checked like every free text (``est.privacy``) and kept on one line.
"""

from __future__ import annotations

from dataclasses import replace

from est.digest import AGENDA_KINDS, AgendaPoint, agenda_point
from est.privacy import FreeTextResult, check_free_text

TEXT_MAX = 300  # storage.models.AgendaItem.text


def point_of(kind: str) -> AgendaPoint | None:
    """The agenda point an item kind belongs to; None for anything that is no kind."""
    number = AGENDA_KINDS.get(kind)
    return agenda_point(number) if number is not None else None


def check_item_text(text: str) -> FreeTextResult:
    """A typed item: refused (a personnummer, too long) or stored masked, on one line."""
    checked = check_free_text(text, max_len=TEXT_MAX)
    if not checked.ok:
        return checked
    return replace(checked, text=" ".join(checked.text.split()))
