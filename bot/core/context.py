"""The CallbackContext every handler gets: services plus who is asking."""

from __future__ import annotations

from dataclasses import dataclass

from telegram.ext import Application, CallbackContext, ExtBot

from bot.core.services import Services
from storage.models import Member

ROLE_RANK = {"reporter": 0, "coordinator": 1, "admin": 2}


@dataclass(frozen=True)
class Actor:
    """A plain snapshot of the member behind an update (never an ORM object)."""

    member_id: int
    telegram_user_id: int
    first_name: str
    role: str
    org_key: str
    org_kind: str
    paused: bool

    @classmethod
    def of(cls, member: Member, org_kind: str) -> Actor:
        return cls(member.id, member.telegram_user_id, member.first_name, member.role,
                   member.org_key, org_kind, member.paused)

    def at_least(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_coordinator(self) -> bool:
        return self.at_least("coordinator")


class BotContext(CallbackContext[ExtBot, dict, dict, dict]):
    """Set up once per update by the gatekeeper and shared by all handler groups."""

    def __init__(self, application: Application, chat_id: int | None = None,
                 user_id: int | None = None) -> None:
        super().__init__(application, chat_id, user_id)
        self.actor: Actor | None = None

    @property
    def services(self) -> Services:
        return self.application.bot_data["services"]

    @property
    def dialogs(self):
        """The dialog engine (bot.dialogs.runtime.DialogEngine) the wiring set up."""
        return self.application.bot_data["dialogs"]

    @property
    def member(self) -> Actor:
        """The registered sender; handlers behind the gatekeeper may rely on it."""
        if self.actor is None:
            raise PermissionError("handler reached without a registered member")
        return self.actor
