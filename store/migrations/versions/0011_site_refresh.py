"""Refreshing the visits site by site: one `visit_refresh` row per site, with its own lease and watermark.

Until now one row ("visits") held the one lease and watermark of every site, so one process refreshed all of a
chain's sites at a time. From here each site has a row of its own (`site` names it; `name` is "site:" and a hash
of it, as site names may be longer than the key), created by the first refresh that meets the site's observations
with the watermark every site had then. The installation's row keeps the settings the visits were built with, the
retention horizon and the lease of `presence rebuild`, `prune` and `erase`, which hold every site at once.
Nothing is rewritten: an existing database goes on from its one watermark.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("visit_refresh") as batch:
        batch.add_column(sa.Column("site", sa.Text(), nullable=True))


def downgrade() -> None:
    # The older code knows one watermark. When every site's is the same (each refresh brought every site up to
    # date) it becomes the installation's. When they differ no one watermark is right for every site (the lowest
    # would merge some observations twice), so the visits are marked for rebuild, as 0010's downgrade does.
    connection = op.get_bind()
    marks = connection.execute(sa.text("SELECT DISTINCT watermark FROM visit_refresh WHERE site IS NOT NULL")).all()
    if len(marks) == 1:
        connection.execute(
            sa.text("UPDATE visit_refresh SET watermark = :mark WHERE name = 'visits'"), {"mark": marks[0][0]}
        )
    elif marks:
        for name, settings in connection.execute(
            sa.text("SELECT name, settings FROM visit_refresh WHERE name = 'visits'")
        ).all():
            values = json.loads(settings)
            values["rebuild"] = "site_refresh"
            connection.execute(
                sa.text("UPDATE visit_refresh SET settings = :settings WHERE name = :name"),
                {"settings": json.dumps(values, sort_keys=True), "name": name},
            )
    connection.execute(sa.text("DELETE FROM visit_refresh WHERE site IS NOT NULL"))
    with op.batch_alter_table("visit_refresh") as batch:
        batch.drop_column("site")
