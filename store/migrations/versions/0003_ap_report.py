"""AP reports: when each AP last posted, so silent APs can be seen.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from store.models import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ap_report",
        sa.Column("ap_mac", sa.String(17), primary_key=True),
        sa.Column("vendor", sa.String(16), nullable=False),
        sa.Column("site", sa.String(120), nullable=False),
        sa.Column("first_report_at", UTCDateTime(), nullable=False),
        sa.Column("last_report_at", UTCDateTime(), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
    )
    # Earlier observations already say when each AP was last heard; start from them.
    op.execute(
        "INSERT INTO ap_report (ap_mac, vendor, site, first_report_at, last_report_at, reports, records) "
        "SELECT ap_mac, min(vendor), min(site), min(received_at), max(received_at), count(DISTINCT received_at), "
        "count(*) FROM observation GROUP BY ap_mac"
    )


def downgrade() -> None:
    op.drop_table("ap_report")
