"""Dwell time: summary statistics and Meraki's dwell buckets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def bucket_labels(edges_minutes: Sequence[int]) -> list[str]:
    """`(5, 20, 60, 360)` -> ["5-20", "20-60", "60-360", "360+"]."""
    edges = list(edges_minutes)
    return [f"{low}-{high}" for low, high in zip(edges, edges[1:], strict=False)] + [f"{edges[-1]}+"]


def dwell_buckets(dwell_minutes: pd.Series, edges_minutes: Sequence[int]) -> dict[str, int]:
    """How many dwell times fall in each bucket; a bucket holds its lower edge, not its upper one.

    With Meraki's edges a visit of exactly 20 minutes is in "20-60"; dwell below the first edge is not counted.
    """
    edges = np.asarray(list(edges_minutes), dtype="float64")
    values = dwell_minutes.to_numpy(dtype="float64")
    positions = np.searchsorted(edges, values, side="right") - 1
    counts = np.bincount(positions[positions >= 0], minlength=len(edges))
    return dict(zip(bucket_labels(edges_minutes), (int(count) for count in counts), strict=True))


def dwell_stats(dwell_minutes: pd.Series) -> dict[str, float | None]:
    """Median, mean and 90th percentile of dwell minutes (None each when there are none)."""
    if dwell_minutes.empty:
        return {"median": None, "mean": None, "p90": None}
    return {
        "median": float(dwell_minutes.median()),
        "mean": float(dwell_minutes.mean()),
        "p90": float(dwell_minutes.quantile(0.9)),
    }
