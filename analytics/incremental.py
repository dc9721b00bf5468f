"""Incremental visits: new observations merged into the stored visits they touch, as pure DataFrame functions.

A stored visit keeps, besides its summary row, what merging and zones need (store.visits stores it):
- `cells`: per fingerprint period and AP, the sum and count of rssi_avg (the fingerprint means of `zones`);
- `power`: per AP, the received power in mW summed over its observations (the weights of `zones.visit_positions`);
- for ssid and manufacturer, the sort key (first_seen, last_seen, observation id) of the observation that gave
  it, because `visits.visits` takes the first non-empty value in that order;
- `ssids` (on the summary row): every SSID of the visit, a set, so merging takes the union; `ap_macs` is the APs of
  its power, which already has every AP that heard it;
- `heard`: the union of its observations' [first_seen, last_seen] (analytics.stays.heard_intervals), from which
  its estimated stay (`dwell_seconds`) is worked out again after every merge: the union of a visit's heard
  intervals and new observations is the union of all their observations.

Why merging is exact: `visits.label_visits` makes the connected components of the intervals
[first_seen, last_seen + visit_gap] of a device's observations. A stored visit covers [first_seen, last_seen]
without a hole longer than the gap, so it can stand in for its observations as one interval: labelling stored
visits and new observations together gives the visits that labelling every observation would. A new
observation can only join stored visits within `visit_gap` of it (which is all the caller has to fetch), and a
late one that falls between two visits joins both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics import zones
from analytics.classify import PARTY
from analytics.schema import TIME_DTYPE
from analytics.settings import AnalyticsSettings
from analytics.stays import estimate_extension, heard_intervals
from analytics.visits import joined_values, label_visits, split_values, with_extension

# The columns of a stored visit that merging reads and writes (store.visits keeps them).
RANK_COLUMNS = {
    "ssid": ("ssid_first_ns", "ssid_last_ns", "ssid_observation"),
    "manufacturer": ("manufacturer_first_ns", "manufacturer_last_ns", "manufacturer_observation"),
}
MERGED_COLUMNS = (
    "key",
    "id",
    "site",
    "device",
    "first_seen",
    "last_seen",
    "max_rssi",
    "associated",
    "randomized",
    "observations",
    "ssid",
    *RANK_COLUMNS["ssid"],
    "manufacturer",
    *RANK_COLUMNS["manufacturer"],
    "ssids",
    "ap_macs",
    "dwell_seconds",
)


@dataclass(frozen=True)
class Merged:
    """The visits a batch of observations created or changed.

    visits: one row per new or changed visit, MERGED_COLUMNS; `key` numbers them 0..n-1 and `id` is the stored
    visit it continues (the smallest id among those it absorbed), or -1 for a new visit. replaced: the ids of
    every stored visit absorbed, the continued ones included. cells, power and heard: those of each visit, by `key`
    (columns visit, period, ap_mac, rssi_sum, count; visit, ap_mac, power; visit, start, end).
    """

    visits: pd.DataFrame
    replaced: np.ndarray
    cells: pd.DataFrame
    power: pd.DataFrame
    heard: pd.DataFrame


def observation_cells(
    observations: pd.DataFrame, keys: pd.Series | np.ndarray, settings: AnalyticsSettings
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cells and power of observations (columns first_seen, last_seen, ap_mac, rssi_avg), labelled by `keys`.

    The period of an observation is its midpoint floored to `fingerprint_period`, as in `zones.fingerprints`.
    """
    first = observations["first_seen"].to_numpy(dtype="datetime64[ns]").view("int64")
    last = observations["last_seen"].to_numpy(dtype="datetime64[ns]").view("int64")
    period_ns = pd.Timedelta(settings.fingerprint_period).value
    midpoint = first + (last - first) // 2
    rssi = observations["rssi_avg"].to_numpy(dtype="float64")
    cells = pd.DataFrame(
        {
            "visit": np.asarray(keys, dtype="int64"),
            "period": (midpoint // period_ns) * period_ns,
            "ap_mac": observations["ap_mac"].to_numpy(dtype=object),
            "rssi_sum": rssi,
            "count": np.ones(len(observations), dtype="int64"),
        }
    )
    power = pd.DataFrame(
        {"visit": cells["visit"], "ap_mac": cells["ap_mac"], "power": np.power(10.0, rssi / 10.0)},
    )
    return cells, power


def sum_cells(cells: pd.DataFrame) -> pd.DataFrame:
    """Cells added up per (visit, period, AP), sorted."""
    if cells.empty:
        return empty_cells()
    summed = cells.groupby(["visit", "period", "ap_mac"], sort=True)[["rssi_sum", "count"]].sum().reset_index()
    return summed.astype({"visit": "int64", "period": "int64", "count": "int64", "rssi_sum": "float64"})


def sum_power(power: pd.DataFrame) -> pd.DataFrame:
    """Power added up per (visit, AP), sorted."""
    if power.empty:
        return empty_power()
    return power.groupby(["visit", "ap_mac"], sort=True)["power"].sum().reset_index().astype({"visit": "int64"})


def empty_cells() -> pd.DataFrame:
    """No cells, with the dtypes `observation_cells` gives."""
    return pd.DataFrame(
        {
            "visit": pd.Series(dtype="int64"),
            "period": pd.Series(dtype="int64"),
            "ap_mac": pd.Series(dtype=object),
            "rssi_sum": pd.Series(dtype="float64"),
            "count": pd.Series(dtype="int64"),
        }
    )


def empty_power() -> pd.DataFrame:
    """No power sums, with the dtypes `observation_cells` gives."""
    return pd.DataFrame(
        {"visit": pd.Series(dtype="int64"), "ap_mac": pd.Series(dtype=object), "power": pd.Series(dtype="float64")}
    )


def merge(
    batch: pd.DataFrame,
    stored: pd.DataFrame,
    stored_cells: pd.DataFrame,
    stored_power: pd.DataFrame,
    settings: AnalyticsSettings,
    stored_heard: pd.DataFrame | None = None,
) -> Merged:
    """Merge new observations (`batch`, with an `id` column) into stored visits (`stored`, MERGED_COLUMNS
    without `key` and `dwell_seconds`; its cells, power and heard intervals keyed by stored id in `visit`; without
    heard intervals a stored visit counts as heard throughout its [first_seen, last_seen]).

    `stored` must hold every stored visit of the batch's devices that comes within `visit_gap` of one of the
    batch's observations; others may be there too and are left alone. Vectorized: one labelling of stored
    visits and observations together, then group-bys.
    """
    first_ns = batch["first_seen"].to_numpy(dtype="datetime64[ns]").view("int64")
    last_ns = batch["last_seen"].to_numpy(dtype="datetime64[ns]").view("int64")
    observation_id = batch["id"].to_numpy(dtype="int64")
    new_rows = pd.DataFrame(
        {
            "site": batch["site"].to_numpy(dtype=object),
            "device": batch["device"].to_numpy(dtype=object),
            "first_seen": batch["first_seen"].reset_index(drop=True),
            "last_seen": batch["last_seen"].reset_index(drop=True),
            "max_rssi": batch["rssi_max"].to_numpy(dtype="float64"),
            "associated": batch["associated"].to_numpy(dtype=bool),
            "randomized": batch["randomized"].to_numpy(dtype=bool),
            "observations": np.ones(len(batch), dtype="int64"),
            "stored_id": np.full(len(batch), -1, dtype="int64"),
            "row": np.arange(len(batch), dtype="int64"),
        }
    )
    for column, (first_key, last_key, id_key) in RANK_COLUMNS.items():
        values = batch[column].astype(object)
        present = values.notna().to_numpy()
        new_rows[column] = values.to_numpy()
        new_rows[first_key] = np.where(present, first_ns, -1)
        new_rows[last_key] = np.where(present, last_ns, -1)
        new_rows[id_key] = np.where(present, observation_id, -1)
    old_rows = pd.DataFrame(
        {
            "site": stored["site"].to_numpy(dtype=object),
            "device": stored["device"].to_numpy(dtype=object),
            "first_seen": stored["first_seen"].reset_index(drop=True),
            "last_seen": stored["last_seen"].reset_index(drop=True),
            "max_rssi": stored["max_rssi"].to_numpy(dtype="float64"),
            "associated": stored["associated"].to_numpy(dtype=bool),
            "randomized": stored["randomized"].to_numpy(dtype=bool),
            "observations": stored["observations"].to_numpy(dtype="int64"),
            "stored_id": stored["id"].to_numpy(dtype="int64"),
            "row": np.full(len(stored), -1, dtype="int64"),
        }
    )
    for column, rank in RANK_COLUMNS.items():
        old_rows[column] = stored[column].astype(object).to_numpy()
        for key in rank:
            old_rows[key] = stored[key].fillna(-1).to_numpy(dtype="int64")
    combined = pd.concat([frame for frame in (old_rows, new_rows) if len(frame)], ignore_index=True)
    combined["first_seen"] = combined["first_seen"].astype(TIME_DTYPE)
    combined["last_seen"] = combined["last_seen"].astype(TIME_DTYPE)
    labelled = label_visits(combined, settings.visit_gap)

    is_new = labelled["row"].to_numpy() >= 0
    changed_labels = np.unique(labelled["visit"].to_numpy()[is_new])
    # Renumber the changed components 0..n-1 (`key`); the untouched stored visits drop out.
    key_of_label = pd.Series(np.arange(len(changed_labels), dtype="int64"), index=changed_labels)
    touched = labelled.loc[labelled["visit"].isin(changed_labels)].copy()
    touched["key"] = key_of_label.reindex(touched["visit"].to_numpy()).to_numpy()

    grouped = touched.groupby("key", sort=True)
    result = grouped.agg(
        site=("site", "first"),
        device=("device", "first"),
        first_seen=("first_seen", "min"),
        last_seen=("last_seen", "max"),
        max_rssi=("max_rssi", "max"),
        associated=("associated", "max"),
        randomized=("randomized", "max"),
        observations=("observations", "sum"),
    )
    stored_members = touched.loc[touched["stored_id"] >= 0]
    smallest = stored_members.groupby("key")["stored_id"].min()  # the visit a merge continues
    result["id"] = smallest.reindex(result.index).fillna(-1).astype("int64")
    for column, rank in RANK_COLUMNS.items():
        candidates = touched.loc[touched[column].notna(), ["key", column, *rank]]
        chosen = candidates.sort_values(["key", *rank], kind="stable").drop_duplicates("key").set_index("key")
        result[column] = chosen[column].reindex(result.index)
        for key in rank:
            result[key] = chosen[key].reindex(result.index).astype("Int64")
    result = result.reset_index()
    result["associated"] = result["associated"].astype(bool)
    result["randomized"] = result["randomized"].astype(bool)

    # Cells and power: the stored visits' own, relabelled by key, plus the new observations'.
    key_of_stored = pd.Series(stored_members["key"].to_numpy(), index=stored_members["stored_id"].to_numpy())
    new_members = touched.loc[touched["row"] >= 0]
    observations_in_order = batch.iloc[new_members["row"].to_numpy()]
    new_cells, new_power = observation_cells(observations_in_order, new_members["key"].to_numpy(), settings)
    old_cells = stored_cells.loc[stored_cells["visit"].isin(key_of_stored.index)]
    old_cells = old_cells.assign(visit=key_of_stored.reindex(old_cells["visit"].to_numpy()).to_numpy())
    old_power = stored_power.loc[stored_power["visit"].isin(key_of_stored.index)]
    old_power = old_power.assign(visit=key_of_stored.reindex(old_power["visit"].to_numpy()).to_numpy())
    cells = sum_cells(pd.concat([c for c in (old_cells, new_cells) if len(c)], ignore_index=True))
    power = sum_power(pd.concat([p for p in (old_power, new_power) if len(p)], ignore_index=True))
    # SSIDs: the stored visits' sets and the new observations' SSIDs, united per merged visit.
    stored_ssids = split_values(stored.set_index("id")["ssids"]) if len(stored) else pd.Series(dtype=object)
    old_ssids = pd.DataFrame(
        {"key": key_of_stored.reindex(stored_ssids.index.to_numpy()).to_numpy(), "ssid": stored_ssids.to_numpy()}
    )
    old_ssids = old_ssids.loc[old_ssids["key"].notna()]
    new_ssids = pd.DataFrame(
        {"key": new_members["key"].to_numpy(), "ssid": observations_in_order["ssid"].astype(object).to_numpy()}
    )
    every_ssid = pd.concat([frame for frame in (old_ssids, new_ssids) if len(frame)], ignore_index=True)
    result["ssids"] = joined_values(every_ssid, "key", "ssid").reindex(result["key"].to_numpy()).to_numpy()
    result["ap_macs"] = joined_values(power, "visit", "ap_mac").reindex(result["key"].to_numpy()).to_numpy()
    # Heard intervals: the stored visits' own, relabelled by key, and the new observations', united again.
    if stored_heard is None:
        stored_heard = pd.DataFrame(
            {
                "visit": stored["id"].to_numpy(dtype="int64"),
                "start": stored["first_seen"].to_numpy(dtype="datetime64[ns]").view("int64"),
                "end": stored["last_seen"].to_numpy(dtype="datetime64[ns]").view("int64"),
            }
        )
    old_heard = stored_heard.loc[stored_heard["visit"].isin(key_of_stored.index)]
    heard = heard_intervals(
        np.concatenate([key_of_stored.reindex(old_heard["visit"].to_numpy()).to_numpy(), new_members["key"]]),
        np.concatenate([old_heard["start"].to_numpy(), first_ns[new_members["row"].to_numpy()]]),
        np.concatenate([old_heard["end"].to_numpy(), last_ns[new_members["row"].to_numpy()]]),
    )
    extension = estimate_extension(heard, result, settings)
    result["dwell_seconds"] = with_extension(result, extension).dt.total_seconds()
    return Merged(
        visits=result.loc[:, list(MERGED_COLUMNS)],
        replaced=np.unique(stored_members["stored_id"].to_numpy(dtype="int64")),
        cells=cells,
        power=power,
        heard=heard,
    )


def previous_starts(
    visits: pd.DataFrame, predecessors: pd.DataFrame, successors: pd.DataFrame
) -> tuple[pd.Series, pd.Series]:
    """Each visit's `previous_first_seen` (when the same device's previous visit at the site started).

    visits: every visit, after the merge, of the touched devices inside the span that was fetched (columns
    ref, site, device, first_seen); predecessors: per device, the first_seen of its latest visit before that
    span (site, device, first_seen); successors: per device, its first visit after the span (ref, site, device,
    first_seen). Returns the previous start of each visit and of each successor, indexed by `ref`.
    """
    chain = pd.concat(
        [
            predecessors.assign(ref=-1, kind=0),
            visits.loc[:, ["ref", *PARTY, "first_seen"]].assign(kind=1),
            successors.loc[:, ["ref", *PARTY, "first_seen"]].assign(kind=2),
        ],
        ignore_index=True,
    )
    chain = chain.sort_values([*PARTY, "first_seen"], kind="stable")
    previous = chain.groupby(PARTY, sort=False)["first_seen"].shift()
    chain = chain.assign(previous=previous)
    own = chain.loc[chain["kind"] == 1].set_index("ref")["previous"]
    after = chain.loc[chain["kind"] == 2].set_index("ref")["previous"]
    return own, after


def zone_summary(
    cells: pd.DataFrame,
    model: zones.ZoneModel,
    settings: AnalyticsSettings,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Zone, last zone and zone moves of visits from their cells (columns site, visit, period, ap_mac, rssi_sum,
    count): exactly what `analytics.report.analyse` works out from their observations with the same model.

    Returns (frame indexed by visit with zone and last_zone; `zones.zone_moves` frame).
    """
    periods = zones.cell_period_zones(cells, model, settings)
    return zones.visit_zones(periods, settings.visit_gap), zones.zone_moves(periods)
