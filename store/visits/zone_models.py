"""The per-site zone models: fitted on the site's recent visits, stored in `zone_model`, used to zone new visits.

A model is fitted when a site has none, when it was fitted on less than `zone_fit_window` and the site's data has
doubled since, when the site gained APs, or when it was fitted for another fingerprint (`zones.FINGERPRINT_VERSION`);
after a fit, or when the configured AP names or positions change, every visit of the site is re-zoned from its
stored cells.

The `centers` column holds the fitted values as JSON `{"fingerprint": N, "levels": [...]}` (`zones.StrongestAP`
levels, one per model AP). A bare list is a k-means model from before issue 15 (centres in absolute RSSI): it is
not read as levels but fitted again at the next refresh, as is any other fingerprint version.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    func,
    select,
    update,
)

from analytics import incremental, zones
from analytics.settings import AnalyticsSettings
from config.settings import Settings
from store.frames import read_tuples
from store.visits.lease import Lease, ap_config_json, site_row
from store.visits.shared import (
    MODELS,
    NO_SPAN,
    REFRESH,
    REZONE_CHUNK,
    STATE_NAME,
    STATES,
    VISITS,
    RefreshResult,
    chunks,
    log,
)
from store.visits.states import decode_states, encode_moves

# The settings the zone models are fitted with.
FIT_SETTINGS = ("rssi_floor_dbm", "zone_fit_sample", "random_state", "zone_fit_window", "min_dwell", "visitor_rssi_dbm")


@dataclass
class SiteModel:
    """A `zone_model` row in memory."""

    site: str
    aps: list[str]
    data_from: pd.Timestamp
    data_to: pd.Timestamp
    model_aps: list[str] | None = None
    centers: np.ndarray | None = None
    trained_from: pd.Timestamp | None = None
    trained_to: pd.Timestamp | None = None
    fingerprints: int = 0
    version: int = 0
    fitted_at: datetime | None = None
    zoned: bool = False
    stored: bool = True
    # Fitted for another fingerprint than zones.FINGERPRINT_VERSION: its stored values cannot be read, fit again.
    stale: bool = False

    @property
    def fitted(self) -> bool:
        return self.version > 0

    def zones(self, access_points: Mapping[str, zones.NamedAccessPoint]) -> zones.SiteZones:
        return zones.site_zones_from_levels(self.site, self.model_aps or self.aps, self.centers, access_points)


def decode_levels(text: str | None) -> tuple[np.ndarray | None, bool]:
    """A `centers` column's fitted levels, and whether the row is stale (fitted for another fingerprint)."""
    if not text:
        return None, False
    stored = json.loads(text)
    if not isinstance(stored, dict) or stored.get("fingerprint") != zones.FINGERPRINT_VERSION:
        return None, True
    return np.asarray(stored["levels"], dtype="float64"), False


def encode_levels(levels: np.ndarray | None) -> str | None:
    if levels is None:
        return None
    return json.dumps({"fingerprint": zones.FINGERPRINT_VERSION, "levels": np.asarray(levels).tolist()})


def load_models(engine: Engine, sites: Sequence[str] | None = None) -> dict[str, SiteModel]:
    """The stored zone models of `sites` (None: every site's)."""
    query = select(MODELS) if sites is None else select(MODELS).where(MODELS.c.site.in_(list(sites)))
    with engine.connect() as connection:
        rows = connection.execute(query).mappings().all()
    models = {}
    for row in rows:
        levels, stale = decode_levels(row["centers"])
        models[row["site"]] = SiteModel(
            site=row["site"],
            aps=json.loads(row["aps"]),
            data_from=pd.Timestamp(row["data_from"]),
            data_to=pd.Timestamp(row["data_to"]),
            model_aps=json.loads(row["model_aps"]) if row["model_aps"] else None,
            centers=levels,
            trained_from=pd.Timestamp(row["trained_from"]) if row["trained_from"] else None,
            trained_to=pd.Timestamp(row["trained_to"]) if row["trained_to"] else None,
            fingerprints=int(row["fingerprints"]),
            version=int(row["version"]),
            fitted_at=row["fitted_at"],
            zoned=bool(row["zoned"]),
            stale=stale,
        )
    return models


