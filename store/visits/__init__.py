"""The stored visits, kept up to date from the observations: refresh from a watermark, rebuild, zone models.

`refresh_visits(engine, settings)` merges the observations stored since the last refresh (id > each site's
watermark) into the visits they touch and advances the watermarks; reports and the dashboard call it before
reading, and a periodic job may call it too. The receiver's POST path does no extra work: a refresh is a separate
step whose cost is the new observations plus the stored visits of the devices they belong to (see
analytics.incremental for why merging is exact: a visit keeps its signal cells and per-AP power, so merging new
observations into it gives what sessionizing all of its observations at once would). `rebuild_visits` empties the
tables and refreshes from id 0, which `presence rebuild` runs.

Retention: `presence prune` (store.retention) deletes old observations but keeps the visits. `prepare_prune`
merges everything first and records the horizon (`pruned_before`) under the lease; a rebuild after that keeps
the visits that start before the horizon as they are and recomputes only the rest, skipping the observations
that are already counted in a kept visit (see `rebuild_visits`).

Locking: one process refreshes a site at a time, and processes (or hosts, on PostgreSQL) refreshing different
sites work at the same time: `refresh_visits(..., sites=[...])` brings only those sites up to date, as a report
or page for one site does. Each site's `visit_refresh` row is a lease (locked_by, locked_until) and a watermark;
the installation's row holds the settings and the exclusive lease of a rebuild, prune or erasure (see `lease`).
A site's row is created by the first refresh that meets its observations, at the floor up to which every site's
observations are merged. Every write transaction renews the lease first (on SQLite that first write takes the
write lock, so the transaction never upgrades from a read and cannot fail with SQLITE_BUSY_SNAPSHOT) and checks
the watermarks it last wrote, so a process that lost its lease can never write.

The watermark is only safe if no observation with a smaller id can still commit. SQLite has one writer and
gives each row max(rowid) + 1, so max(id) is safe. PostgreSQL hands out ids from a sequence before the
inserting transaction commits, so a refresh takes max(id) under a brief SHARE lock on `observation`, which
waits for the inserts in flight (each holds ROW EXCLUSIVE from before it draws an id) and makes new ones wait
for the few microseconds the max takes.

SQLAlchemy Core throughout, not the ORM: these are bulk reads and writes.

The modules, in the order a refresh uses them:
- `shared`: the tables, the refresh row's name, chunk sizes, the errors and `RefreshResult`;
- `lease`: taking, renewing and releasing the refresh lease, and the settings the visits were built with;
- `batches`: observations after the watermark, read in id order up to a safe high end;
- `merge`: one batch merged into the stored visits it touches, in one write transaction;
- `states`: the binary encoding of each visit's cells and power, and the JSON of its zone moves;
- `zone_models`: the per-site zone models (fit, save, load) and re-zoning after a fit;
- `refresh`: the catch-up loop and `refresh_visits`;
- `rebuild`: `rebuild_visits`, and prune and erasure support.
"""

from store.visits.rebuild import delete_device_visits, prepare_prune, pruned_before, rebuild_visits
from store.visits.refresh import refresh_visits, visits_watermark
from store.visits.shared import VISITS, LeaseLost, RefreshBusy, RefreshResult, VisitsOutOfDate

__all__ = [
    "VISITS",
    "LeaseLost",
    "RefreshBusy",
    "RefreshResult",
    "VisitsOutOfDate",
    "delete_device_visits",
    "prepare_prune",
    "pruned_before",
    "rebuild_visits",
    "refresh_visits",
    "visits_watermark",
]
