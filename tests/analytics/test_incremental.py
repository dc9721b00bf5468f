"""analytics.incremental and the cell-based zone functions: merging observations into stored visits in any order
gives the one-pass visits, and cells give the zones, positions and moves observations give."""

from __future__ import annotations

from datetime import UTC, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans

from analytics import incremental, zones
from analytics.schema import TIME_DTYPE, typed_observations
from analytics.settings import RECURRENCE, AnalyticsSettings
from analytics.stays import empty_intervals
from analytics.visits import label_visits, visits
from tests.analytics.builders import AP1, AP2, AP3, at, frame, observation, stay

# The estimate, not the span, is what merging must keep exact.
SETTINGS = AnalyticsSettings(dwell_estimate=RECURRENCE)
ONE_PASS_COLUMNS = [
    "site",
    "device",
    "first_seen",
    "last_seen",
    "max_rssi",
    "associated",
    "observations",
    "ssid",
    "ssids",
    "ap_macs",
]


class Store:
    """An in-memory stand-in for store.visits: the stored visits, their cells, power and heard intervals."""

    def __init__(self) -> None:
        self.visits: pd.DataFrame | None = None
        self.cells = incremental.empty_cells()
        self.power = incremental.empty_power()
        self.heard = empty_intervals()
        self.next_id = 1
        self.next_observation = 1

    def add(self, observations: pd.DataFrame) -> None:
        batch = typed_observations(observations)
        batch.insert(0, "id", np.arange(self.next_observation, self.next_observation + len(batch)))
        self.next_observation += len(batch)
        stored = self.visits if self.visits is not None else empty_stored()
        merged = incremental.merge(batch, stored, self.cells, self.power, SETTINGS, self.heard)
        new = merged.visits["id"].to_numpy() < 0
        ids = merged.visits["id"].to_numpy().copy()
        ids[new] = np.arange(self.next_id, self.next_id + new.sum())
        self.next_id += int(new.sum())
        by_key = pd.Series(ids, index=merged.visits["key"].to_numpy())
        kept = stored.loc[~stored["id"].isin(merged.replaced)]
        added = merged.visits.assign(id=ids).drop(columns="key")
        self.visits = pd.concat([kept, added], ignore_index=True) if len(kept) else added.reset_index(drop=True)
        self.cells = pd.concat(
            [
                self.cells.loc[~self.cells["visit"].isin(merged.replaced)],
                merged.cells.assign(visit=by_key.reindex(merged.cells["visit"]).to_numpy()),
            ],
            ignore_index=True,
        )
        self.power = pd.concat(
            [
                self.power.loc[~self.power["visit"].isin(merged.replaced)],
                merged.power.assign(visit=by_key.reindex(merged.power["visit"]).to_numpy()),
            ],
            ignore_index=True,
        )
        self.heard = pd.concat(
            [
                self.heard.loc[~self.heard["visit"].isin(merged.replaced)],
                merged.heard.assign(visit=by_key.reindex(merged.heard["visit"]).to_numpy()),
            ],
            ignore_index=True,
        ).sort_values(["visit", "start"], ignore_index=True)

    def sorted_visits(self) -> pd.DataFrame:
        assert self.visits is not None
        return self.visits.sort_values(["site", "device", "first_seen"], ignore_index=True)


def empty_stored() -> pd.DataFrame:
    """No stored visits, with the dtypes merge reads."""
    dtypes = {"id": "int64", "site": object, "device": object, "first_seen": TIME_DTYPE, "last_seen": TIME_DTYPE}
    dtypes |= {"max_rssi": "float64", "associated": bool, "randomized": bool, "observations": "int64"}
    dtypes |= {"ssid": object, "manufacturer": object, "ssids": object}
    dtypes |= {key: "Int64" for rank in incremental.RANK_COLUMNS.values() for key in rank}
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in dtypes.items()})


def one_pass(observations: pd.DataFrame) -> pd.DataFrame:
    found = visits(label_visits(typed_observations(observations), SETTINGS.visit_gap), UTC, SETTINGS)
    return found.sort_values(["site", "device", "first_seen"], ignore_index=True)


def test_a_late_observation_between_two_visits_merges_them():
    store = Store()
    store.add(frame(stay("d", at(minute=0), 10), stay("d", at(minute=30), 10)))
    assert len(store.visits) == 2

    store.add(frame(observation("d", at(minute=20), ssid="Guest")))

    result = store.sorted_visits()
    assert result[["first_seen", "last_seen", "observations", "ssid"]].to_numpy().tolist() == [
        [pd.Timestamp(at(minute=0)), pd.Timestamp(at(minute=40)), 23, "Guest"]
    ]
    assert result["id"].tolist() == [1]  # the smaller id lives on


