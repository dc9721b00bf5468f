"""Zones: where in a site each visit spent its time, from per-AP RSSI fingerprints.

A fingerprint is one device's signal at every AP of the site during one `fingerprint_period` (the mean rssi_avg
each AP reported; an AP that did not hear it counts as `rssi_floor_dbm`). Zones are worked out not from that
absolute vector but from `zone_features`: each fingerprint smoothed over the neighbouring minutes of the same visit
(fading), then taken relative to its own strongest AP and clipped at `RELATIVE_FLOOR_DB`. A phone's transmit offset
adds the same dB at every AP, so it cancels; k-means on absolute RSSI (until issue 15) grouped phones by how loud
they were. Each AP is a zone, named after it (its configured name if any), and a fingerprint is in the zone of the
AP that hears it loudest above that AP's usual level (`StrongestAP`), the levels fitted as weighted medians with
each visit weighing at most `FIT_PERIODS_PER_KEY` periods, so a few long or loud visits cannot move them. An AP
that hears everyone loudly then claims only its own place. A visit's zone is where it spent most of its time.
`strongest_ap_zones` is the simplest rule, "the AP with the strongest mean signal over the visit": the baseline
the accuracy tests hold the fitted rule to. With a single AP there is one zone, named after that AP: one AP cannot
tell places apart.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import numpy as np
import pandas as pd

from analytics.classify import PARTY
from analytics.settings import AnalyticsSettings
from analytics.visits import label_visits


class NamedAccessPoint(Protocol):
    """What zones need to know about an AP (config.settings.AccessPoint has it; read-only, so frozen dataclasses
    qualify)."""

    @property
    def name(self) -> str: ...

    @property
    def x(self) -> float | None: ...

    @property
    def y(self) -> float | None: ...


# The fingerprint zones are worked out from (`zone_features`). Stored zone models keep their fitted values in this
# space, tagged with this number (store.visits.zone_models): bump it whenever `zone_features` or the rule changes,
# so stored models are fitted again instead of being read in another space. 1 (no tag): k-means centres in absolute
# RSSI (until issue 15); 2: AP levels in smoothed fingerprints relative to their strongest AP.
FINGERPRINT_VERSION = 2
# An AP heard this much weaker than the fingerprint's strongest AP, or not at all, counts as this far below: beyond
# about 30 dB (ten times as far, at a path-loss exponent of 3) an AP says only "far", and how far it says depends on the
# phone's transmit power, which the relative fingerprint is meant to cancel.
RELATIVE_FLOOR_DB = -30.0
# Time smoothing within a visit: each period's fingerprint is the Gaussian-weighted mean of the periods of the same
# visit (or device) within SMOOTHING_REACH, with this standard deviation. Fading moves single frames by several dB;
# people stand in one place for minutes. 1 min leans on the neighbouring probe bursts without blurring a move
# (2 min lost 0.01-0.03 of ARI on the simulated floors, no smoothing 0.01-0.02 on the harsh ones).
SMOOTHING_SIGMA = timedelta(minutes=1)
SMOOTHING_REACH = timedelta(minutes=3)
# The fit weighs each visit (each device in a report window) as at most this many periods: a member of staff or a
# phone left on all day would otherwise pull the centres towards where it happens to lie.
FIT_PERIODS_PER_KEY = 30


def zone_features(wide: pd.DataFrame, aps: Sequence[str], floor_dbm: float) -> np.ndarray:
    """The fingerprints `zones` clusters, one row per row of `wide` (a `fingerprints` frame, indexed by key and
    period, columns AP MACs), one column per AP of `aps`, in dB relative to the row's strongest AP (0 there).

    Unheard APs count as `floor_dbm`; each row is first smoothed with the rows of the same key (first index level)
    within `SMOOTHING_REACH`, weighted by a Gaussian of `SMOOTHING_SIGMA` in time; the result is relative to the
    row's maximum and clipped at `RELATIVE_FLOOR_DB`.
    """
    matrix = wide.reindex(columns=list(aps)).fillna(floor_dbm).to_numpy(dtype="float64")
    if len(matrix) == 0:
        return matrix.reshape(0, len(aps))
    keys = pd.factorize(wide.index.get_level_values(0))[0]
    times = wide.index.get_level_values(-1)
    seconds = pd.DatetimeIndex(times).as_unit("ns").asi8 / 1e9 if times.dtype.kind == "M" else np.asarray(times) / 1e9
    return relative_features(matrix, keys, seconds)


def relative_features(matrix: np.ndarray, keys: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """`zone_features` of a filled matrix (one row per fingerprint, one column per AP, unheard already the floor),
    each row's key (equal within a visit) and time in seconds."""
    order = np.lexsort((seconds, keys))
    values, key, when = matrix[order], keys[order], seconds[order]
    sigma = SMOOTHING_SIGMA.total_seconds()
    reach = SMOOTHING_REACH.total_seconds()
    total = values.copy()
    weights = np.ones(len(values))
    # One pass per neighbour offset (a visit has at most one row per period, so reach / period offsets do), each
    # vectorized over every row: no loop over rows.
    for shift in range(1, int(reach // 60) + 1):
        same = (key[shift:] == key[:-shift]) & (when[shift:] - when[:-shift] <= reach)
        if not same.any():
            break
        w = np.where(same, np.exp(-0.5 * ((when[shift:] - when[:-shift]) / sigma) ** 2), 0.0)
        total[shift:] += w[:, None] * values[:-shift]
        weights[shift:] += w
        total[:-shift] += w[:, None] * values[shift:]
        weights[:-shift] += w
    smoothed = np.empty_like(total)
    smoothed[order] = total / weights[:, None]
    return np.maximum(smoothed - smoothed.max(axis=1, keepdims=True), RELATIVE_FLOOR_DB)


@dataclass(frozen=True)
class StrongestAP:
    """The fitted zone rule: each row goes to the AP (column) that hears it loudest above that AP's usual level.

    `levels` is each AP's weighted median in the fitted `zone_features` rows (`ap_levels`). An AP hung low by the
    door, or one that hears the whole floor, reads high everywhere; measured against its own usual level it claims
    only the places it hears better than usual. Zeros make the plain strongest-AP rule.
    """

    levels: np.ndarray

    def predict(self, matrix: np.ndarray) -> np.ndarray:
        if len(matrix) == 0:
            return np.zeros(0, dtype="int64")
        return np.argmax(matrix - self.levels[None, :], axis=1)


@dataclass(frozen=True)
class NearestCenters:
    """A fitted k-means reduced to what prediction needs: each row goes to its nearest centre (Euclidean).

    This was the persisted zone model until issue 15 (`StrongestAP` is now); a `SiteZones` still takes it as its
    rule, naming each centre after its strongest AP. It predicts as `KMeans.predict` does without importing
    scikit-learn, which costs a second at start-up.
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
    """The zone model of one site: its APs (fingerprint column order), the fitted rule, each cluster's zone."""

    site: str
    aps: tuple[str, ...]
    cluster_zones: tuple[str, ...]
    rule: Any = None  # StrongestAP (anything with predict(zone_features rows)); None when the site has one zone

    def predict(self, fingerprints: pd.DataFrame, floor_dbm: float) -> np.ndarray:
        """Zone name of each fingerprint row (a `fingerprints` frame indexed by key and period; columns are AP MACs,
        APs this model does not know are ignored)."""
        if self.rule is None:
            return np.full(len(fingerprints), self.cluster_zones[0], dtype=object)
        matrix = zone_features(fingerprints, self.aps, floor_dbm)
        return np.asarray(self.cluster_zones, dtype=object)[self.rule.predict(matrix)]


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
    """Fit a zone model per site on the visit fingerprints of `observations` (all of them, before filters).

    The fit learns each AP's usual level in the relative fingerprints (`StrongestAP`): its median over the
    fingerprints, each visit weighing at most `FIT_PERIODS_PER_KEY` periods. The observations are labelled into
    visits here, so the weights are those of the stored model's fit (store.visits.zone_models), which fits on
    stored visits' cells. At most `zone_fit_sample` fingerprints per site are used for fitting.
    """
    sites: dict[str, SiteZones] = {}
    for site, site_observations in observations.groupby("site", sort=True):
        aps = tuple(sorted(site_observations["ap_mac"].unique()))
        wide = None
        if len(aps) > 1:
            wide = fingerprints(label_visits(site_observations, settings.visit_gap), ["visit"], settings)
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
    the same model. k-means (until issue 15) clustered absolute RSSI: on a harsh floor it grouped phones by how
    loud they were and landed below the plain strongest-AP rule (docs/analytics.md, Zones).
    """
    aps = tuple(sorted(aps))
    if len(aps) == 1 or wide is None or wide.empty:
        return SiteZones(site, aps[:1], (zone_name(aps[0], access_points),))
    matrix = zone_features(wide, aps, settings.rssi_floor_dbm)
    keys = pd.factorize(wide.index.get_level_values(0))[0]
    return _fitted_levels(site, aps, matrix, keys, access_points, settings)


def fit_cell_zones(
    cells: pd.DataFrame,
    site_aps: Mapping[str, Sequence[str]],
    access_points: Mapping[str, NamedAccessPoint] | None,
    settings: AnalyticsSettings,
) -> dict[str, tuple[SiteZones, int]]:
    """`fit_site_zones` of every site in `cells` (columns site, visit, period, ap_mac, rssi_sum, count), each on
    its own `cell_fingerprints` and APs (`site_aps`), with the number of fingerprints it was fitted on.

    The same models as site by site, to the bit, worked out on the cells sorted once (`_SortedCells`)."""
    return fit_feature_zones(cell_features(cells, site_aps, settings), site_aps, access_points, settings)


def cell_features(
    cells: pd.DataFrame, site_aps: Mapping[str, Sequence[str]], settings: AnalyticsSettings
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per site in `cells`: the `zone_features` rows a fit of its APs (`site_aps`) takes, one per visit and
    period in visit and time order, and each row's visit (a site of one AP needs no features: no columns).

    Every row depends on its own visit's cells alone, so cells read in chunks that each hold whole visits, in
    ascending visit order, give these rows chunk by chunk: concatenated, they are those of all the cells at once.
    A refresh's fit keeps the rows rather than the cells (store.visits.zone_models): a busy shop's first catch-up
    then peaked at 1,078 MiB rather than 3,082 MiB (benchmarks/report)."""
    ordered = _SortedCells.of(cells)
    features: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if ordered is None:
        return features
    for code, site, rows in ordered.sites():
        aps = tuple(sorted(site_aps[site]))
        visits = ordered.row_visit[rows]
        if len(aps) == 1:
            features[site] = (np.empty((len(visits), 0)), visits)
            continue
        matrix = ordered.matrix(code, aps, settings.rssi_floor_dbm)
        features[site] = (relative_features(matrix, visits, ordered.row_period[rows] / 1e9), visits)
    return features


def fit_feature_zones(
    features: Mapping[str, tuple[np.ndarray, np.ndarray]],
    site_aps: Mapping[str, Sequence[str]],
    access_points: Mapping[str, NamedAccessPoint] | None,
    settings: AnalyticsSettings,
) -> dict[str, tuple[SiteZones, int]]:
    """The zones of every site fitted on its `cell_features` rows, with the number of rows (fingerprints)."""
    fitted: dict[str, tuple[SiteZones, int]] = {}
    for site, (matrix, visits) in features.items():
        aps = tuple(sorted(site_aps[site]))
        if len(aps) == 1:
            fitted[site] = (SiteZones(site, aps, (zone_name(aps[0], access_points),)), len(visits))
            continue
        keys = pd.factorize(visits)[0]
        fitted[site] = (_fitted_levels(site, aps, matrix, keys, access_points, settings), len(matrix))
    return fitted


def _fitted_levels(
    site: str,
    aps: tuple[str, ...],
    matrix: np.ndarray,
    keys: np.ndarray,
    access_points: Mapping[str, NamedAccessPoint] | None,
    settings: AnalyticsSettings,
) -> SiteZones:
    """The fitted rule of a site from its `zone_features` rows in visit and time order (`keys`: each row's visit
    as a code from 0)."""
    rng = np.random.default_rng(settings.random_state)
    if len(matrix) > settings.zone_fit_sample:
        chosen = np.sort(rng.choice(len(matrix), settings.zone_fit_sample, replace=False))
        matrix, keys = matrix[chosen], keys[chosen]
    weight = np.minimum(1.0, FIT_PERIODS_PER_KEY / np.bincount(keys)[keys])
    return SiteZones(
        site, aps, tuple(zone_name(ap, access_points) for ap in aps), StrongestAP(ap_levels(matrix, weight))
    )


def ap_levels(matrix: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Each AP's usual level in `zone_features` rows: its weighted median over the rows (`weight` per row)."""
    levels = np.empty(matrix.shape[1])
    for column in range(matrix.shape[1]):  # one vectorized median per AP, not a loop over rows
        order = np.argsort(matrix[:, column], kind="stable")
        cumulative = np.cumsum(weight[order])
        levels[column] = matrix[order[np.searchsorted(cumulative, cumulative[-1] / 2)], column]
    return levels


def strongest_ap_model(
    site: str, aps: Sequence[str], access_points: Mapping[str, NamedAccessPoint] | None
) -> SiteZones:
    """The uncalibrated strongest-AP rule as a site's zone model: each fingerprint is in the zone of the AP that
    hears it loudest (after `zone_features`' smoothing)."""
    aps = tuple(aps)
    return SiteZones(site, aps, tuple(zone_name(ap, access_points) for ap in aps), StrongestAP(np.zeros(len(aps))))


def cluster_aps(site_zones: SiteZones) -> tuple[str, ...]:
    """The AP each cluster is named after: the name-free form of `cluster_zones`. With the fitted rule (or the
    plain strongest-AP rule) cluster i is AP i; a stored k-means model is named after the strongest AP of each
    centre."""
    if site_zones.rule is None:
        return site_zones.aps[:1]
    if isinstance(site_zones.rule, StrongestAP):
        return site_zones.aps
    centers = np.asarray(site_zones.rule.cluster_centers_, dtype="float64")
    return tuple(site_zones.aps[int(np.argmax(center))] for center in centers)


def site_zones_from_levels(
    site: str,
    aps: Sequence[str],
    levels: np.ndarray | None,
    access_points: Mapping[str, NamedAccessPoint] | None,
) -> SiteZones:
    """A site's zone model rebuilt from its stored AP levels (`StrongestAP.levels`; None or one AP: a single
    zone), named with the current AP names."""
    aps = tuple(aps)
    if levels is None or len(aps) == 1:
        return SiteZones(site, aps[:1], (zone_name(aps[0], access_points),))
    model = StrongestAP(np.asarray(levels, dtype="float64").reshape(len(aps)))
    return SiteZones(site, aps, tuple(zone_name(ap, access_points) for ap in aps), model)


def period_zones(labelled: pd.DataFrame, model: ZoneModel, settings: AnalyticsSettings) -> pd.DataFrame:
    """The zone of every visit's fingerprint periods: columns visit, period (UTC), zone, in time order.

    `labelled` is `visits.label_visits` output. A site the model has not seen gets its strongest AP per period.
    Each observation is a cell of its own (its rssi_avg once, in the period of its midpoint, as `fingerprints`
    takes it), so the zones are `cell_period_zones`' to the bit.
    """
    first = labelled["first_seen"].to_numpy(dtype="datetime64[ns]").view("int64")
    last = labelled["last_seen"].to_numpy(dtype="datetime64[ns]").view("int64")
    period_ns = pd.Timedelta(settings.fingerprint_period).value
    cells = pd.DataFrame(
        {
            "site": labelled["site"].to_numpy(),
            "visit": labelled["visit"].to_numpy(),
            "period": ((first + (last - first) // 2) // period_ns) * period_ns,
            "ap_mac": labelled["ap_mac"].to_numpy(),
            "rssi_sum": labelled["rssi_avg"].to_numpy(dtype="float64"),
            "count": np.ones(len(labelled)),
        }
    )
    return cell_period_zones(cells, model, settings)


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
    """`period_zones` from cells (columns site, visit, period, ap_mac, rssi_sum, count; period in ns since the
    epoch or a UTC time): columns visit, period (UTC), zone, in visit and time order.

    Each site's fingerprints are its `cell_fingerprints` and its zones `SiteZones.predict` of them (a site the
    model has not seen: the strongest of its own APs), but worked out on numpy arrays sorted once by site, visit
    and period: at 100 sites, a groupby and a frame per site had been a third of a minute's refresh. Cells
    without a site are left out, as a groupby leaves them.
    """
    ordered = _SortedCells.of(cells)
    if ordered is None:
        return pd.DataFrame(
            {
                "visit": pd.Series(dtype="int64"),
                "period": pd.Series(dtype="datetime64[ns, UTC]"),
                "zone": pd.Series(dtype="str"),
            }
        )
    zones = np.empty(len(ordered.row_visit), dtype=object)
    for code, site, rows in ordered.sites():
        site_model = model.sites.get(site)
        if site_model is not None and site_model.rule is None:
            zones[rows] = site_model.cluster_zones[0]
            continue
        aps = site_model.aps if site_model is not None else ordered.heard_aps(code)
        matrix = ordered.matrix(code, aps, settings.rssi_floor_dbm)
        if site_model is None:
            zones[rows] = np.asarray(aps, dtype=object)[np.argmax(matrix, axis=1)]
        else:
            features = relative_features(matrix, ordered.row_visit[rows], ordered.row_period[rows] / 1e9)
            zones[rows] = np.asarray(site_model.cluster_zones, dtype=object)[site_model.rule.predict(features)]
    periods = pd.DataFrame(
        {"visit": ordered.row_visit, "period": pd.to_datetime(ordered.row_period, utc=True), "zone": zones}
    )
    return periods.astype({"zone": "str"}).sort_values(["visit", "period"], ignore_index=True)


@dataclass(frozen=True)
class _SortedCells:
    """Cells (columns site, visit, period, ap_mac, rssi_sum, count) sorted once by site, visit and period, so
    each site's fingerprints are a slice: a row per visit and period, as `cell_fingerprints` makes them."""

    site_names: np.ndarray
    ap_names: np.ndarray
    ap_index: dict[str, int]  # an AP's code in ap_names
    ap: np.ndarray  # per cell: its AP's code in ap_names
    row: np.ndarray  # per cell: its fingerprint row
    rssi_sum: np.ndarray
    count: np.ndarray
    row_visit: np.ndarray  # per fingerprint row
    row_period: np.ndarray  # ns since the epoch
    cell_bounds: np.ndarray  # site code i's cells are cell_bounds[i]:cell_bounds[i + 1]
    row_bounds: np.ndarray  # ... and its rows row_bounds[i]:row_bounds[i + 1]

    @classmethod
    def of(cls, cells: pd.DataFrame) -> _SortedCells | None:
        """None when no cell has a site (a groupby by site leaves those out)."""
        site_codes, site_names = pd.factorize(cells["site"], sort=True)
        kept = site_codes >= 0
        if not kept.any():
            return None
        period = cells["period"]
        if period.dtype.kind == "M":
            period = pd.to_datetime(period, utc=True).dt.as_unit("ns").astype("int64")
        ap_codes, ap_names = pd.factorize(cells["ap_mac"], sort=True)
        visit, when = cells["visit"].to_numpy(dtype="int64"), period.to_numpy(dtype="int64")
        # Stable, so the cells of one fingerprint are summed in their given order, as cell_fingerprints sums them.
        order = np.lexsort((when, visit, site_codes))
        order = order[kept[order]]
        site, visit, when = site_codes[order], visit[order], when[order]
        starts = np.r_[True, (site[1:] != site[:-1]) | (visit[1:] != visit[:-1]) | (when[1:] != when[:-1])]
        codes = np.arange(len(site_names) + 1)
        return cls(
            site_names=np.asarray(site_names, dtype=object),
            ap_names=np.asarray(ap_names, dtype=object),
            ap_index={str(name): code for code, name in enumerate(ap_names)},
            ap=ap_codes[order],
            row=np.cumsum(starts) - 1,
            rssi_sum=cells["rssi_sum"].to_numpy(dtype="float64")[order],
            count=cells["count"].to_numpy(dtype="float64")[order],
            row_visit=visit[starts],
            row_period=when[starts],
            cell_bounds=np.searchsorted(site, codes),
            row_bounds=np.searchsorted(site[starts], codes),
        )

    def sites(self) -> Iterator[tuple[int, str, slice]]:
        """(code, name, its rows) of every site, in name order."""
        for code, name in enumerate(self.site_names):
            yield code, str(name), slice(int(self.row_bounds[code]), int(self.row_bounds[code + 1]))

    def heard_aps(self, code: int) -> tuple[str, ...]:
        """The APs that heard site `code`'s cells, in MAC order (`cell_fingerprints`' columns)."""
        cells = slice(int(self.cell_bounds[code]), int(self.cell_bounds[code + 1]))
        return tuple(str(name) for name in self.ap_names[np.unique(self.ap[cells])])

    def matrix(self, code: int, aps: Sequence[str], floor_dbm: float) -> np.ndarray:
        """Site `code`'s fingerprints over `aps`: the mean RSSI of each row and AP, `floor_dbm` where none heard."""
        cells = slice(int(self.cell_bounds[code]), int(self.cell_bounds[code + 1]))
        first, rows = int(self.row_bounds[code]), int(self.row_bounds[code + 1] - self.row_bounds[code])
        column_of = np.full(len(self.ap_names), -1)
        for column, mac in enumerate(aps):
            if mac in self.ap_index:
                column_of[self.ap_index[mac]] = column
        return _cell_means(
            self.row[cells] - first,
            column_of[self.ap[cells]],
            self.rssi_sum[cells],
            self.count[cells],
            (rows, len(aps)),
            floor_dbm,
        )


def _cell_means(
    rows: np.ndarray,
    columns: np.ndarray,
    sums: np.ndarray,
    counts: np.ndarray,
    shape: tuple[int, int],
    floor_dbm: float,
) -> np.ndarray:
    """The mean RSSI of each (row, column) from its cells' sums and counts, `floor_dbm` where none heard it
    (columns -1: an AP outside the matrix)."""
    inside = columns >= 0
    flat = rows[inside] * shape[1] + columns[inside]
    size = shape[0] * shape[1]
    total = np.bincount(flat, weights=sums[inside], minlength=size)
    heard = np.bincount(flat, weights=counts[inside], minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(heard > 0, total / np.maximum(heard, 1), floor_dbm)
    return means.reshape(shape)


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


def strongest_ap_zones(
    labelled: pd.DataFrame,
    access_points: Mapping[str, NamedAccessPoint] | None,
    settings: AnalyticsSettings,
) -> pd.Series:
    """Per visit, the simplest zone rule: the zone of the AP with the strongest mean signal over the visit. Indexed
    by visit. `labelled` is `visits.label_visits` output (visit, ap_mac, rssi_avg, first_seen, last_seen).

    The mean is over the visit's fingerprint periods, an AP that did not hear a period counting as `rssi_floor_dbm`
    (over the observations heard alone it did a little worse on every simulated floor: an AP heard only now and
    then is heard at its loudest). This is the baseline every zone test compares the fitted rule with: it needs no
    model, and a per-phone offset moves every AP's mean alike, but an AP that hears louder than the others, or a
    few dB of shadowing, take its neighbours' visitors, and a visit's walk past the entrance weighs in.
    """
    wide = fingerprints(labelled, ["visit"], settings).fillna(settings.rssi_floor_dbm)
    means = wide.groupby(level="visit", sort=True).mean()
    strongest = pd.Series(means.columns.to_numpy(dtype=object)[np.argmax(means.to_numpy(), axis=1)], index=means.index)
    return strongest.map(lambda mac: zone_name(mac, access_points)).rename("zone")


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
