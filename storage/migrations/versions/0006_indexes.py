"""indexes for the daily post, the checks after each report and counting in SQL

- ``reports(received_at)``: the daily post asks what came in during the last 24 hours
  (a full scan of reports without it);
- ``reports(area_key, occurred_at)``: an area's recent reports, read after every report
  (the alerts) and by ``/lagesbild <område>``;
- ``reports(member_id, received_at)``: a reporter's latest reports (/mina_rapporter).

The lägesbild, the briefing and the digest count over ``reports(occurred_at)`` (its
index exists since 0001) and read each report's categories by the primary key of
``report_categories``; ``EXPLAIN`` shows both used (bench/README.md).

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_reports_received_at": ["received_at"],
    "ix_reports_area_key_occurred_at": ["area_key", "occurred_at"],
    "ix_reports_member_id_received_at": ["member_id", "received_at"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "reports", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="reports")
