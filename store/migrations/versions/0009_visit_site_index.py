"""Visits by site: an index that serves one site's window (`--site`, a site's pages) as fast as a one-site
database's, counting its devices without reading a row.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_visit_site_first_seen",
        "visit",
        ["site", "first_seen", "dwell_seconds", "max_rssi", "previous_first_seen", "randomized"],
    )


def downgrade() -> None:
    op.drop_index("ix_visit_site_first_seen", table_name="visit")
