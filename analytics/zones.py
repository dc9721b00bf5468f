"""Zones: where in a site each visit spent its time, by clustering per-AP RSSI fingerprints.

A fingerprint is one device's signal at every AP of the site during one `fingerprint_period` (the mean rssi_avg
each AP reported; an AP that did not hear it counts as `rssi_floor_dbm`). k-means with one cluster per AP groups
fingerprints into places; each cluster is named after the AP it hears strongest (its configured name if any).
With a single AP there is one zone, named after that AP: one AP cannot tell places apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import numpy as np
import pandas as pd

from analytics.classify import PARTY
from analytics.settings import AnalyticsSettings


class NamedAccessPoint(Protocol):
    """What zones need to know about an AP (config.settings.AccessPoint has it; read-only, so frozen dataclasses
    qualify)."""

    @property
    def name(self) -> str: ...

    @property
    def x(self) -> float | None: ...

    @property
    def y(self) -> float | None: ...


@dataclass(frozen=True)
class NearestCenters:
    """A fitted k-means reduced to what prediction needs: each row goes to its nearest centre (Euclidean).

    This is what a persisted zone model is (store.visits keeps the centres in the database), and it
    predicts as `KMeans.predict` does without importing scikit-learn, which costs a second at start-up.
    """

    cluster_centers_: np.ndarray

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        """The index of the nearest centre of each row."""
        if len(matrix) == 0:
            return np.zeros(0, dtype="int64")
        distances = ((matrix[:, None, :] - self.cluster_centers_[None, :, :]) ** 2).sum(axis=2)
        return np.argmin(distances, axis=1)


@dataclass(frozen=True)
class SiteZones:
    """The zone model of one site: its APs (fingerprint column order), the fitted k-means, each cluster's zone."""

    site: str
    aps: tuple[str, ...]
    cluster_zones: tuple[str, ...]
    kmeans: Any = None  # sklearn KMeans; None when the site has one zone

    def predict(self, fingerprints: pd.DataFrame, floor_dbm: float) -> np.ndarray:
        """Zone name of each fingerprint row (columns are AP MACs; APs this model does not know are ignored)."""
        if self.kmeans is None:
            return np.full(len(fingerprints), self.cluster_zones[0], dtype=object)
        matrix = fingerprints.reindex(columns=list(self.aps)).fillna(floor_dbm).to_numpy(dtype="float64")
        return np.asarray(self.cluster_zones, dtype=object)[self.kmeans.predict(matrix)]


@dataclass(frozen=True)
class ZoneModel:
    """A zone model per site."""

    sites: Mapping[str, SiteZones]


def zone_name(ap_mac: str, access_points: Mapping[str, NamedAccessPoint] | None) -> str:
    """The configured name of an AP, else its MAC."""
    ap = (access_points or {}).get(ap_mac)
    return ap.name if ap is not None else ap_mac


