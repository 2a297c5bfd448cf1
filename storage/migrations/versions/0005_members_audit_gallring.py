"""members that end, revoked invitations, the audit log, legal holds, weekly aggregates

Adds what running the bot in a kommun needs: ``members.ended_at`` (an ended member is a
stranger), ``invites.revoked_*``, the append-only ``audit_events``, ``legal_holds`` that
stop the gallring, and ``weekly_aggregates`` that keep the area × week picture of purged
reports. ``reports.member_id`` becomes nullable (the gallring erases the reporter link;
the organisation stays) and reports record when their text and reporter were erased.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import storage.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString
_UTC = storage.types.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", _UTC(timezone=True), nullable=False),
        sa.Column("actor", _TEXT(length=16), nullable=False),
        sa.Column("actor_member_id", sa.Integer(), nullable=True),
        sa.Column("action", _TEXT(length=40), nullable=False),
        sa.Column("object_kind", _TEXT(length=24), nullable=False),
        sa.Column("object_id", _TEXT(length=64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["actor_member_id"], ["members.id"],
                                name=op.f("fk_audit_events_actor_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(op.f("ix_audit_events_action"), "audit_events", ["action"])
    op.create_index(op.f("ix_audit_events_at"), "audit_events", ["at"])
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("area_key", _TEXT(length=32), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("reason", _TEXT(length=300), nullable=False),
        sa.Column("created_by_member_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _UTC(timezone=True), nullable=False),
        sa.Column("removed_at", _UTC(timezone=True), nullable=True),
        sa.Column("removed_by_member_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by_member_id"], ["members.id"],
                                name=op.f("fk_legal_holds_created_by_member_id_members")),
        sa.ForeignKeyConstraint(["removed_by_member_id"], ["members.id"],
                                name=op.f("fk_legal_holds_removed_by_member_id_members")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_legal_holds")),
    )
    op.create_table(
        "weekly_aggregates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("area_key", _TEXT(length=32), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("category_key", _TEXT(length=32), nullable=False),
        sa.Column("org_kind", _TEXT(length=32), nullable=False),
        sa.Column("report_count", sa.Integer(), nullable=False),
        sa.Column("severity_sum", sa.Integer(), nullable=False),
        sa.Column("weight_sum", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_weekly_aggregates")),
        sa.UniqueConstraint("area_key", "week_start", "category_key", "org_kind",
                            name="uq_weekly_aggregates_cell"),
    )
    # Plain ADD COLUMN on both databases: no table is rebuilt for these.
    op.add_column("members", sa.Column("ended_at", _UTC(timezone=True), nullable=True))
    with op.batch_alter_table("invites") as batch_op:  # nothing refers to invites
        batch_op.add_column(sa.Column("revoked_at", _UTC(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("revoked_by_member_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f("fk_invites_revoked_by_member_id_members"),
                                    "members", ["revoked_by_member_id"], ["id"])
    op.add_column("reports", sa.Column("text_erased_at", _UTC(timezone=True), nullable=True))
    op.add_column("reports", sa.Column("reporter_erased_at", _UTC(timezone=True),
                                       nullable=True))
    # Nullable reporter: SQLite rebuilds the table. env.py turns foreign keys off for the
    # migration, so dropping the old table does not cascade to report_categories, and
    # checks them afterwards (PRAGMA foreign_key_check).
    with op.batch_alter_table("reports") as batch_op:
        batch_op.alter_column("member_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    raise NotImplementedError("0005 is not reversible: restore a backup instead")
