"""Tables. Every timestamp is UTC; the deployment's zone is applied when shown."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, MetaData, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime

# Stable constraint names make Alembic migrations reproducible on both databases.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata: MetaData = SQLModel.metadata


def _utc(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


def _bigint(**kwargs: Any) -> Any:
    return Field(sa_type=BigInteger, **kwargs)


class Member(SQLModel, table=True):
    """A registered person: field reporter, coordinator or admin."""

    __tablename__ = "members"

    id: int | None = Field(default=None, primary_key=True)
    telegram_user_id: int = _bigint(unique=True)
    first_name: str = Field(max_length=128)
    role: str = Field(max_length=16)
    org_key: str = Field(max_length=32)
    active: bool = True
    paused: bool = False
    # Återkoppling: a reporter may turn off the thank-you when an insats follows.
    feedback_opt_out: bool = False
    joined_at: datetime = _utc()
    invited_by_member_id: int | None = Field(default=None, foreign_key="members.id")
    # Set when the membership ends (by an admin or /avsluta); the person is then a stranger.
    ended_at: datetime | None = _utc(default=None)


class Invite(SQLModel, table=True):
    """A single-use invitation; only the token's hash is kept."""

    __tablename__ = "invites"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    role: str = Field(max_length=16)
    org_key: str = Field(max_length=32)
    created_at: datetime = _utc()
    expires_at: datetime = _utc()
    created_by_member_id: int | None = Field(default=None, foreign_key="members.id")
    used_at: datetime | None = _utc(default=None)
    used_by_member_id: int | None = Field(default=None, foreign_key="members.id")
    revoked_at: datetime | None = _utc(default=None)
    revoked_by_member_id: int | None = Field(default=None, foreign_key="members.id")


class Group(SQLModel, table=True):
    """A Telegram group an admin registered; the bot ignores all others."""

    __tablename__ = "groups"

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = _bigint(unique=True)
    title: str = Field(default="", max_length=256)
    kind: str = Field(default="coordinator", max_length=16)
    registered_by_member_id: int | None = Field(default=None, foreign_key="members.id")
    registered_at: datetime = _utc()
    active: bool = True