def record_sites(
    connection: Connection, batch: pd.DataFrame, visits: pd.DataFrame, models: dict[str, SiteModel]
) -> None:
    """Widen each touched site's span and AP list (in memory and in its zone_model row)."""
    spans = visits.groupby("site").agg(first=("first_seen", "min"), last=("last_seen", "max"))
    aps = batch.groupby("site")["ap_mac"].unique()
    touched = []
    for site, span in spans.iterrows():
        model = models.get(str(site))
        site_aps = sorted(set(aps.get(site, [])))
        if model is None:
            model = SiteModel(str(site), site_aps, span["first"], span["last"], stored=False)
            models[str(site)] = model
        if model.data_to == pd.Timestamp(NO_SPAN):
            model.data_from, model.data_to = span["first"], span["last"]
        model.aps = sorted(set(model.aps) | set(site_aps))
        model.data_from = min(model.data_from, span["first"])
        model.data_to = max(model.data_to, span["last"])
        touched.append(model)
    save_models(connection, touched)


def save_models(connection: Connection, models: Sequence[SiteModel]) -> None:
    """Write the rows of `models`: one statement for the stored ones and one for the new (a minute's refresh at
    100 sites had sent a hundred single-row UPDATEs)."""
    stored = [_model_values(model) | {"model_site": model.site} for model in models if model.stored]
    new = [_model_values(model) | {"site": model.site} for model in models if not model.stored]
    if stored:
        columns: dict[str, Any] = {name: bindparam(name) for name in stored[0] if name != "model_site"}
        connection.execute(update(MODELS).where(MODELS.c.site == bindparam("model_site")).values(columns), stored)
    if new:
        connection.execute(MODELS.insert(), new)
    for model in models:
        model.stored = True


def _model_values(model: SiteModel) -> dict[str, Any]:
    return {
        "aps": json.dumps(model.aps),
        "data_from": model.data_from.to_pydatetime(),
        "data_to": model.data_to.to_pydatetime(),
        "model_aps": json.dumps(model.model_aps) if model.model_aps is not None else None,
        "centers": encode_levels(model.centers),
        "trained_from": model.trained_from.to_pydatetime() if model.trained_from is not None else None,
        "trained_to": model.trained_to.to_pydatetime() if model.trained_to is not None else None,
        "fitted_at": model.fitted_at if model.fitted else None,
        "fingerprints": model.fingerprints,
        "version": model.version,
        "zoned": model.zoned,
    }


def zone_rows(
    visits: pd.DataFrame,
    cells: pd.DataFrame,
    power: pd.DataFrame,
    models: Mapping[str, SiteModel],
    settings: Settings,
    analytics_settings: AnalyticsSettings,
) -> pd.DataFrame:
    """zone, last_zone, x, y and zone_moves per visit `key` (zones NULL where the site has no fitted model)."""
    positions = zones.power_positions(power, settings.access_points)
    result = pd.DataFrame(index=pd.Index(visits["key"].to_numpy(dtype="int64"), name="key"))
    result["zone"] = pd.Series(dtype=object)
    result["last_zone"] = pd.Series(dtype=object)
    result["zone_moves"] = pd.Series(dtype=object)
    result["x"] = positions["x"].reindex(result.index).to_numpy()
    result["y"] = positions["y"].reindex(result.index).to_numpy()
    site_of = pd.Series(visits["site"].to_numpy(dtype=object), index=visits["key"].to_numpy(dtype="int64"))
    fitted = {site: model for site, model in models.items() if model.fitted}
    cells = cells.loc[site_of.reindex(cells["visit"].to_numpy()).isin(list(fitted)).to_numpy()]
    if cells.empty:
        return result
    cells = cells.assign(site=site_of.reindex(cells["visit"].to_numpy()).to_numpy())
    zone_model = zones.ZoneModel({site: model.zones(settings.access_points) for site, model in fitted.items()})
    placed, moves = incremental.zone_summary(cells, zone_model, analytics_settings)
    result.loc[placed.index, "zone"] = placed["zone"].astype(object)
    result.loc[placed.index, "last_zone"] = placed["last_zone"].astype(object)
    if len(moves):
        result.loc[:, "zone_moves"] = encode_moves(moves).reindex(result.index).to_numpy()
    return result