def test_previous_starts_relink_the_chain_around_changed_visits():
    day = pd.Timedelta(days=1)
    start = pd.Timestamp(at())
    visits_after = pd.DataFrame(
        {"ref": [10, 11], "site": "s", "device": "d", "first_seen": [start + day, start + 2 * day]}
    )
    predecessors = pd.DataFrame({"site": ["s"], "device": ["d"], "first_seen": [start]})
    successors = pd.DataFrame({"ref": [12], "site": ["s"], "device": ["d"], "first_seen": [start + 5 * day]})

    own, after = incremental.previous_starts(visits_after, predecessors, successors)

    assert own.to_dict() == {10: start, 11: start + day}
    assert after.to_dict() == {12: start + 2 * day}


observations_strategy = st.lists(
    st.tuples(
        st.sampled_from(["d1", "d2", "d3"]),
        st.integers(min_value=0, max_value=240),  # minute of the day
        st.integers(min_value=0, max_value=120),  # seconds heard
        st.sampled_from([AP1, AP2, AP3]),
        st.integers(min_value=-90, max_value=-45),
        st.sampled_from([None, None, "Guest", "Staff"]),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=observations_strategy, seed=st.integers(0, 2**16), chunks=st.integers(1, 6))
def test_merging_chunks_in_any_order_gives_the_one_pass_visits(rows, seed, chunks):
    observations = frame(
        [
            observation(
                device,
                at(minute=minute),
                at(minute=minute, second=seconds),
                ap=ap,
                rssi=float(rssi),
                ssid=ssid,
                associated=ssid is not None,
            )
            for device, minute, seconds, ap, rssi, ssid in rows
        ]
    )
    order = np.random.default_rng(seed).permutation(len(observations))
    store = Store()
    for part in np.array_split(order, min(chunks, len(order))):
        store.add(observations.iloc[part])

    expected = one_pass(observations.iloc[order])
    result = store.sorted_visits()
    pd.testing.assert_frame_equal(
        result[ONE_PASS_COLUMNS].astype(
            {"ssid": object, "ssids": object, "ap_macs": object, "observations": "int64", "max_rssi": "float64"}
        ),
        expected[ONE_PASS_COLUMNS].astype({"ssid": object, "ssids": object, "ap_macs": object}),
        check_dtype=False,
    )
    # The estimated stay, worked out again from the merged heard intervals, is the one-pass one to the bit.
    assert result["dwell_seconds"].tolist() == expected["dwell"].dt.total_seconds().tolist()
    # Cells hold the observations' fingerprint sums: the same fingerprints as from the observations.
    labelled = label_visits(typed_observations(observations.iloc[order]), SETTINGS.visit_gap)
    keys = result.reset_index().set_index(["site", "device", "first_seen"])["id"]
    starts = labelled.groupby("visit")["first_seen"].transform("min")
    labelled["visit"] = keys.reindex(
        pd.MultiIndex.from_arrays([labelled["site"], labelled["device"], starts])
    ).to_numpy()
    from_observations = zones.fingerprints(labelled, ["visit"], SETTINGS).sort_index(axis=1)
    from_cells = zones.cell_fingerprints(store.cells, ["visit"]).sort_index(axis=1)
    pd.testing.assert_frame_equal(from_cells, from_observations, check_exact=False, rtol=1e-12)


def walker_frame() -> pd.DataFrame:
    near = [
        stay(f"n{i}", at(minute=i), 12, ap=AP1, rssi=-50) + stay(f"n{i}", at(minute=i), 12, ap=AP2, rssi=-85)
        for i in range(4)
    ]
    far = [
        stay(f"f{i}", at(minute=i), 12, ap=AP2, rssi=-52) + stay(f"f{i}", at(minute=i), 12, ap=AP1, rssi=-84)
        for i in range(4)
    ]
    walker = stay("w", at(minute=0), 6, ap=AP1, rssi=-50) + stay("w", at(minute=7), 6, ap=AP2, rssi=-50)
    walker += stay("w", at(minute=0), 6, ap=AP2, rssi=-85) + stay("w", at(minute=7), 6, ap=AP1, rssi=-85)
    return frame(*near, *far, walker)


def test_cells_give_the_zones_positions_and_moves_of_observations():
    observations = typed_observations(walker_frame())
    labelled = label_visits(observations, SETTINGS.visit_gap)
    model = zones.fit_zones(observations, None, SETTINGS)
    cells, power = incremental.observation_cells(labelled, labelled["visit"], SETTINGS)
    cells = incremental.sum_cells(cells).assign(site="shop")
    points = {
        AP1: type("AP", (), {"name": "One", "x": 0.0, "y": 0.0})(),
        AP2: type("AP", (), {"name": "Two", "x": 8.0, "y": 2.0})(),
    }

    placed, moves = incremental.zone_summary(cells, model, SETTINGS)
    periods = zones.period_zones(labelled, model, SETTINGS)

    pd.testing.assert_frame_equal(placed, zones.visit_zones(periods, SETTINGS.visit_gap))
    pd.testing.assert_frame_equal(
        zones.moves_matrix(moves, sorted(set(periods["zone"]))), zones.zone_transitions(periods)
    )
    pd.testing.assert_frame_equal(
        zones.power_positions(incremental.sum_power(power), points), zones.visit_positions(labelled, points)
    )
    assert moves[["from", "to", "moves"]].to_numpy().tolist() == [[AP1, AP2, 1]]


def per_site_period_zones(cells: pd.DataFrame, model: zones.ZoneModel) -> pd.DataFrame:
    """The zones of cells worked out one site at a time, from each site's own fingerprints frame: the definition
    `cell_period_zones` keeps while working on arrays sorted once."""
    parts = []
    for site, site_cells in cells.groupby("site", sort=True):
        wide = zones.cell_fingerprints(site_cells, ["visit"])
        site_model = model.sites.get(str(site))
        if site_model is None:
            zone = wide.fillna(SETTINGS.rssi_floor_dbm).idxmax(axis=1).to_numpy(dtype=object)
        else:
            zone = site_model.predict(wide, SETTINGS.rssi_floor_dbm)
        parts.append(wide.index.to_frame(index=False).assign(zone=zone))
    return (
        pd.concat(parts, ignore_index=True).astype({"zone": "str"}).sort_values(["visit", "period"], ignore_index=True)
    )


def many_site_cells(rng: np.random.Generator, site_aps: dict[str, list[str]]) -> pd.DataFrame:
    """Cells of 60 visits spread over the sites, in random order: now and then an AP does not hear a period, or
    hears it twice (two cells summed)."""
    rows = []
    for visit in range(60):
        site = sorted(site_aps)[visit % len(site_aps)]
        start = int(rng.integers(0, 30))
        for minute in range(start, start + int(rng.integers(1, 9))):
            for ap in site_aps[site]:
                for _ in range(int(rng.choice([0, 1, 1, 2]))):
                    count = int(rng.integers(1, 4))
                    period = pd.Timestamp(at(minute=minute)).value
                    rows.append((site, 1000 + visit, period, ap, float(rng.normal(-70, 12)) * count, count))
    cells = pd.DataFrame(rows, columns=["site", "visit", "period", "ap_mac", "rssi_sum", "count"])
    return cells.iloc[rng.permutation(len(cells))].reset_index(drop=True)


@pytest.mark.parametrize("seed", range(5))
def test_the_zones_of_many_sites_cells_are_each_sites_own(seed):
    rng = np.random.default_rng(seed)
    unknown, unheard = "02:00:00:00:00:99", "02:00:00:00:00:98"
    site_aps = {"a": [AP1, AP2, AP3, unknown], "b": [AP1, AP2], "c": [AP2, AP3], "d": [AP1, AP3], "e": [AP1]}
    model = zones.ZoneModel(
        {
            # A fitted rule over an AP nobody heard, with cells of an AP it does not know.
            "a": zones.SiteZones(
                "a", (AP1, AP2, AP3, unheard), ("One", "Two", "Three", "Four"), zones.StrongestAP(rng.normal(-10, 4, 4))
            ),
            "b": zones.SiteZones("b", (AP1,), ("Only",)),  # one zone
            # "c" has no model: the strongest of its own APs.
            "d": zones.SiteZones("d", (AP1, AP3), (AP1, AP3), zones.NearestCenters(rng.normal(-10, 5, (2, 2)))),
            "e": zones.strongest_ap_model("e", (AP1,), None),
        }
    )
    cells = many_site_cells(rng, site_aps)

    result = zones.cell_period_zones(cells, model, SETTINGS)

    pd.testing.assert_frame_equal(result, per_site_period_zones(cells, model), check_exact=True)
    assert set(result["zone"]) - {"Only", AP1, AP2, AP3} <= {"One", "Two", "Three", "Four"}
    assert result.loc[result["visit"].isin(cells.loc[cells["site"] == "b", "visit"]), "zone"].eq("Only").all()
    # A cell without a site is left out, as a groupby leaves it.
    orphan = cells.iloc[:1].assign(site=None, visit=1)
    assert 1 not in zones.cell_period_zones(pd.concat([cells, orphan]), model, SETTINGS)["visit"].tolist()


def three_sites_cells(seed: int) -> tuple[np.random.Generator, dict[str, list[str]], pd.DataFrame, AnalyticsSettings]:
    """Cells of three sites (one of them of a single AP) and settings for fitting them: the sample is drawn within
    each site's own fingerprints, and a small sample makes its order matter."""
    rng = np.random.default_rng(seed)
    site_aps = {"a": [AP1, AP2, AP3], "b": [AP3, AP1], "c": [AP2]}
    cells = many_site_cells(rng, site_aps)
    return rng, site_aps, cells, AnalyticsSettings(dwell_estimate=RECURRENCE, zone_fit_sample=40)


@pytest.mark.parametrize("seed", range(3))
def test_zone_models_fitted_on_many_sites_cells_are_each_sites_own(seed):
    _, site_aps, cells, settings = three_sites_cells(seed)

    fitted = zones.fit_cell_zones(cells, site_aps, None, settings)

    assert sorted(fitted) == ["a", "b", "c"]
    for site, (site_zones, fingerprints) in fitted.items():
        wide = zones.cell_fingerprints(cells.loc[cells["site"] == site], ["visit"])
        expected = zones.fit_site_zones(site, site_aps[site], wide, None, settings)
        assert fingerprints == len(wide)
        assert (site_zones.site, site_zones.aps, site_zones.cluster_zones) == (
            expected.site,
            expected.aps,
            expected.cluster_zones,
        )
        if expected.rule is None:
            assert site_zones.rule is None
        else:
            np.testing.assert_array_equal(site_zones.rule.levels, expected.rule.levels)
    assert fitted["c"][0].rule is None
    assert fitted["a"][0].rule is not None


@pytest.mark.parametrize("seed", range(3))
def test_zone_features_worked_out_chunk_by_chunk_are_those_of_all_cells(seed):
    """A refresh's fit reads stored visits in chunks of whole visits and keeps only each chunk's features."""
    rng, site_aps, cells, settings = three_sites_cells(seed)
    visits = np.sort(cells["visit"].unique())
    cuts = np.sort(rng.choice(np.arange(1, len(visits)), 3, replace=False))

    pieces: dict[str, list] = {}
    for chunk in np.split(visits, cuts):
        for site, features in zones.cell_features(cells.loc[cells["visit"].isin(chunk)], site_aps, settings).items():
            pieces.setdefault(site, []).append(features)
    chunked = {site: tuple(np.concatenate(part) for part in zip(*parts, strict=True)) for site, parts in pieces.items()}

    whole = zones.cell_features(cells, site_aps, settings)
    assert sorted(chunked) == sorted(whole) == ["a", "b", "c"]
    for site, (matrix, row_visits) in whole.items():
        np.testing.assert_array_equal(chunked[site][0], matrix)
        np.testing.assert_array_equal(chunked[site][1], row_visits)
    assert whole["a"][0].shape == (len(whole["a"][1]), 3)
    assert len(whole["a"][1]) > 0
    fitted = zones.fit_feature_zones(chunked, site_aps, None, settings)
    expected = zones.fit_cell_zones(cells, site_aps, None, settings)
    for site, (site_zones, fingerprints) in expected.items():
        assert fitted[site][1] == fingerprints
        if site_zones.rule is None:
            assert fitted[site][0].rule is None
        else:
            np.testing.assert_array_equal(fitted[site][0].rule.levels, site_zones.rule.levels)


def test_a_stored_model_predicts_as_kmeans_does():
    matrix = np.random.default_rng(3).normal(-70, 10, size=(500, 3))
    kmeans = KMeans(n_clusters=3, n_init=1, random_state=0).fit(matrix)

    stored = zones.NearestCenters(kmeans.cluster_centers_)

    np.testing.assert_array_equal(stored.predict(matrix), kmeans.predict(matrix))


def test_observation_cells_use_the_midpoint_period():
    cells, power = incremental.observation_cells(
        typed_observations(frame(observation("d", at(minute=0, second=50), at(minute=1, second=20), rssi=-60.0))),
        np.array([7]),
        SETTINGS,
    )

    assert cells[["visit", "period", "count"]].to_numpy().tolist() == [[7, pd.Timestamp(at(minute=1)).value, 1]]
    assert power["power"].tolist() == pytest.approx([1e-6])
    assert timedelta(minutes=1) == SETTINGS.fingerprint_period