def fingerprints(observations: pd.DataFrame, keys: Sequence[str], settings: AnalyticsSettings) -> pd.DataFrame:
    """Per-AP RSSI vectors: one row per `keys` + period (the midpoint of each observation, floored), one column
    per AP MAC, the mean rssi_avg; an AP that did not hear the device in that period is NaN."""
    first = observations["first_seen"].to_numpy(dtype="datetime64[ns]").view("int64")
    last = observations["last_seen"].to_numpy(dtype="datetime64[ns]").view("int64")
    period_ns = pd.Timedelta(settings.fingerprint_period).value
    midpoint = first + (last - first) // 2
    period = pd.to_datetime((midpoint // period_ns) * period_ns, utc=True)
    frame = observations.loc[:, [*keys, "ap_mac"]].assign(period=period)
    grouped = frame.groupby([*keys, "period"], sort=True)
    rows = grouped.ngroup().to_numpy()
    index = grouped.size().index
    ap_codes, ap_names = pd.factorize(frame["ap_mac"], sort=True)
    cells = len(index) * len(ap_names)
    # One bincount instead of groupby + unstack: the mean rssi_avg of each (row, AP) cell.
    flat = rows * len(ap_names) + ap_codes
    sums = np.bincount(flat, weights=observations["rssi_avg"].to_numpy(dtype="float64"), minlength=cells)
    counts = np.bincount(flat, minlength=cells)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    wide = pd.DataFrame(
        means.reshape(len(index), len(ap_names)),
        index=index,
        columns=pd.Index(list(ap_names), dtype=object, name="ap_mac"),
    )
    return wide


def fit_zones(
    observations: pd.DataFrame,
    access_points: Mapping[str, NamedAccessPoint] | None,
    settings: AnalyticsSettings,
) -> ZoneModel:
    """Fit a zone model per site on the device fingerprints of `observations` (all of them, before filters).

    k-means starts from each AP's mean fingerprint where that AP is the strongest, so cluster i begins as "near
    AP i" and converges deterministically; when some AP is never the strongest, k-means++ seeded with
    `random_state` chooses the start. At most `zone_fit_sample` fingerprints per site are used for fitting.
    """
    sites: dict[str, SiteZones] = {}
    for site, site_observations in observations.groupby("site", sort=True):
        aps = tuple(sorted(site_observations["ap_mac"].unique()))
        wide = fingerprints(site_observations, ["device"], settings) if len(aps) > 1 else None
        sites[str(site)] = fit_site_zones(str(site), aps, wide, access_points, settings)
    return ZoneModel(sites)


def fit_site_zones(
    site: str,
    aps: Sequence[str],
    wide: pd.DataFrame | None,
    access_points: Mapping[str, NamedAccessPoint] | None,
    settings: AnalyticsSettings,
) -> SiteZones:
    """The zone model of one site from its fingerprints (`fingerprints` output; unused with a single AP).

    See `fit_zones`. The fingerprint sample is drawn with `random_state`, so the same fingerprints always give
    the same model.
    """
    aps = tuple(sorted(aps))
    if len(aps) == 1 or wide is None or wide.empty:
        return SiteZones(site, aps[:1], (zone_name(aps[0], access_points),))
    from sklearn.cluster import KMeans  # here, not at import: a report that only predicts never needs it

    matrix = wide.reindex(columns=list(aps)).fillna(settings.rssi_floor_dbm).to_numpy(dtype="float64")
    rng = np.random.default_rng(settings.random_state)
    if len(matrix) > settings.zone_fit_sample:
        matrix = matrix[np.sort(rng.choice(len(matrix), settings.zone_fit_sample, replace=False))]
    distinct = len(np.unique(matrix, axis=0))
    n_clusters = min(len(aps), distinct)
    strongest = np.argmax(matrix, axis=1)
    if n_clusters == len(aps) and len(np.unique(strongest)) == len(aps):
        init: Any = np.vstack([matrix[strongest == index].mean(axis=0) for index in range(len(aps))])
        n_init = 1
    else:
        init, n_init = "k-means++", 10
    kmeans = KMeans(n_clusters=n_clusters, init=init, n_init=n_init, random_state=settings.random_state)
    kmeans.fit(matrix)
    cluster_zones = tuple(zone_name(aps[int(np.argmax(center))], access_points) for center in kmeans.cluster_centers_)
    return SiteZones(site, aps, cluster_zones, kmeans)


def cluster_aps(site_zones: SiteZones) -> tuple[str, ...]:
    """The AP each cluster is named after (the strongest in its centre): the name-free form of `cluster_zones`."""
    if site_zones.kmeans is None:
        return site_zones.aps[:1]
    centers = np.asarray(site_zones.kmeans.cluster_centers_, dtype="float64")
    return tuple(site_zones.aps[int(np.argmax(center))] for center in centers)


def site_zones_from_centers(
    site: str,
    aps: Sequence[str],
    centers: np.ndarray | None,
    access_points: Mapping[str, NamedAccessPoint] | None,
) -> SiteZones:
    """A site's zone model rebuilt from stored k-means centres (None or one AP: a single zone), named with the
    current AP names."""
    aps = tuple(aps)
    if centers is None or len(aps) == 1:
        return SiteZones(site, aps[:1], (zone_name(aps[0], access_points),))
    model = NearestCenters(np.asarray(centers, dtype="float64"))
    names = tuple(zone_name(aps[int(np.argmax(center))], access_points) for center in model.cluster_centers_)
    return SiteZones(site, aps, names, model)


def period_zones(labelled: pd.DataFrame, model: ZoneModel, settings: AnalyticsSettings) -> pd.DataFrame:
    """The zone of every visit's fingerprint periods: columns visit, period (UTC), zone, in time order.

    `labelled` is `visits.label_visits` output. A site the model has not seen gets its strongest AP per period.
    """
    parts = [
        _predicted(fingerprints(site_observations, ["visit"], settings), model.sites.get(str(site)), settings)
        for site, site_observations in labelled.groupby("site", sort=True)
    ]
    return _periods(parts)


def cell_fingerprints(cells: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """`fingerprints` from cells: one row per `keys` + period with the rssi_avg `rssi_sum` and `count` of one AP.

    A stored visit keeps its cells instead of its observations (store.visits): the mean of a cell is
    the same mean `fingerprints` takes, so zones come out the same. `period` is the period start in ns since
    the epoch (int64) or a UTC time.
    """
    period = pd.to_datetime(cells["period"], utc=True) if cells["period"].dtype.kind == "i" else cells["period"]
    frame = cells.loc[:, [*keys, "ap_mac"]].assign(period=period)
    grouped = frame.groupby([*keys, "period"], sort=True)
    rows = grouped.ngroup().to_numpy()
    index = grouped.size().index
    ap_codes, ap_names = pd.factorize(frame["ap_mac"], sort=True)
    cell_count = len(index) * len(ap_names)
    flat = rows * len(ap_names) + ap_codes
    sums = np.bincount(flat, weights=cells["rssi_sum"].to_numpy(dtype="float64"), minlength=cell_count)
    counts = np.bincount(flat, weights=cells["count"].to_numpy(dtype="float64"), minlength=cell_count)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return pd.DataFrame(
        means.reshape(len(index), len(ap_names)),
        index=index,
        columns=pd.Index(list(ap_names), dtype=object, name="ap_mac"),
    )


def cell_period_zones(cells: pd.DataFrame, model: ZoneModel, settings: AnalyticsSettings) -> pd.DataFrame:
    """`period_zones` from cells (columns site, visit, period, ap_mac, rssi_sum, count)."""
    parts = [
        _predicted(cell_fingerprints(site_cells, ["visit"]), model.sites.get(str(site)), settings)
        for site, site_cells in cells.groupby("site", sort=True)
    ]
    return _periods(parts)


def _predicted(wide: pd.DataFrame, site_model: SiteZones | None, settings: AnalyticsSettings) -> pd.DataFrame:
    if site_model is None:
        zones = wide.fillna(settings.rssi_floor_dbm).idxmax(axis=1).to_numpy(dtype=object)
    else:
        zones = site_model.predict(wide, settings.rssi_floor_dbm)
    return wide.index.to_frame(index=False).assign(zone=zones)


def _periods(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(
            {
                "visit": pd.Series(dtype="int64"),
                "period": pd.Series(dtype="datetime64[ns, UTC]"),
                "zone": pd.Series(dtype="str"),
            }
        )
    result = pd.concat(parts, ignore_index=True).astype({"zone": "str"})
    return result.sort_values(["visit", "period"], ignore_index=True)


def visit_zones(periods: pd.DataFrame, max_gap: timedelta = timedelta(minutes=15)) -> pd.DataFrame:
    """Per visit: `zone`, where it spent the most time, and `last_zone`, its zone in its latest period.

    A phone is heard only now and then (unassociated phones probe every minute or few), so each fingerprint
    period stands for the time halfway to its neighbours (gaps capped at `max_gap`, plus one second so a visit
    of a single period still counts); the zone with the most such time wins, ties to the first name. Indexed
    by visit.
    """
    ordered = periods.sort_values(["visit", "period"], kind="stable")
    same_as_previous = ordered["visit"].eq(ordered["visit"].shift()).to_numpy()
    seconds = ordered["period"].to_numpy(dtype="datetime64[ns]").view("int64") / 1e9
    gap = np.minimum(np.diff(seconds, prepend=seconds[:1]), pd.Timedelta(max_gap).total_seconds())
    gap_before = np.where(same_as_previous, gap, 0.0)
    gap_after = np.append(gap_before[1:], 0.0)
    weight = (gap_before + gap_after) / 2 + 1.0
    time_in_zone = ordered.assign(seconds=weight).groupby(["visit", "zone"], sort=True)["seconds"].sum().reset_index()
    time_in_zone = time_in_zone.sort_values(["visit", "seconds", "zone"], ascending=[True, False, True], kind="stable")
    most = time_in_zone.drop_duplicates("visit").set_index("visit")["zone"]
    latest = ordered.groupby("visit", sort=True)["zone"].last()
    return pd.DataFrame({"zone": most, "last_zone": latest})


# How hard a visit's position leans towards the APs that hear it loudest: each AP's weight is its summed received
# power (mW) to this power. Power falls with distance as d**-n (n about 3 on a shop floor, simulator/radio.py), so
# the weights fall as d**-(0.6 n), about inverse distance to the 1.8. Linear power (1.0) put a third of the
# simulated visits within 0.5 m of an AP (the truth: 1.5 %); 0.6 puts 7 % there, with the same median error and a
# 90th percentile 1.2 m smaller (docs/analytics.md, Position; tests/analytics/test_positions.py).
POSITION_POWER_EXPONENT = 0.6


def visit_positions(
    labelled: pd.DataFrame,
    access_points: Mapping[str, NamedAccessPoint] | None,
    power_exponent: float = POSITION_POWER_EXPONENT,
) -> pd.DataFrame:
    """Per visit, x and y: the centroid of the positioned APs that heard it, weighted by softened received power.

    Each AP's weight is its received power in mW summed over the visit's observations, raised to `power_exponent`
    (1.0 would be the plain power-weighted centroid, which stacks visits under the nearest AP): a visit heard about
    equally by two APs lands between them, one heard mostly by one AP near it but not on it. This is
    `power_positions` of those sums, which is what a stored visit keeps. Visits heard only by APs without a
    configured position get NaN. Indexed by visit.
    """
    power = (
        pd.DataFrame(
            {
                "visit": labelled["visit"].to_numpy(),
                "ap_mac": labelled["ap_mac"].to_numpy(dtype=object),
                "power": np.power(10.0, labelled["rssi_avg"].to_numpy(dtype="float64") / 10.0),
            }
        )
        .groupby(["visit", "ap_mac"], sort=True)["power"]
        .sum()
        .reset_index()
    )
    return power_positions(power, access_points, power_exponent)


def power_positions(
    power: pd.DataFrame,
    access_points: Mapping[str, NamedAccessPoint] | None,
    power_exponent: float = POSITION_POWER_EXPONENT,
) -> pd.DataFrame:
    """`visit_positions` from each visit's received power per AP (columns visit, ap_mac, power in mW summed over
    its observations, one row per visit and AP), which is what a stored visit keeps. Indexed by visit."""
    positioned = {mac: ap for mac, ap in (access_points or {}).items() if ap.x is not None and ap.y is not None}
    visits = pd.Index(np.unique(power["visit"].to_numpy()), name="visit")
    if not positioned:
        return pd.DataFrame({"x": np.nan, "y": np.nan}, index=visits)
    # Positions are looked up once per distinct AP, not once per row.
    codes, macs = pd.factorize(power["ap_mac"])
    ap_x = np.array([positioned[m].x if m in positioned else np.nan for m in macs], dtype="float64")[codes]
    ap_y = np.array([positioned[m].y if m in positioned else np.nan for m in macs], dtype="float64")[codes]
    weight = np.power(power["power"].to_numpy(dtype="float64"), power_exponent)
    weight = np.where(np.isnan(ap_x), 0.0, weight)
    sums = (
        pd.DataFrame(
            {
                "visit": power["visit"].to_numpy(),
                "w": weight,
                "wx": weight * np.nan_to_num(ap_x),
                "wy": weight * np.nan_to_num(ap_y),
            }
        )
        .groupby("visit", sort=True)[["w", "wx", "wy"]]
        .sum()
    )
    total = sums["w"].where(sums["w"] > 0)
    return pd.DataFrame({"x": sums["wx"] / total, "y": sums["wy"] / total})


def zone_moves(periods: pd.DataFrame) -> pd.DataFrame:
    """Per visit, how often it moved from one zone to another between consecutive fingerprint periods: columns
    visit, from, to, moves (only pairs that happened). Summed over visits this is `zone_transitions`."""
    ordered = periods.sort_values(["visit", "period"], kind="stable")
    previous_zone = ordered["zone"].shift()
    same_visit = ordered["visit"].eq(ordered["visit"].shift())
    changed = same_visit & ordered["zone"].ne(previous_zone)
    moves = pd.DataFrame(
        {"visit": ordered.loc[changed, "visit"], "from": previous_zone.loc[changed], "to": ordered.loc[changed, "zone"]}
    )
    counted = moves.groupby(["visit", "from", "to"], sort=True).size().rename("moves").reset_index()
    return counted.astype({"visit": "int64", "from": "str", "to": "str", "moves": "int64"})


def zone_stats(visitor_visits: pd.DataFrame) -> pd.DataFrame:
    """Per zone: distinct visitors, visits and median dwell minutes of the given (visitor) visits."""
    grouped = visitor_visits.groupby("zone", sort=True)
    stats = pd.DataFrame(
        {
            "visitors": visitor_visits.drop_duplicates(["zone", *PARTY]).groupby("zone", sort=True).size(),
            "visits": grouped.size(),
            "median_dwell_minutes": grouped["dwell_minutes"].median(),
        }
    ).astype({"visitors": "int64", "visits": "int64", "median_dwell_minutes": "float64"})
    stats.index.name = "zone"
    return stats.reset_index()


def zone_transitions(periods: pd.DataFrame, zones: Sequence[str] | None = None) -> pd.DataFrame:
    """How often visits moved from one zone (rows) to another (columns) between consecutive fingerprint periods.

    Pass the periods of the visits to count (e.g. visitors' qualifying visits). Staying put is not a move, so the
    diagonal is 0. See `moves_matrix` for the same from stored per-visit moves.
    """
    ordered = periods.sort_values(["visit", "period"], kind="stable")
    previous_zone = ordered["zone"].shift()
    same_visit = ordered["visit"].eq(ordered["visit"].shift())
    moves = ordered.loc[same_visit & ordered["zone"].ne(previous_zone)]
    names = sorted(set(periods["zone"])) if zones is None else list(zones)
    matrix = pd.crosstab(previous_zone.loc[moves.index], moves["zone"])
    matrix = matrix.reindex(index=names, columns=names, fill_value=0).astype("int64")
    matrix.index.name, matrix.columns.name = "from", "to"
    return matrix


def moves_matrix(moves: pd.DataFrame, zones: Sequence[str]) -> pd.DataFrame:
    """`zone_transitions` from per-visit moves (`zone_moves` output of the visits to count)."""
    names = list(zones)
    matrix = moves.pivot_table(index="from", columns="to", values="moves", aggfunc="sum", fill_value=0)
    matrix = matrix.reindex(index=names, columns=names, fill_value=0).astype("int64")
    matrix.index.name, matrix.columns.name = "from", "to"
    return matrix
