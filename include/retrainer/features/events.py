"""The events a feature computation reads: the rows it computes features for, and the history before them
read from the source partitions that precede them, so that the first day of a batch, of a training window
or of a scored day gets the features of any other day.

Training (`features.stage.featurize`), scoring (`scoring.batch`) and the drift monitor compute features
through here and through one engine (`features.engine`), over the same history: a row of day D has the same
features whichever of them computes it (tests/features/test_parity.py).

Each events file holds only the columns the declarations read (`event_columns`), its times as UTC
microseconds and its numbers as doubles, so that files of different days (a column that was an integer one
day and a double the next, naive and zoned times) are read as one table.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from retrainer.core.feature_declarations import derived_feature_names, derived_features, history_needed
from retrainer.sources.partitions import NOT_PARQUET, days_overlapping, partition_key
from retrainer.storage import KeyNotFound, Storage, sha256_file

log = logging.getLogger(__name__)

TIME = pa.timestamp("us", tz="UTC")


def event_columns(params: dict[str, Any]) -> list[str]:
    """The columns of the raw events the model's declarations read: its id and event time, the label and
    its arrival for label aggregates, every entity and value column."""
    model, features = params["model"], derived_features(params)
    columns = [model["id_column"], model["event_time"]]
    if any(f.kind == "label" for f in features):
        columns += [model["label"], *([model["label_time"]] if model.get("label_time") else [])]
    for feature in features:
        columns += [*feature.entity, *([feature.value] if feature.value else [])]
    return list(dict.fromkeys(columns))


def normalise(table: pa.Table, params: dict[str, Any], before: datetime | None = None) -> pa.Table:
    """`table` reduced to `event_columns` (the ones it has: the engine names a missing one), its time
    columns as UTC microseconds and its numeric columns as doubles; with `before`, only the rows whose
    event time is earlier (a day's partition may hold a late row of a later day: that day's rows)."""
    model = params["model"]
    times = {model["event_time"], model.get("label_time")}
    present = [c for c in event_columns(params) if c in table.column_names]
    table = table.select(present)
    for index, field in enumerate(table.schema):
        if field.name in times and pa.types.is_timestamp(field.type):
            column = table[field.name]
            if field.type.tz is None:  # naive times are UTC (extract's convention)
                column = pc.assume_timezone(column, "UTC")
            table = table.set_column(index, field.name, column.cast(TIME))
        elif field.name != model["id_column"] and (
            pa.types.is_integer(field.type) or pa.types.is_floating(field.type)
        ):
            table = table.set_column(index, field.name, table[field.name].cast(pa.float64()))
    if before is not None and model["event_time"] in table.column_names:
        earlier = pc.less(table[model["event_time"]], pa.scalar(before, TIME))
        table = table.filter(pc.fill_null(earlier, False))
    return table


def history_days(params: dict[str, Any], before: datetime) -> list[date]:
    """The source days whose events the rows from `before` on may reach back to: the longest window (plus
    its offset) before `before`; none for a model without derived features."""
    needed = history_needed(params)
    if not derived_feature_names(params) or not needed:
        return []
    return days_overlapping(before - needed, before)


def stage_history(source: Storage, params: dict[str, Any], before: datetime, into: Path) -> list[dict]:
    """Write the history of the rows from `before` on to `into/<day>.parquet`, one normalised file per
    source partition of `history_days`, rows with event time before `before` only; returns, per day, the
    partition's key, its source file's sha256 and rows kept (`missing: true` for a day with no partition:
    the features of the first rows then see less history, as for the model's first days of data).
    Raises FeatureDataError naming a history partition that is not readable Parquet."""
    from retrainer.features.engine import FeatureDataError

    into.mkdir(parents=True, exist_ok=True)
    described = []
    with tempfile.TemporaryDirectory(prefix="retrainer-history-") as tmp:
        for day in history_days(params, before):
            key = partition_key(day)
            try:
                raw = source.download(key, Path(tmp) / "partition.parquet")
            except KeyNotFound:
                described.append({"day": day.isoformat(), "key": source.uri(key), "missing": True})
                continue
            try:
                table = normalise(pq.read_table(raw), params, before)
            except NOT_PARQUET as error:
                raise FeatureDataError(
                    f"the history partition {source.uri(key)} is not readable Parquet ({error}): the "
                    "features of the days after it read it; replace it at the source and rerun"
                ) from None
            pq.write_table(table, into / f"{day.isoformat()}.parquet")
            described.append(
                {
                    "day": day.isoformat(),
                    "key": source.uri(key),
                    "sha256": sha256_file(raw),
                    "rows": len(table),
                }
            )
    if missing := [d["day"] for d in described if d.get("missing")]:
        log.warning(
            "no source partition for %d day(s) of the history (%s .. %s): the features of the first rows "
            "see less history (as in the model's first days of data)",
            len(missing),
            missing[0],
            missing[-1],
        )
    return described


def history_files(directory: Path) -> list[Path]:
    """The history files `stage_history` wrote, oldest day first."""
    return sorted(Path(directory).glob("*.parquet"))


def features_of_rows(
    frame: pd.DataFrame,
    source: Storage,
    params: dict[str, Any],
    before: datetime,
    feature_params: Sequence[dict[str, Any]] | None = None,
) -> pd.DataFrame:
    """`frame` (rows read from the source: a scored day, the monitor's days, all on or after `before`) with
    the derived features of each `features` section in `feature_params` (default: the model's own; a
    champion and a challenger may declare different ones) as columns, computed over the rows and the
    source's history before `before`. Rows keep their order; without derived features the frame is
    returned as it is."""
    from retrainer.features.engine import compute_features

    sections = [params["features"]] if feature_params is None else list(feature_params)
    variants = [{**params, "features": section} for section in sections]
    variants = [v for v in variants if derived_feature_names(v)]
    if not variants or frame.empty:
        return frame
    id_column = params["model"]["id_column"]
    union = {**params, "features": {"derived": _merged([v["features"]["derived"] for v in variants])}}
    with tempfile.TemporaryDirectory(prefix="retrainer-events-") as tmp:
        history = Path(tmp) / "history"
        stage_history(source, union, before, history)
        rows = Path(tmp) / "rows.parquet"
        pq.write_table(normalise(pa.Table.from_pandas(frame, preserve_index=False), union), rows)
        events = [*history_files(history), rows]
        ids = pa.array(frame[id_column].drop_duplicates())
        computed: dict[str, Any] = {}
        for variant in variants:
            table = compute_features(events, variant, ids=ids, temp_dir=tmp).to_pandas()
            # One row per id: a re-sent transaction also in the history gets its features at the row's
            # own time either way; the frame's copy (the last file) is kept.
            table = table.drop_duplicates(id_column, keep="last").set_index(id_column)
            for name in table.columns:
                computed.setdefault(name, table[name])
    return attach(frame, pd.DataFrame(computed), id_column)


def attach(frame: pd.DataFrame, features: pd.DataFrame, id_column: str) -> pd.DataFrame:
    """`frame` with the columns of `features` (indexed by id, one row per id) beside its own, matched on
    its id column, in the frame's order; a frame column of the same name is replaced."""
    joined = features.reindex(frame[id_column].to_numpy())
    joined.index = frame.index
    return pd.concat([frame.drop(columns=[c for c in joined.columns if c in frame.columns]), joined], axis=1)


def _merged(sections: list[dict[str, Any]]) -> dict[str, Any]:
    """Declarations whose history covers every one of `sections` (for staging the history once)."""
    merged: dict[str, Any] = {}
    for section in sections:
        for key in ("windows", "labels", "since_previous"):
            merged.setdefault(key, []).extend(section.get(key) or [])
    return merged