class Report(SQLModel, table=True):
    """One field report: a place and a situation, never a person."""

    __tablename__ = "reports"
    # Migration 0006: the daily post (received_at), an area's recent reports (after every
    # report, /lagesbild <område>) and a reporter's latest (/mina_rapporter).
    __table_args__ = (
        Index("ix_reports_received_at", "received_at"),
        Index("ix_reports_area_key_occurred_at", "area_key", "occurred_at"),
        Index("ix_reports_member_id_received_at", "member_id", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    reference: str | None = Field(default=None, max_length=24, unique=True)
    # None once the gallring has erased the link to the reporter; org_key stays.
    member_id: int | None = Field(default=None, foreign_key="members.id", index=True)
    org_key: str = Field(max_length=32, index=True)
    area_key: str = Field(max_length=32, index=True)
    place_key: str | None = Field(default=None, max_length=32)
    place_name: str | None = Field(default=None, max_length=128)
    lat: float | None = None
    lon: float | None = None
    occurred_at: datetime = _utc(index=True)
    received_at: datetime = _utc()
    updated_at: datetime = _utc()
    people: str | None = Field(default=None, max_length=16)
    severity: int | None = None
    text: str | None = Field(default=None, max_length=600)
    sharing: str = Field(default="formedlad", max_length=16)
    withdrawn_at: datetime | None = _utc(default=None)
    text_erased_at: datetime | None = _utc(default=None)  # gallring of the free text
    reporter_erased_at: datetime | None = _utc(default=None)  # gallring of member_id
    # The dialog this report was made from: the unique key that turns a second
    # "Skicka" or a redelivered update into the same report.
    draft_id: int = Field(foreign_key="dialogs.id", unique=True)


class ReportCategory(SQLModel, table=True):
    """Categories of a report, one row each, so counts are a GROUP BY."""

    __tablename__ = "report_categories"

    report_id: int = Field(
        sa_column=Column(ForeignKey("reports.id", ondelete="CASCADE"), primary_key=True)
    )
    category_key: str = Field(max_length=32, primary_key=True, index=True)


class Dialog(SQLModel, table=True):
    """The state of one conversation of any kind, written on every step.

    The dialog engine (bot/dialogs) reads the step from here, never from memory,
    so a restart continues where the person was. ``handled_update_ids`` holds the
    updates already applied: Telegram's update ids are not a clock (after a quiet
    week the next one is random), so a replay is recognised by membership, never
    by order.
    """

    __tablename__ = "dialogs"
    __table_args__ = (Index("ix_dialogs_open", "member_id", "chat_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=24)
    member_id: int = Field(foreign_key="members.id", index=True)
    chat_id: int = _bigint()
    # The one message whose buttons drive this dialog; presses elsewhere change nothing.
    message_id: int | None = _bigint(default=None)
    status: str = Field(default="open", max_length=16)  # open | done | cancelled
    step: str = Field(max_length=24)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    handled_update_ids: list[int] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = _utc()
    updated_at: datetime = _utc()


class InboxUpdate(SQLModel, table=True):
    """A Telegram update, stored before its offset is confirmed to Telegram.

    The payload is erased once the update has been handled: the inbox is a
    delivery guarantee, not an archive.
    """

    __tablename__ = "inbox_updates"

    update_id: int = _bigint(primary_key=True, sa_column_kwargs={"autoincrement": False})
    # none_as_null: an erased payload is SQL NULL, visible as such to an audit.
    payload: dict[str, Any] | None = Field(default=None, sa_type=JSON(none_as_null=True))
    received_at: datetime = _utc()
    done_at: datetime | None = _utc(default=None, index=True)


class AreaLevel(SQLModel, table=True):
    """One level change of one area; the newest row is the current level."""

    __tablename__ = "area_levels"

    id: int | None = Field(default=None, primary_key=True)
    area_key: str = Field(max_length=32, index=True)
    level: str = Field(max_length=16)
    reason: str = Field(max_length=500)
    set_by_member_id: int | None = Field(default=None, foreign_key="members.id")
    set_at: datetime = _utc(index=True)
    alert_id: int | None = Field(default=None, foreign_key="alerts.id")


class Alert(SQLModel, table=True):
    """A suggestion to raise a level, or an urgent report, put to the coordinators."""

    __tablename__ = "alerts"

    id: int | None = Field(default=None, primary_key=True)
    area_key: str = Field(max_length=32, index=True)
    kind: str = Field(max_length=16)  # suggestion | urgent
    level: str | None = Field(default=None, max_length=16)
    score: float | None = None
    reasons: list[str] = Field(default_factory=list, sa_type=JSON)
    report_ids: list[int] = Field(default_factory=list, sa_type=JSON)
    status: str = Field(default="open", max_length=16)  # open | raised | kept | info
    created_at: datetime = _utc()
    updated_at: datetime = _utc()
    decided_by_member_id: int | None = Field(default=None, foreign_key="members.id")
    decided_at: datetime | None = _utc(default=None)


class AlertMessage(SQLModel, table=True):
    """Where an alert was posted, so it can be edited to show the decision."""

    __tablename__ = "alert_messages"
    __table_args__ = (UniqueConstraint("alert_id", "chat_id"),)

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alerts.id", index=True)
    chat_id: int = _bigint()
    message_id: int = _bigint()


class Checklist(SQLModel, table=True):
    """A coordinator's scoring of the 20 warning signals for one area (Bilaga 3)."""

    __tablename__ = "checklists"

    id: int | None = Field(default=None, primary_key=True)
    area_key: str = Field(max_length=32, index=True)
    member_id: int = Field(foreign_key="members.id")
    answers: dict[str, int] = Field(default_factory=dict, sa_type=JSON)
    status: str = Field(default="draft", max_length=16)  # draft | done
    created_at: datetime = _utc()
    updated_at: datetime = _utc()
    completed_at: datetime | None = _utc(default=None)


class Event(SQLModel, table=True):
    """An upcoming event that may matter for the picture (match, demonstration, Valborg)."""

    __tablename__ = "events"

    id: int | None = Field(default=None, primary_key=True)
    area_key: str | None = Field(default=None, max_length=32)
    starts_at: datetime = _utc(index=True)
    title: str = Field(max_length=200)
    created_by_member_id: int | None = Field(default=None, foreign_key="members.id")
    created_at: datetime = _utc()


class Insats(SQLModel, table=True):
    """An action decided by the partners, with its follow-up (uppföljning)."""

    __tablename__ = "insatser"

    id: int | None = Field(default=None, primary_key=True)
    area_key: str = Field(max_length=32, index=True)
    place_key: str | None = Field(default=None, max_length=32)
    place_name: str | None = Field(default=None, max_length=128)
    what: str = Field(max_length=300)
    org_key: str = Field(max_length=32)
    starts_at: datetime = _utc()
    ends_at: datetime = _utc(index=True)
    status: str = Field(default="planned", max_length=16)  # planned|running|done|cancelled
    created_by_member_id: int | None = Field(default=None, foreign_key="members.id")
    created_at: datetime = _utc()
    followup_asked_at: datetime | None = _utc(default=None)
    followup_effect: str | None = Field(default=None, max_length=16)
    followup_comment: str | None = Field(default=None, max_length=500)
    followed_up_at: datetime | None = _utc(default=None)
    followup_by_member_id: int | None = Field(default=None, foreign_key="members.id")


class Broadcast(SQLModel, table=True):
    """One scheduled post for one period (e.g. the briefing of 2026-11-27), claimed once.

    The unique (kind, period) row is committed before anything is sent, so two
    processes, a restart or a DST change can never produce a second briefing.
    """

    __tablename__ = "broadcasts"
    __table_args__ = (UniqueConstraint("kind", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=24)
    period: str = Field(max_length=32)
    scheduled_for: datetime = _utc()
    created_at: datetime = _utc()
    status: str = Field(default="sending", max_length=16)  # sending | done | skipped | stale
    late: bool = False
    # What to send, rendered once when claimed, so a resumed run sends the same text.
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class Delivery(SQLModel, table=True):
    """One recipient of one broadcast: written before sending, marked after."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("broadcast_id", "chat_id"),)

    id: int | None = Field(default=None, primary_key=True)
    broadcast_id: int = Field(foreign_key="broadcasts.id", index=True)
    chat_id: int = _bigint()
    member_id: int | None = Field(default=None, foreign_key="members.id")
    group_id: int | None = Field(default=None, foreign_key="groups.id")
    status: str = Field(default="pending", max_length=16)  # pending | sent | failed | blocked
    attempts: int = 0
    message_ids: list[int] = Field(default_factory=list, sa_type=JSON)
    last_error: str | None = Field(default=None, max_length=300)
    sent_at: datetime | None = _utc(default=None)


class AgendaItem(SQLModel, table=True):
    """Something a coordinator flagged for the Thursday meeting (agenda points 5–7)."""

    __tablename__ = "agenda_items"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=16)  # beslut | samordning | informera
    text: str = Field(max_length=300)
    area_key: str | None = Field(default=None, max_length=32)
    created_by_member_id: int | None = Field(default=None, foreign_key="members.id")
    created_at: datetime = _utc(index=True)
    resolved_at: datetime | None = _utc(default=None)


class AuditEvent(SQLModel, table=True):
    """Who did what to which object, append-only: the kommun's answer to "who saw what".

    ``details`` holds counts, keys and choices, never free text or a reporter's identity.
    Only the gallring of the audit log itself deletes rows.
    """

    __tablename__ = "audit_events"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _utc(index=True)
    actor: str = Field(max_length=16)  # member | shell | system
    actor_member_id: int | None = Field(default=None, foreign_key="members.id")
    action: str = Field(max_length=40, index=True)
    object_kind: str = Field(default="", max_length=24)
    object_id: str | None = Field(default=None, max_length=64)
    details: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)


class LegalHold(SQLModel, table=True):
    """Reports of an area (or all areas) that occurred in a date range are not purged."""

    __tablename__ = "legal_holds"

    id: int | None = Field(default=None, primary_key=True)
    area_key: str | None = Field(default=None, max_length=32)  # None: every area
    starts_on: date
    ends_on: date
    reason: str = Field(max_length=300)
    created_by_member_id: int | None = Field(default=None, foreign_key="members.id")
    created_at: datetime = _utc()
    removed_at: datetime | None = _utc(default=None)
    removed_by_member_id: int | None = Field(default=None, foreign_key="members.id")


class WeeklyAggregate(SQLModel, table=True):
    """What is kept of purged reports: counts per area, ISO week, category, org kind."""

    __tablename__ = "weekly_aggregates"
    __table_args__ = (
        UniqueConstraint("area_key", "week_start", "category_key", "org_kind",
                         name="uq_weekly_aggregates_cell"),
    )

    id: int | None = Field(default=None, primary_key=True)
    area_key: str = Field(max_length=32)
    week_start: date  # the Monday of the ISO week, local time
    category_key: str = Field(max_length=32)
    org_kind: str = Field(max_length=32)
    report_count: int = 0
    severity_sum: int = 0
    weight_sum: float = 0.0


__all__ = [
    "AgendaItem",
    "Alert",
    "AlertMessage",
    "AreaLevel",
    "AuditEvent",
    "Broadcast",
    "Checklist",
    "Delivery",
    "Dialog",
    "Event",
    "Group",
    "InboxUpdate",
    "Insats",
    "Invite",
    "LegalHold",
    "Member",
    "Report",
    "ReportCategory",
    "WeeklyAggregate",
    "metadata",
]
