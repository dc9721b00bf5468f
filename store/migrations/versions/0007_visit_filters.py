"""Visit filters: every SSID and every AP of a visit on its row, and manufacturers under one short name.

Existing visits get their APs from their stored state (every AP that heard the visit) and their one recorded SSID
as their SSID list; `presence rebuild` makes the SSID lists exact from the observations still stored.
Manufacturers become the short names of devices.manufacturers ("Apple, Inc." -> "Apple").

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from devices.manufacturers import short_name

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("visit") as batch:
        batch.add_column(sa.Column("ssids", sa.Text(), nullable=True))
        batch.add_column(sa.Column("ap_macs", sa.Text(), nullable=True))
    connection = op.get_bind()
    connection.execute(sa.text("UPDATE visit SET ssids = ssid WHERE ssid IS NOT NULL"))
    # visit_state.aps is comma-separated; the visit's list is newline-separated (MACs hold neither).
    connection.execute(
        sa.text(
            "UPDATE visit SET ap_macs = (SELECT replace(aps, ',', char(10)) FROM visit_state "
            "WHERE visit_state.visit_id = visit.id)"
            if connection.dialect.name == "sqlite"
            else "UPDATE visit SET ap_macs = replace(visit_state.aps, ',', chr(10)) FROM visit_state "
            "WHERE visit_state.visit_id = visit.id"
        )
    )
    connection.execute(sa.text("UPDATE visit SET ap_macs = NULL WHERE ap_macs = ''"))
    names = connection.execute(sa.text("SELECT DISTINCT manufacturer FROM visit WHERE manufacturer IS NOT NULL"))
    for (name,) in names.all():
        if short_name(name) != name:
            connection.execute(
                sa.text("UPDATE visit SET manufacturer = :short WHERE manufacturer = :name"),
                {"short": short_name(name), "name": name},
            )


def downgrade() -> None:
    with op.batch_alter_table("visit") as batch:
        batch.drop_column("ap_macs")
        batch.drop_column("ssids")
