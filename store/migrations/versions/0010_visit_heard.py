"""The estimated stay: each stored visit keeps when it was heard, so its estimated dwell survives merges exactly.

Existing visits hold the span heard (last_seen - first_seen) in dwell_seconds and have no heard intervals, so they
are marked for rebuild, not recomputed: the refresh row records them as built with dwell_estimate = "span", and the
next refresh with the default estimate refuses them (VisitsOutOfDate) until `presence rebuild` recomputes every
visit from the observations. An installation that sets dwell_estimate = "span" keeps its visits as they are. A
rebuild after `presence prune` works out the estimate of the visits it keeps from before the retention horizon
from their span alone (store.visits.rebuild), as their observations are gone.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("visit_state") as batch:
        batch.add_column(sa.Column("heard", sa.LargeBinary(), nullable=True))
    connection = op.get_bind()
    for name, settings in connection.execute(sa.text("SELECT name, settings FROM visit_refresh")).all():
        values = json.loads(settings)
        values.setdefault("dwell_estimate", "span")
        connection.execute(
            sa.text("UPDATE visit_refresh SET settings = :settings WHERE name = :name"),
            {"settings": json.dumps(values, sort_keys=True), "name": name},
        )


def downgrade() -> None:
    # Visits built with the estimate hold it in dwell_seconds; the older code would read it as the span, so the
    # refresh row is marked with a setting that code never writes, and its refresh refuses the visits until rebuilt.
    connection = op.get_bind()
    for name, settings in connection.execute(sa.text("SELECT name, settings FROM visit_refresh")).all():
        values = json.loads(settings)
        if values.pop("dwell_estimate", "span") != "span":
            values["rebuild"] = "dwell_estimate"
        for prior in ("probe_gap_unassociated", "probe_gap_associated"):
            values.pop(prior, None)
        connection.execute(
            sa.text("UPDATE visit_refresh SET settings = :settings WHERE name = :name"),
            {"settings": json.dumps(values, sort_keys=True), "name": name},
        )
    with op.batch_alter_table("visit_state") as batch:
        batch.drop_column("heard")
