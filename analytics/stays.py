"""How long a device really stayed: the span it was heard, plus the expected unheard time at each end.

A phone is heard only when it sends a frame: an unassociated one probes every 1-4 minutes, so it was inside
before its first frame and after its last, and `last_seen - first_seen` (the span) falls short of the stay by
about one probe gap. The estimate (`dwell_estimate = "recurrence"`, docs/analytics.md, "Dwell") adds to each end
the expected time from a moment chosen without regard to the phone's frames (an arrival, a departure) to its
next frame: the mean forward recurrence time of its frames, E[g^2] / (2 E[g]) for gaps g between them.

That mean is taken over the visit's own heard span: the device was heard on the union of its observations'
[first_seen, last_seen] intervals (an AP's record aggregates its frames of an interval; a probe heard by four
APs is four records of nearly one moment) and unheard in the holes h between them, so a moment drawn uniformly
from [first_seen, last_seen] waits sum(h^2) / (2 span) on average for the next frame. Near-duplicate times (the
same probe at two APs) make holes of nearly zero length, which add nearly nothing: no de-duplication is needed.
With few frames the visit says little, so its own evidence is pooled with a prior of the device's class
(associated phones are heard about every minute, unassociated ones probe every 1-4 minutes), weighted as one
prior gap's worth of time:

    extension = (sum(h^2) / 2 + w * r) / (span + w),   r = E[g^2] / (2 E[g]) and w = E[g] of the prior gaps
    dwell     = span + 2 * extension

The stored visits (store.visits) keep each visit's heard intervals, so merging late observations recomputes
exactly what labelling every observation at once gives: both paths call `estimate_extension` on the same
intervals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.settings import SPAN, AnalyticsSettings

NS_PER_SECOND = 1_000_000_000


def heard_intervals(visit: np.ndarray, first_ns: np.ndarray, last_ns: np.ndarray) -> pd.DataFrame:
    """The union of intervals [first_ns, last_ns] per visit: columns visit, start, end (int64 ns), sorted.

    Intervals that touch or overlap become one. Vectorized: one sort, a grouped running maximum, a cumulative sum.
    """
    visit = np.asarray(visit, dtype="int64")
    first_ns = np.asarray(first_ns, dtype="int64")
    last_ns = np.maximum(np.asarray(last_ns, dtype="int64"), first_ns)
    if len(visit) == 0:
        return empty_intervals()
    order = np.lexsort((last_ns, first_ns, visit))
    visit, first_ns, last_ns = visit[order], first_ns[order], last_ns[order]
    reach = pd.Series(last_ns).groupby(visit).cummax().to_numpy()
    new_visit = np.concatenate(([True], visit[1:] != visit[:-1]))
    previous_reach = np.concatenate(([0], reach[:-1]))
    new_interval = new_visit | (first_ns > previous_reach)
    starts = np.flatnonzero(new_interval)
    ends = np.append(starts[1:], len(visit)) - 1
    return pd.DataFrame({"visit": visit[starts], "start": first_ns[starts], "end": reach[ends]}).astype("int64")


def empty_intervals() -> pd.DataFrame:
    """No heard intervals, with the dtypes `heard_intervals` gives."""
    return pd.DataFrame(
        {"visit": pd.Series(dtype="int64"), "start": pd.Series(dtype="int64"), "end": pd.Series(dtype="int64")}
    )


def prior_recurrence(low_seconds: float, high_seconds: float) -> tuple[float, float]:
    """(E[g^2] / (2 E[g]), E[g]) in seconds for gaps g uniform on [low, high] (a fixed gap when they are equal)."""
    mean = (low_seconds + high_seconds) / 2
    second_moment = (low_seconds**2 + low_seconds * high_seconds + high_seconds**2) / 3
    return second_moment / (2 * mean), mean


def estimate_extension(intervals: pd.DataFrame, visits: pd.DataFrame, settings: AnalyticsSettings) -> pd.Series:
    """The expected unheard time at each end of each visit, in seconds (float), indexed like `visits`.

    intervals: `heard_intervals` of the visits (column visit matching `visits[key]`); visits: columns key,
    first_seen, last_seen and associated. 0 for every visit with `dwell_estimate = "span"`.
    """
    if settings.dwell_estimate == SPAN or visits.empty:
        return pd.Series(0.0, index=visits.index, dtype="float64")
    # Holes between consecutive intervals of the same visit, squared, summed per visit (in seconds^2).
    same = intervals["visit"].to_numpy()[1:] == intervals["visit"].to_numpy()[:-1]
    holes = (intervals["start"].to_numpy()[1:] - intervals["end"].to_numpy()[:-1])[same] / NS_PER_SECOND
    owners = intervals["visit"].to_numpy()[1:][same]
    squares = pd.Series(holes * holes).groupby(owners).sum()
    keys = visits["key"].to_numpy()
    hole_squares = squares.reindex(keys, fill_value=0.0).to_numpy(dtype="float64")
    span = (visits["last_seen"] - visits["first_seen"]).dt.total_seconds().to_numpy(dtype="float64")
    associated = visits["associated"].to_numpy(dtype=bool)
    unassociated_r, unassociated_w = prior_recurrence(*_seconds(settings.probe_gap_unassociated))
    associated_r, associated_w = prior_recurrence(*_seconds(settings.probe_gap_associated))
    r = np.where(associated, associated_r, unassociated_r)
    w = np.where(associated, associated_w, unassociated_w)
    return pd.Series((hole_squares / 2 + w * r) / (span + w), index=visits.index, dtype="float64")


def _seconds(gaps: tuple) -> tuple[float, float]:
    low, high = gaps
    return pd.Timedelta(low).total_seconds(), pd.Timedelta(high).total_seconds()
