"""The binary state of a stored visit (its signal cells and per-AP power) and the JSON of its zone moves.

A visit keeps its cells instead of its observations, packed little-endian (CELL_DTYPE: 22 bytes a cell, about a
tenth of an observation row), so later observations can be merged into it exactly (analytics.incremental).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

import numpy as np
import pandas as pd

from analytics import incremental
from analytics.stays import empty_intervals

# A cell of a stored visit: fingerprint period (ns since the epoch), index into its AP list, sum and count of
# rssi_avg. Packed little-endian: 22 bytes, about a tenth of an observation row.
CELL_DTYPE = np.dtype([("period", "<i8"), ("ap", "<u2"), ("rssi_sum", "<f8"), ("count", "<u4")])
POWER_DTYPE = np.dtype("<f8")
# When a stored visit was heard (analytics.stays.heard_intervals): its disjoint intervals, start and end in ns since
# the epoch, packed little-endian: 16 bytes an interval, a probe burst of an unassociated phone or a minute of an
# associated one, so less than its cells.
HEARD_DTYPE = np.dtype([("start", "<i8"), ("end", "<i8")])


def encode_states(
    keys: np.ndarray, cells: pd.DataFrame, power: pd.DataFrame
) -> tuple[list[str], list[bytes], list[bytes]]:
    """Each visit's AP list, cells blob and power blob, in the order of `keys` (the `visit` values of cells/power).

    Vectorized except for slicing the packed buffers into one bytes object per visit.
    """
    power = power.sort_values(["visit", "ap_mac"], kind="stable")
    ap_lists = _joined(power["visit"].to_numpy(), power["ap_mac"].to_numpy(dtype=object), ",")
    # Each cell's AP as an index into its visit's AP list (power has every AP that heard the visit).
    position = power.groupby("visit", sort=True).cumcount().to_numpy()
    ap_index = pd.Series(position, index=pd.MultiIndex.from_arrays([power["visit"], power["ap_mac"]]))
    cells = cells.sort_values(["visit", "period", "ap_mac"], kind="stable")
    packed = np.empty(len(cells), dtype=CELL_DTYPE)
    packed["period"] = cells["period"].to_numpy(dtype="int64")
    packed["ap"] = ap_index.reindex(pd.MultiIndex.from_arrays([cells["visit"], cells["ap_mac"]])).to_numpy()
    packed["rssi_sum"] = cells["rssi_sum"].to_numpy(dtype="float64")
    packed["count"] = cells["count"].to_numpy(dtype="int64")
    cell_bytes = _split(packed.tobytes(), cells["visit"].to_numpy(), keys, CELL_DTYPE.itemsize)
    power_values = power["power"].to_numpy(dtype=POWER_DTYPE)
    power_bytes = _split(power_values.tobytes(), power["visit"].to_numpy(), keys, POWER_DTYPE.itemsize)
    return ap_lists.reindex(keys).fillna("").tolist(), cell_bytes, power_bytes


def _split(buffer: bytes, owners: np.ndarray, keys: np.ndarray, itemsize: int) -> list[bytes]:
    """Slices of `buffer`, whose items are sorted by owner, one per key of `keys` (in that order)."""
    counts = pd.Series(owners).value_counts().reindex(keys, fill_value=0).to_numpy(dtype="int64")
    order = np.argsort(keys, kind="stable")
    starts = np.empty(len(keys), dtype="int64")
    starts[order] = np.concatenate(([0], np.cumsum(counts[order])[:-1])) * itemsize
    view = memoryview(buffer)
    return [bytes(view[start : start + count * itemsize]) for start, count in zip(starts, counts, strict=True)]


def decode_states(
    visit_ids: np.ndarray, aps: Iterable[str], cells: Iterable[bytes], power: Iterable[bytes]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cells and power frames (columns visit, period, ap_mac, rssi_sum, count; visit, ap_mac, power) of stored
    visits, from their state rows."""
    ap_lists = [value.split(",") if value else [] for value in aps]
    cell_blobs = [bytes(blob) for blob in cells]
    power_blobs = [bytes(blob) for blob in power]
    if not cell_blobs:
        return incremental.empty_cells(), incremental.empty_power()
    packed = np.frombuffer(b"".join(cell_blobs), dtype=CELL_DTYPE)
    cell_counts = np.array([len(blob) // CELL_DTYPE.itemsize for blob in cell_blobs], dtype="int64")
    ap_counts = np.array([len(names) for names in ap_lists], dtype="int64")
    all_aps = np.array([name for names in ap_lists for name in names], dtype=object)
    ap_offsets = np.concatenate(([0], np.cumsum(ap_counts)[:-1]))
    owner = np.repeat(np.arange(len(cell_blobs)), cell_counts)
    cells_frame = pd.DataFrame(
        {
            "visit": np.repeat(visit_ids, cell_counts),
            "period": packed["period"].astype("int64"),
            "ap_mac": all_aps[ap_offsets[owner] + packed["ap"].astype("int64")] if len(packed) else [],
            "rssi_sum": packed["rssi_sum"].astype("float64"),
            "count": packed["count"].astype("int64"),
        }
    )
    power_values = np.frombuffer(b"".join(power_blobs), dtype=POWER_DTYPE)
    power_frame = pd.DataFrame(
        {
            "visit": np.repeat(visit_ids, ap_counts),
            "ap_mac": all_aps,
            "power": power_values.astype("float64"),
        }
    )
    return cells_frame.astype({"ap_mac": object}), power_frame.astype({"ap_mac": object})


def encode_moves(moves: pd.DataFrame) -> pd.Series:
    """Per visit, its moves (`zones.zone_moves` rows) as the JSON text stored in visit.zone_moves."""
    names = pd.Series(pd.unique(pd.concat([moves["from"], moves["to"]])))
    quoted = pd.Series([json.dumps(str(name)) for name in names], index=names.to_numpy())
    pieces = (
        "["
        + quoted.reindex(moves["from"].to_numpy()).to_numpy()
        + ", "
        + quoted.reindex(moves["to"].to_numpy()).to_numpy()
        + ", "
        + moves["moves"].astype(str).to_numpy()
        + "]"
    )
    order = np.argsort(moves["visit"].to_numpy(), kind="stable")
    joined = _joined(moves["visit"].to_numpy()[order], np.asarray(pieces, dtype=object)[order], ", ")
    return "[" + joined + "]"


def _joined(owners: np.ndarray, texts: np.ndarray, separator: str) -> pd.Series:
    """The texts of each owner joined by `separator`, indexed by owner; `owners` must be sorted. One C-level
    reduceat instead of a Python join per group."""
    if len(owners) == 0:
        return pd.Series(dtype=object)
    starts = np.flatnonzero(np.concatenate(([True], owners[1:] != owners[:-1])))
    ends = np.append(starts[1:], len(owners)) - 1
    with_separator = texts + separator
    with_separator[ends] = texts[ends]  # no separator after the last of each owner
    return pd.Series(np.add.reduceat(with_separator, starts), index=owners[starts])


def encode_heard(keys: np.ndarray, intervals: pd.DataFrame) -> list[bytes]:
    """Each visit's heard intervals (columns visit, start, end, sorted as `heard_intervals` gives them) as one blob,
    in the order of `keys`."""
    packed = np.empty(len(intervals), dtype=HEARD_DTYPE)
    packed["start"] = intervals["start"].to_numpy(dtype="int64")
    packed["end"] = intervals["end"].to_numpy(dtype="int64")
    return _split(packed.tobytes(), intervals["visit"].to_numpy(), keys, HEARD_DTYPE.itemsize)


def decode_heard(
    visit_ids: np.ndarray, heard: Iterable[bytes | None], first_ns: np.ndarray, last_ns: np.ndarray
) -> pd.DataFrame:
    """The heard intervals (columns visit, start, end) of stored visits from their state's blobs. A visit stored
    before migration 0010 has none (NULL) and counts as heard throughout its [first_seen, last_seen]."""
    blobs: list[bytes] = [
        np.array([(first, last)], dtype=HEARD_DTYPE).tobytes() if blob is None else bytes(blob)
        for blob, first, last in zip(heard, first_ns.tolist(), last_ns.tolist(), strict=True)
    ]
    if not blobs:
        return empty_intervals()
    packed = np.frombuffer(b"".join(blobs), dtype=HEARD_DTYPE)
    counts = np.array([len(blob) // HEARD_DTYPE.itemsize for blob in blobs], dtype="int64")
    return pd.DataFrame(
        {
            "visit": np.repeat(np.asarray(visit_ids, dtype="int64"), counts),
            "start": packed["start"].astype("int64"),
            "end": packed["end"].astype("int64"),
        }
    )
