"""The feature engine: a model's derived features (`features.derived`) computed from raw events with DuckDB
window functions over RANGE frames, the same code for training and for scoring.

Point in time, stated once (and tested in tests/features/test_engine.py):
- Times are compared to the microsecond (event times in nanoseconds are rounded to it).
- A window `w` of an event at time t holds the entity's events with an event time in (t - w, t]: an event
  exactly `w` earlier is OUT (as pandas' `rolling("24h")`), the event itself is IN, and so is every event
  of the entity at the same instant t (ties are peers: the features of simultaneous events do not depend
  on their order in the file). Nothing later than t is ever read.
- Label aggregates count the entity's events in (t - offset - w, t - offset] whose label had ARRIVED
  strictly before t: its `model.label_time` (a label time before the event counts as the event time), or
  the event time plus `model.label_delay_days`. `count`: those that were positive (label 1). `rate`:
  count / every event of the entity in that window, labelled yet or not (the labels that arrived first
  are mostly the frauds: a rate over arrived labels only would be biased), or `default` when the window
  holds fewer than `min_count` events. Exact, without a join: an event whose label takes d to arrive can
  count in a window [t - o - w, t - o] only through F(o) - F(o + w), F(b) = #{event time <= t - b, label
  arrived < t}, and F(b) is one running sum over the event's "key" (event time + b when d < b, else its
  arrival), so each label aggregate is a running sum over positives only (`features.sql`).
- `since_previous`: seconds since the entity's latest event strictly before t, within `within` (null if
  none). Calendar features are of the event time in the model's `schedule.timezone`: hour 0-23, weekday
  0 (Monday) to 6, weekend 0/1 (Saturday, Sunday), night 0/1 (00:00 to 05:59).
- A row whose entity is null gets null for that entity's features (null is not one shared entity).

The caller passes the history: the events from `history_needed(params)` before the first requested row
(the source partitions that precede the batch), so that the batch's first day has the features of any
other day. Memory stays bounded: DuckDB spills to a temporary directory beyond
`features.derived.memory_limit_mib`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from retrainer.core.errors import Rejected
from retrainer.core.feature_declarations import DerivedFeature, derived_features, derived_section
from retrainer.features.sql import feature_query, quoted

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL",
                 "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "BOOLEAN")  # fmt: skip
Events = pa.Table | Sequence[str | Path]


class FeatureDataError(Rejected):
    """The events cannot give the declared features: a column is missing or of the wrong type, an event
    has no time. A verdict on the data and the declarations, not retried."""


def compute_features(
    events: Events | Any,
    params: dict[str, Any],
    *,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    ids: Sequence[Any] | pa.Array | None = None,
    temp_dir: str | Path | None = None,
) -> pa.Table:
    """The derived features of the requested rows, as an Arrow table: the model's id column, then
    `derived_feature_names(params)` in that order; one row per requested event, in the events' order
    (Parquet files in the order given, then each file's rows).

    `events`: an Arrow table (or pandas DataFrame) or Parquet paths holding the requested rows AND their
    history. Requested rows: event time in [start, end) and id in `ids`, each when given (default: all).
    """
    with _prepared(events, params, temp_dir, ids) as (con, query):
        table = con.sql(query, params=_bounds(start, end)).to_arrow_table()
    # The events' order restored here rather than by an ORDER BY in DuckDB: a sort there would hold every
    # output row a second time; here each column is put in order and its unordered copy freed in turn.
    order = pc.sort_indices(table["__row"])
    names, columns = table.column_names[:-1], table.columns[:-1]
    del table

    def put_in_order(index: int) -> None:
        columns[index] = columns[index].take(order)

    with ThreadPoolExecutor(_threads(params)) as pool:  # Arrow's take lets go of the GIL
        list(pool.map(put_in_order, range(len(columns))))
    return pa.table(columns, names=names)


def write_features(
    events: Events | Any,
    params: dict[str, Any],
    path: str | Path,
    *,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    ids: Sequence[Any] | pa.Array | None = None,
    temp_dir: str | Path | None = None,
) -> int:
    """`compute_features` written to a Parquet file at `path` by DuckDB (streamed, nothing held in Python);
    returns the number of rows written."""
    with _prepared(events, params, temp_dir, ids) as (con, query):
        target = str(path).replace("'", "''")
        ordered = f"SELECT * EXCLUDE (__row) FROM ({query}) ORDER BY __row"
        copied = con.execute(f"COPY ({ordered}) TO '{target}' (FORMAT parquet)", _bounds(start, end))
        return int(copied.fetchall()[0][0])  # COPY answers the number of rows it wrote


@contextmanager
def _prepared(
    events: Any, params: dict[str, Any], temp_dir: str | Path | None, ids: Any
) -> Iterator[tuple[duckdb.DuckDBPyConnection, str]]:
    """A DuckDB connection holding the events as the view `__events` (with `__row`, their order) and the
    requested ids as `__ids`, checked against the declarations, and the query of the features. DuckDB
    spills to a temporary directory (inside `temp_dir` if given), removed on exit. DuckDB 2 wants every
    result fetched to its end before the next statement: hence the fetchall() of statements."""
    derived = derived_section(params)
    with tempfile.TemporaryDirectory(prefix="retrainer-features-", dir=temp_dir) as spill:
        con = duckdb.connect(
            config={
                "threads": _threads(params),
                "memory_limit": f"{int(derived.get('memory_limit_mib') or 2048)}MiB",
                "temp_directory": spill,
                "preserve_insertion_order": True,
            }
        )
        try:
            con.execute("SET TimeZone = 'UTC'").fetchall()  # a naive timestamp is UTC, as in the platform
            _register(con, events)
            features = derived_features(params)
            _check_columns(con, params, features)
            if ids is not None:
                con.register("__ids", pa.table({"id": ids if isinstance(ids, pa.Array) else pa.array(ids)}))
            yield con, feature_query(params, features, ids is not None)
        finally:
            con.close()


def _threads(params: dict[str, Any]) -> int:
    return int(derived_section(params).get("threads") or 2)


def _bounds(start: datetime | str | None, end: datetime | str | None) -> dict[str, int | None]:
    return {"start": _micros(start), "end": _micros(end)}


def _register(con: duckdb.DuckDBPyConnection, events: Any) -> None:
    """`events` as the view `__events`, with `__row`: an Arrow table's (or DataFrame's) row number, or the
    Parquet file's place in the list (high bits) and the row's in its file."""
    if isinstance(events, (str, Path)):
        events = [events]
    if isinstance(events, Sequence) and not isinstance(events, pa.Table):
        files = [str(p) for p in events]
        if not files:
            raise FeatureDataError("no events: give at least one Parquet file (the batch and its history)")
        listed = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
        con.execute(
            f"CREATE VIEW __events AS SELECT * EXCLUDE (__file, file_row_number), "
            f"(list_position({listed}, __file)::BIGINT << 40) + file_row_number AS __row "
            f"FROM read_parquet({listed}, filename = '__file', file_row_number = true)"
        ).fetchall()
        return
    table = events if isinstance(events, pa.Table) else pa.Table.from_pandas(events, preserve_index=False)
    con.register("__events", table.append_column("__row", pa.array(np.arange(table.num_rows))))


def _micros(moment: datetime | str | None) -> int | None:
    if moment is None:
        return None
    moment = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return (moment - EPOCH) // (datetime.min.replace(microsecond=1) - datetime.min)


def _check_columns(con: duckdb.DuckDBPyConnection, params: dict[str, Any], features: list[DerivedFeature]):
    """Every column the declarations read is in the events with a type that works; no derived name is
    already a column (it would be shadowed when the features join the rows); every event has a time."""
    types = {name: kind for name, kind, *_ in con.execute("DESCRIBE SELECT * FROM __events").fetchall()}
    model = params["model"]
    needed = {f"model.{k}": model[k] for k in ("id_column", "event_time") if model.get(k)}
    if any(f.kind == "label" for f in features):
        needed |= {f"model.{k}": model[k] for k in ("label", "label_time") if model.get(k)}
    for feature in features:
        needed |= {f"{feature.key}.entity": column for column in feature.entity}
        if feature.value:
            needed[f"{feature.key}.value"] = feature.value
    shown = ", ".join(c for c in types if c != "__row")
    for key, column in needed.items():
        if column not in types:
            raise FeatureDataError(f"{key}: column {column!r} is not in the events (they hold: {shown})")
    for key in ("event_time", "label_time"):
        column = needed.get(f"model.{key}")
        if column and not types[column].startswith("TIMESTAMP"):
            raise FeatureDataError(f"model.{key}: column {column!r} is {types[column]}, not a timestamp")
    for feature in features:
        value_type = types.get(feature.value or "", "")
        if (
            feature.value
            and feature.aggregation not in ("count", "distinct_count")
            and not (value_type.startswith(NUMERIC_TYPES))
        ):
            raise FeatureDataError(
                f"{feature.key}: {feature.aggregation} of {feature.value!r} needs numbers, the column is "
                f"{value_type}: aggregate a numeric column, or use count / distinct_count"
            )
        if feature.name in types:
            raise FeatureDataError(
                f"{feature.key}: the derived feature {feature.name!r} is already a column of the events: "
                "rename that column upstream, or drop the declaration"
            )
    time = quoted(model["event_time"])
    missing = con.execute(f"SELECT count(*) FROM __events WHERE {time} IS NULL").fetchall()[0][0]
    if missing:
        raise FeatureDataError(f"model.event_time: {missing} events have no {model['event_time']!r}")
