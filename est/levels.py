"""Alert levels (läge) per area and which changes between them make sense.

A real episode runs grönt → gult → rött → orange → grönt (seed 002). Any level can be
raised at once, because unrest does not wait for paperwork; lowering follows the episode
so that the after-work in orange läge (informing residents and partners) is never skipped.
Every change needs a short reason (``check_reason``): it is the record coordinators read.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from est.privacy import check_free_text

# A reason is a few words at least, and short enough to read in the announcement.
REASON_MIN, REASON_MAX = 3, 400


class Level(StrEnum):
    # Values are stored and sent in callback_data; keep them as they are.
    GRON = "grönt"
    GUL = "gult"
    ROD = "rött"
    ORANGE = "orange"

    @property
    def display_name(self) -> str:
        return _DISPLAY_NAMES[self]

    @property
    def colour(self) -> str:
        """Hex colour for charts and maps."""
        return _COLOURS[self]

    @property
    def meaning_sv(self) -> str:
        return _MEANINGS[self]

    @property
    def rank(self) -> int:
        """How elevated the level is: orange ranks above gult, the organisation is still up."""
        return _RANKS[self]


_DISPLAY_NAMES = {
    Level.GRON: "Grönt läge",
    Level.GUL: "Gult läge",
    Level.ROD: "Rött läge",
    Level.ORANGE: "Orange läge",
}
_COLOURS = {
    Level.GRON: "#2e9e44",
    Level.GUL: "#f2c500",
    Level.ROD: "#d62828",
    Level.ORANGE: "#f28c28",
}
_MEANINGS = {
    Level.GRON: "Normalläge med daglig linjeverksamhet och långsiktigt förebyggande arbete.",
    Level.GUL: (
        "Underrättelse om oroligheter eller en händelse som kan leda till våldsamheter – "
        "förbered samverkansorganisationen för rött läge."
    ),
    Level.ROD: (
        "Kollektiva våldsyttringar: anlagda bränder, stenkastning, skadegörelse, våld och "
        "hot mot samhällsföreträdare – dämpa oroligheterna snabbt."
    ),
    Level.ORANGE: (
        "Efter oroligheterna: informera boende och samverkansaktörer; organisationen "
        "hålls uppe tills efterverkningarna återgått till grönt läge."
    ),
}
_RANKS = {Level.GRON: 0, Level.GUL: 1, Level.ORANGE: 2, Level.ROD: 3}

# The only ways down: a yellow alert that came to nothing, and the end of an episode.
_ALLOWED_LOWERINGS = {
    (Level.GUL, Level.GRON),
    (Level.ROD, Level.ORANGE),
    (Level.ORANGE, Level.GRON),
}
_REFUSALS = {
    (Level.ROD, Level.GRON): "Från rött läge går man via orange läge (efterarbete) till grönt.",
    (Level.ROD, Level.GUL): (
        "Från rött läge går man till orange läge (efterarbete), inte tillbaka till gult."
    ),
    (Level.ORANGE, Level.GUL): (
        "Från orange läge går man till grönt när efterverkningarna är över; "
        "vid nya oroligheter höjer man till rött."
    ),
}


@dataclass(frozen=True)
class TransitionResult:
    allowed: bool
    reason_sv: str | None = None


def check_transition(current: Level, new: Level) -> TransitionResult:
    """Whether a coordinator may change an area from ``current`` to ``new``, and why not."""
    if current == new:
        return TransitionResult(False, f"Området har redan {new.display_name.lower()}.")
    if new.rank > current.rank or (current, new) in _ALLOWED_LOWERINGS:
        return TransitionResult(True)
    return TransitionResult(False, _REFUSALS[current, new])


def allowed_targets(current: Level) -> list[Level]:
    """The levels to offer as buttons, lowest first."""
    targets = [level for level in Level if check_transition(current, level).allowed]
    return sorted(targets, key=lambda level: level.rank)


def refused_targets(current: Level) -> list[tuple[Level, str]]:
    """The levels not offered from ``current``, each with why not (Swedish)."""
    verdicts = {level: check_transition(current, level) for level in Level if level != current}
    return [(level, verdict.reason_sv) for level, verdict in verdicts.items()
            if not verdict.allowed]


def level_named(name: str) -> Level | None:
    """A level by its ASCII name (``GUL``), as buttons carry it; None for anything else."""
    return Level.__members__.get(name) if name.isascii() else None


@dataclass(frozen=True)
class ReasonCheck:
    """A typed reason: what to store, or why not."""

    reason: str | None  # the text to store (contact details masked); None when refused
    problem: str | None = None  # refused by est.privacy (a personnummer, too long)
    too_short: bool = False
    notice: str | None = None  # what was masked, to tell the coordinator


def check_reason(text: str) -> ReasonCheck:
    checked = check_free_text(text, max_len=REASON_MAX)
    if not checked.ok:
        return ReasonCheck(None, problem=checked.problem)
    if len(checked.text) < REASON_MIN:
        return ReasonCheck(None, too_short=True)
    return ReasonCheck(checked.text, notice=checked.notice)