def update_zones(
    lease: Lease,
    models: dict[str, SiteModel],
    settings: Settings,
    analytics_settings: AnalyticsSettings,
    result: RefreshResult,
) -> None:
    """Fit the zone models of the lease's sites that need it and re-zone what they changed (and every visit of a
    site whose visits were zoned with other AP names or positions: each site's row records the ones they were).

    The sites are fitted together (`FIT_BATCH_VISITS` at a time) and re-zoned together: one site at a time, the
    125 new sites of `benchmarks/load` had taken 5 s of a refresh at each fit, a query, a frame and a leased
    transaction per site each time."""
    engine = lease.engine
    current = ap_config_json(settings)
    with engine.connect() as connection:
        installation = connection.execute(select(REFRESH.c.ap_config).where(REFRESH.c.name == STATE_NAME)).scalar()
        zoned_with: dict[str, str] = dict(
            connection.execute(select(REFRESH.c.site, REFRESH.c.ap_config).where(REFRESH.c.site.is_not(None))).all()
        )
    window = pd.Timedelta(analytics_settings.zone_fit_window)
    held = [model for site, model in sorted(models.items()) if lease.exclusive or site in lease.sites]
    fitted = _fit_sites(lease, [model for model in held if _fit_due(model, window)], analytics_settings)
    if fitted:
        for model in fitted:
            result.fitted.append(model.site)
            model.zoned = False
        with lease.transaction() as connection:
            save_models(connection, fitted)
    unzoned = [
        model
        for model in held
        if model.fitted and (not model.zoned or zoned_with.get(model.site, installation) != current)
    ]
    if unzoned:
        result.zoned += _rezone(lease, unzoned, settings, analytics_settings)
        for model in unzoned:
            model.zoned = True
        with lease.transaction() as connection:
            save_models(connection, unzoned)
    changed = [site_row(site) for site in lease.sites if zoned_with.get(site, installation) != current]
    if changed or (lease.exclusive and installation != current):
        with lease.transaction() as connection:
            for part in chunks(changed):
                connection.execute(update(REFRESH).where(REFRESH.c.name.in_(part)).values(ap_config=current))
            if lease.exclusive:
                connection.execute(update(REFRESH).where(REFRESH.c.name == STATE_NAME).values(ap_config=current))


def _fit_due(model: SiteModel, window: pd.Timedelta) -> bool:
    """Whether the site's model is to be fitted: none yet, fitted on less than `window` and the site's data has
    doubled since, the site gained APs, or fitted for another fingerprint."""
    span = model.data_to - model.data_from
    trained = pd.Timedelta(0)
    if model.trained_from is not None and model.trained_to is not None:
        trained = model.trained_to - model.trained_from
    young = model.fitted and trained < window and span >= 2 * max(trained, pd.Timedelta(minutes=1))
    new_aps = model.fitted and (model.model_aps or []) != model.aps and len(model.aps) > 1
    return not model.fitted or young or new_aps or model.stale


# Sites are fitted together while their fit windows hold at most this many visits in all (a site with more is
# fitted alone): their cells are in memory at once.
FIT_BATCH_VISITS = 50_000


def _fit_sites(lease: Lease, due: Sequence[SiteModel], analytics_settings: AnalyticsSettings) -> list[SiteModel]:
    """Fit the models of `due`, each on the fingerprints of its site's qualifying visits of its latest
    `zone_fit_window` (all its visits there if none qualify); the models fitted (a site without visits is not)."""
    window = pd.Timedelta(analytics_settings.zone_fit_window)
    since = {model.site: model.data_to - window for model in due}
    qualifying = and_(
        VISITS.c.dwell_seconds >= pd.Timedelta(analytics_settings.min_dwell).total_seconds(),
        VISITS.c.max_rssi >= analytics_settings.visitor_rssi_dbm,
    )
    fitted = []
    for batch in _fit_batches(lease.engine, due, since):
        site_aps = {model.site: model.aps for model in batch}
        features = _window_features(lease.engine, batch, since, qualifying, site_aps, analytics_settings)
        bare = [model for model in batch if model.site not in features]
        if bare:
            features.update(_window_features(lease.engine, bare, since, None, site_aps, analytics_settings))
        chosen = {model.site: model for model in batch}
        for site, (site_zones, fingerprints) in zones.fit_feature_zones(
            features, site_aps, None, analytics_settings
        ).items():
            _fitted(chosen[site], site_zones, fingerprints, since[site])
            fitted.append(chosen[site])
    return fitted


def _fit_batches(
    engine: Engine, due: Sequence[SiteModel], since: Mapping[str, pd.Timestamp]
) -> Iterator[list[SiteModel]]:
    """`due` in groups whose fit windows hold at most FIT_BATCH_VISITS visits in all (a larger site alone)."""
    if not due:
        return
    counts: dict[str, int] = {}
    with engine.connect() as connection:
        for part in chunks(list(due)):
            earliest = min(since[model.site] for model in part).to_pydatetime()
            query = (
                select(VISITS.c.site, func.count())
                .where(VISITS.c.site.in_([model.site for model in part]), VISITS.c.first_seen >= earliest)
                .group_by(VISITS.c.site)
            )
            counts.update({str(site): int(count) for site, count in connection.execute(query)})
    batch: list[SiteModel] = []
    visits = 0
    for model in due:
        count = counts.get(model.site, 0)
        if batch and visits + count > FIT_BATCH_VISITS:
            yield batch
            batch, visits = [], 0
        batch.append(model)
        visits += count
    yield batch


