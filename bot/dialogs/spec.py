"""How a dialog is declared: steps as data, the runtime does the rest.

A dialog module builds one ``DialogSpec``: its kind, its steps, and for each
step how it is shown (``view``) and what a press, typed text or shared
location does to the dialog's data. Validation and rules live in ``est/``;
a step function only calls them and names the next step. Everything shared
(callback data, checks, replays, saving, Tillbaka/Avbryt, paging, sending)
is in ``bot.dialogs.runtime``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmodel.ext.asyncio.session import AsyncSession

    from bot.core.context import Actor
    from bot.core.services import Services
    from storage.models import Dialog


class Invalid(Exception):
    """A press or text that does not fit the step; its message (Swedish) is the answer.

    Nothing of the turn is saved. With ``turn.delete_incoming`` the typed message is
    deleted first; ``if_kept`` is the answer for when the bot could not delete it (a
    group in which it is no admin).
    """

    def __init__(self, text: str, *, if_kept: str | None = None) -> None:
        super().__init__(text)
        self.if_kept = if_kept


@dataclass(frozen=True)
class Button:
    label: str
    action: str
    arg: str = ""


@dataclass
class Screen:
    """What one step shows: text (HTML, from a template) and its buttons."""

    text: str
    rows: list[list[Button]] = field(default_factory=list)
    back: bool = False  # add "Tillbaka" (the step must name where it leads)
    cancel: bool = True  # add "Avbryt"
    wants_text: bool = False  # in a group this step is asked as a ForceReply prompt
    page: tuple[int, int] | None = None  # (page, pages) adds the page buttons


@dataclass(frozen=True)
class Finish:
    """The dialog is done; ``text`` replaces its message."""

    text: str
    rows: list[list[Button]] = field(default_factory=list)
    cancelled: bool = False  # ended by "Avbryt" rather than completed


Next = str | Finish


@dataclass
class Turn:
    """One update applied to one dialog: what step functions read and change."""

    services: Services
    bot: Any  # telegram.Bot, for effects that run after the turn
    actor: Actor
    row: Dialog
    session: AsyncSession  # the turn's transaction; never call Telegram while it is open
    update_id: int | None
    in_group: bool = False
    incoming_message_id: int | None = None  # the person's message this turn answers
    toast: str | None = None  # the answer on the pressed button
    notice: str | None = None  # a short line shown above the next step
    delete_incoming: bool = False  # remove the person's message from the chat
    after: list[Callable[[], Coroutine[Any, Any, None]]] = field(default_factory=list)
    # A dialog this turn opened (in its transaction); shown as a new message after it.
    follow_with: Dialog | None = None

    @property
    def data(self) -> dict[str, Any]:
        return self.row.data

    @property
    def step(self) -> str:
        return self.row.step

    @property
    def now(self) -> datetime:
        return self.services.now()

    @property
    def page(self) -> int:
        return int(self.row.data.get("_page", 0))

    def render(self, template: str, macro: str, /, **context: object) -> str:
        return self.services.render(template, macro, **context)


View = Callable[[Turn], Screen | Awaitable[Screen]]
OnPress = Callable[[Turn, str, str], Awaitable[Next]]
OnText = Callable[[Turn, str], Awaitable[Next]]
OnLocation = Callable[[Turn, float, float], Awaitable[Next]]


@dataclass(frozen=True)
class Step:
    view: View
    press: OnPress | None = None
    text: OnText | None = None
    location: OnLocation | None = None
    back: str | Callable[[Turn], str | None] | None = None  # where "Tillbaka" leads


@dataclass(frozen=True)
class DialogSpec:
    kind: str  # stored in dialogs.kind; short
    steps: dict[str, Step]
    first_step: str
    cancelled: Callable[[Turn], str]  # the text after "Avbryt"
    min_role: str = "reporter"
    private_only: bool = True
    # Kinds a new dialog of this kind ends for the same member in the same chat;
    # None: its own kind; (): none (e.g. several open questions at once).
    replaces: tuple[str, ...] | None = None
    # The answer on a button of this dialog once it has ended: (template, macro).
    ended: tuple[str, str] = ("dialogs", "ended")
    # A press on a finished dialog (e.g. "Skicka" replayed): what to show again.
    when_done: Callable[[Turn], Awaitable[Screen | None]] | None = None
