"""Re-sent days known by their content: a day's rows delivered again under new ids (and with event times a
few seconds off) are the same rows once the ids and timestamps are set aside.

Extract records, per source partition, a small sketch of the day's rows without the id columns and the
timestamp columns: the hashes of its rows' other values (columns in name order, numbers as float64, so a
column read as int one day and float the next hashes alike), of which it keeps the `SKETCH_SIZE` smallest
distinct ones (a bottom-k sketch). From two days' sketches, the share of one day's rows that are rows of
the other is estimated without their rows: the smallest hashes of a day are a uniform sample of its rows,
and below the other day's largest kept hash the other day's sketch holds every row it has. Validation
rejects a day whose rows are mostly those of an earlier day (`resent_day`, naming it and its batch).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable

import numpy as np
import pandas as pd

from retrainer.data.contracts import Failure

EXPECTATION = "resent_day"
# Hashes kept per day: the share's estimate is within about +-0.05 of the truth at 0.5 (binomial, 128
# draws), and exact (0) for two days without a common row. 1 KiB per day in the manifest.
SKETCH_SIZE = 128
# A share judged on fewer sampled rows than this is not judged (a tiny day against a huge one).
MIN_SAMPLE = 16
# Rows that repeat within a day (coarse columns) cannot be told apart once their ids are set aside: a day
# with fewer distinct rows than this share of its rows is not judged.
MIN_DISTINCT_SHARE = 0.9


def content_columns(frame: pd.DataFrame, id_columns: Iterable[str], event_time: str | None) -> list[str]:
    """The columns that say what a row is about: all but the id columns, the event time and every other
    timestamp column (times jitter when a day is re-sent), in name order."""
    left_out = {*id_columns, event_time}
    return sorted(
        str(c)
        for c in frame.columns
        if c not in left_out and not pd.api.types.is_datetime64_any_dtype(frame[c].dtype)
    )


def _canonical(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The columns with numbers (and booleans) as float64: the type a column arrives in does not count."""
    out = {}
    for column in columns:
        values = frame[column]
        numeric = pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype)
        out[column] = values.astype("float64") if numeric else values
    return pd.DataFrame(out, index=frame.index, copy=False)


def day_sketch(frame: pd.DataFrame, id_columns: Iterable[str], event_time: str | None) -> dict:
    """What a day's rows look like without ids and timestamps: `{"columns": the columns hashed, "rows",
    "distinct": distinct rows, "hashes": the SKETCH_SIZE smallest distinct row hashes, base64 of sorted
    little-endian uint64}`. Vectorised (pandas' `hash_pandas_object`); the frame is one day."""
    columns = content_columns(frame, id_columns, event_time)
    if frame.empty or not columns:
        return {"columns": columns, "rows": len(frame), "distinct": 0, "hashes": ""}
    hashes = np.sort(pd.util.hash_pandas_object(_canonical(frame, columns), index=False).to_numpy())
    # distinct by sorting: numpy 2.4's np.unique takes ~30x longer on a million uint64 (3.9 s vs 0.13 s)
    hashes = hashes[np.concatenate(([True], hashes[1:] != hashes[:-1]))]
    kept = hashes[:SKETCH_SIZE].astype("<u8")  # the smallest first
    return {
        "columns": columns,
        "rows": len(frame),
        "distinct": len(hashes),
        "hashes": base64.b64encode(kept.tobytes()).decode("ascii"),
    }


def _hashes(sketch: dict) -> np.ndarray:
    return np.frombuffer(base64.b64decode(sketch.get("hashes") or ""), dtype="<u8")


def share_of_rows_in(day: dict, other: dict) -> float | None:
    """The estimated share of `day`'s distinct rows that are rows of `other` (two `day_sketch`es); None
    when it cannot be judged: other columns, or too few of `day`'s sampled hashes fall in `other`'s range."""
    if day.get("columns") != other.get("columns"):
        return None  # rows of other columns are other rows
    mine, theirs = _hashes(day), _hashes(other)
    if not len(mine) or not len(theirs):
        return None
    # Below the other day's largest kept hash, its sketch holds every row it has; above it, nothing known.
    limit = theirs[-1] if other["distinct"] > len(theirs) else np.iinfo(np.uint64).max
    sample = mine[mine <= limit]
    if len(sample) < min(MIN_SAMPLE, len(mine)):
        return None
    return float(np.isin(sample, theirs).mean())


def _judged(sketch: dict | None) -> bool:
    return bool(sketch) and sketch["rows"] > 0 and sketch["distinct"] >= MIN_DISTINCT_SHARE * sketch["rows"]


def _day_of(partition: dict) -> str:
    return str(partition.get("day") or partition["key"])


def resent_day_failures(manifest: dict, history: list[dict], rules: dict) -> list[Failure]:
    """Days of the batch whose rows, ids and timestamps aside, are mostly (`rules["resent_day_share"]` or
    more) rows of another day: an earlier day of the same batch, or any day of a validated batch (the same
    day read again by an overlapping window excepted). One critical `resent_day` failure naming, per
    re-sent day, the day and batch it repeats and the share of its rows seen there; none if no day does.
    A batch a person released from quarantine (`manifest["released"]`) gets it as a warning instead: still
    shown wherever warnings are. Partitions extracted before sketches were recorded are not judged."""
    threshold = rules.get("resent_day_share", 0.5)
    earlier = [
        (p, other["run_key"]) for other in history for p in other.get("partitions", []) if p.get("resend")
    ]
    observed: dict[str, dict] = {}
    for partition in sorted(manifest.get("partitions", []), key=_day_of):
        sketch = partition.get("resend")
        if _judged(sketch):
            best = None
            for other, run in earlier:
                if other["key"] == partition["key"] or not _judged(other["resend"]):
                    continue
                share = share_of_rows_in(sketch, other["resend"])
                if share is not None and share >= threshold and (best is None or share > best["share"]):
                    best = {"repeats": _day_of(other), "run": run, "share": round(share, 3)}
            if best:
                observed[_day_of(partition)] = best | {"rows": sketch["rows"]}
        earlier.append((partition, manifest["run_key"]))  # later days of this batch are compared with it
    if not observed:
        return []
    return [
        Failure(
            EXPECTATION,
            "warning" if manifest.get("released") else "critical",
            None,
            {
                day: f"repeats {o['repeats']} of batch {o['run']}: {o['share']:.0%} of its {o['rows']} rows"
                for day, o in observed.items()
            },
            {
                "resent_day_share": threshold,
                "compared": "row values without the id columns and timestamps",
                "fix": "ask the source for each day's own rows and rerun the date; if the repeat is real, "
                "release the batch from quarantine with a reason",
            },
        )
    ]