def _window_features(
    engine: Engine,
    models: Sequence[SiteModel],
    since: Mapping[str, pd.Timestamp],
    condition: Any,
    site_aps: Mapping[str, Sequence[str]],
    analytics_settings: AnalyticsSettings,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The `zones.cell_features` of the sites' visits within each site's fit window and `condition`, worked out
    chunk by chunk (each chunk holds whole visits, in id order) so that only the features are kept, not the cells
    (the cells of a busy shop's week took 3 GB)."""
    earliest = min(since[model.site] for model in models)
    where = and_(VISITS.c.site.in_([model.site for model in models]), VISITS.c.first_seen >= earliest.to_pydatetime())
    parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for visits, cells, _power in _states_where(engine, where if condition is None else and_(where, condition)):
        starts = pd.Series(since).reindex(visits["site"]).to_numpy(dtype="datetime64[ns]")
        inside = visits.loc[visits["first_seen"].to_numpy(dtype="datetime64[ns]") >= starts]
        site_of = pd.Series(inside["site"].to_numpy(dtype=object), index=inside["key"].to_numpy())
        cells = cells.assign(site=site_of.reindex(cells["visit"].to_numpy()).to_numpy())
        for site, features in zones.cell_features(cells, site_aps, analytics_settings).items():
            parts.setdefault(site, []).append(features)
    return {
        site: (np.concatenate([matrix for matrix, _ in pieces]), np.concatenate([visits for _, visits in pieces]))
        for site, pieces in parts.items()
    }


def _fitted(model: SiteModel, site_zones: zones.SiteZones, fingerprints: int, since: pd.Timestamp) -> None:
    """Record in `model` the zones fitted on its site's `fingerprints` fingerprints from `since`."""
    model.model_aps = list(site_zones.aps)
    model.centers = None if site_zones.rule is None else np.asarray(site_zones.rule.levels, dtype="float64")
    model.stale = False
    model.trained_from, model.trained_to = max(since, model.data_from), model.data_to
    model.fingerprints = fingerprints
    model.version += 1
    model.fitted_at = datetime.now(UTC)
    log.info("fitted the zone model of site %s on %d fingerprints", model.site, fingerprints)


def _states_where(engine: Engine, condition: Any) -> Iterator[tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]]:
    """Stored visits matching `condition`, REZONE_CHUNK at a time by id: (visits: key, site, first_seen; cells;
    power)."""
    after = 0
    while True:
        query = (
            select(VISITS.c.id, VISITS.c.site, VISITS.c.first_seen, STATES.c.aps, STATES.c.cells, STATES.c.power)
            .select_from(VISITS.join(STATES, STATES.c.visit_id == VISITS.c.id))
            .where(condition, VISITS.c.id > after)
            .order_by(VISITS.c.id)
            .limit(REZONE_CHUNK)
        )
        with engine.connect() as connection:
            rows = read_tuples(connection, query)
        if not rows:
            return
        ids = np.array([row[0] for row in rows], dtype="int64")
        visits = pd.DataFrame(
            {
                "key": ids,
                "site": [row[1] for row in rows],
                "first_seen": pd.to_datetime([row[2] for row in rows], utc=True),
            }
        )
        cells, power = decode_states(ids, [row[3] for row in rows], [row[4] for row in rows], [row[5] for row in rows])
        yield visits, cells, power
        after = int(ids[-1])


def _rezone(
    lease: Lease,
    models: Sequence[SiteModel],
    settings: Settings,
    analytics_settings: AnalyticsSettings,
) -> int:
    """Work out zone, last_zone, x, y and moves of every visit of the models' sites again from its stored cells."""
    chosen = {model.site: model for model in models}
    count = 0
    for part in chunks(sorted(chosen)):
        for visits, cells, power in _states_where(lease.engine, VISITS.c.site.in_(list(part))):
            placed = zone_rows(visits, cells, power, chosen, settings, analytics_settings)
            rows = [
                {
                    "visit_id": int(visit_id),
                    "zone": _none(row.zone),
                    "last_zone": _none(row.last_zone),
                    "x": _none(row.x),
                    "y": _none(row.y),
                    "zone_moves": _none(row.zone_moves),
                }
                for visit_id, row in zip(placed.index, placed.itertuples(index=False), strict=True)
            ]
            with lease.transaction() as connection:
                connection.execute(
                    update(VISITS)
                    .where(VISITS.c.id == bindparam("visit_id"))
                    .values(
                        zone=bindparam("zone"),
                        last_zone=bindparam("last_zone"),
                        x=bindparam("x"),
                        y=bindparam("y"),
                        zone_moves=bindparam("zone_moves"),
                    ),
                    rows,
                )
            count += len(rows)
    return count


def _none(value: Any) -> Any:
    if value is None or value is pd.NA:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    return value
