"""dialogs: one table for the state of every conversation

report_drafts becomes dialogs. Each row gets its kind (report, calm, event,
insats, followup) and the set of update ids it has handled instead of the
highest one; open rows stay open at the same step, so a dialog that was open
during the upgrade still finishes. A report being edited keeps the report's
id in its data.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_STATUS = {"open": "open", "submitted": "done", "cancelled": "cancelled",
               "plan_open": "open", "plan_done": "done", "plan_cancelled": "cancelled"}


def _kind(step: str, status: str) -> str:
    if status.startswith("plan_"):
        if step == "fu_comment":
            return "followup"
        return "event" if step.startswith("ev_") else "insats"
    return "calm" if step == "calm" else "report"


def upgrade() -> None:
    # A rename (not a copy) keeps reports.draft_id pointing at the same rows on
    # both databases; SQLite rewrites the foreign key itself.
    op.rename_table("report_drafts", "dialogs")
    op.drop_index("ix_report_drafts_member_id", table_name="dialogs")
    op.create_index("ix_dialogs_member_id", "dialogs", ["member_id"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE dialogs RENAME CONSTRAINT pk_report_drafts TO pk_dialogs")
        op.execute("ALTER TABLE dialogs RENAME CONSTRAINT fk_report_drafts_member_id_members "
                   "TO fk_dialogs_member_id_members")
        op.execute("ALTER TABLE reports RENAME CONSTRAINT fk_reports_draft_id_report_drafts "
                   "TO fk_reports_draft_id_dialogs")
    op.add_column("dialogs", sa.Column("kind", sa.String(length=24), nullable=False,
                                       server_default="report"))
    op.add_column("dialogs", sa.Column("handled_update_ids", sa.JSON(), nullable=True))

    dialogs = sa.table(
        "dialogs", sa.column("id", sa.Integer), sa.column("kind", sa.String),
        sa.column("status", sa.String), sa.column("step", sa.String),
        sa.column("data", sa.JSON), sa.column("handled_update_ids", sa.JSON),
        sa.column("last_update_id", sa.BigInteger), sa.column("editing_report_id", sa.Integer),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(dialogs.c.id, dialogs.c.status, dialogs.c.step,
                                  dialogs.c.data, dialogs.c.last_update_id,
                                  dialogs.c.editing_report_id)).all()
    for row in rows:
        data = dict(row.data or {})
        if row.editing_report_id is not None:
            data["editing_report_id"] = row.editing_report_id
        bind.execute(
            dialogs.update().where(dialogs.c.id == row.id).values(
                kind=_kind(row.step, row.status),
                status=_OLD_STATUS.get(row.status, "cancelled"),
                data=data,
                handled_update_ids=[row.last_update_id] if row.last_update_id else [],
            )
        )
    # Plain DROP COLUMN (SQLite ≥ 3.35, PostgreSQL): no table rebuild, so the
    # foreign key from reports is never touched.
    op.execute("ALTER TABLE dialogs DROP COLUMN last_update_id")
    op.execute("ALTER TABLE dialogs DROP COLUMN editing_report_id")
    if bind.dialect.name == "postgresql":  # SQLite does not enforce lengths
        op.alter_column("dialogs", "step", type_=sa.String(length=24), existing_nullable=False)
    op.create_index("ix_dialogs_open", "dialogs", ["member_id", "chat_id", "status"],
                    unique=False)


def downgrade() -> None:
    raise NotImplementedError("0004 is not reversible: restore a backup instead")
