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
  arrival), so each label aggregate is a running sum over positives only (`_label_sql`).
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

US = 1_000_000  # microseconds per second: times are BIGINT microseconds since the epoch in every frame
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
            yield con, _query(params, features, ids is not None)
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
    time = _q(model["event_time"])
    missing = con.execute(f"SELECT count(*) FROM __events WHERE {time} IS NULL").fetchall()[0][0]
    if missing:
        raise FeatureDataError(f"model.event_time: {missing} events have no {model['event_time']!r}")


def _q(column: str) -> str:
    """A column name quoted for SQL (declared names are data, never spliced in raw)."""
    return '"' + column.replace('"', '""') + '"'


def _us(delta) -> int:
    return delta // (datetime.min.replace(microsecond=1) - datetime.min)


def _frame(low_us: int, high_us: int | None) -> str:
    """A RANGE frame over event-time microseconds: from `low_us` before the row to `high_us` before it
    (None: the row and its peers). Both bounds are inclusive: (t - w, t] is `w - 1` to CURRENT ROW."""
    high = "CURRENT ROW" if not high_us else f"{high_us} PRECEDING"
    return f"RANGE BETWEEN {low_us} PRECEDING AND {high}"


# Aggregates whose value does not depend on how DuckDB splits a frame (integers, or one of the values): their
# stage may also hold the rows of a label declaration's stream. A float sum (sum, mean, std) is summed in an
# order set by the rows' places in the partition, so it keeps a stage of its own events only.
EXACT = ("count", "min", "max", "distinct_count", "seconds_since_previous")


def _query(params: dict[str, Any], features: list[DerivedFeature], by_ids: bool) -> str:
    """The one SQL statement: the events with their keys (ev), then one stage per entity (`_stages`), each
    a SELECT of that entity's window aggregates over the previous stage (one sort: PARTITION BY the entity
    ORDER BY time), carrying forward only what later stages and the result need. A label declaration's
    records (`_label_sql`) join its entity's stream, so that its running sums share that sort and need no
    join. The result: the requested rows, unordered, with `__row` (their place in the events) last."""
    model = params["model"]
    time = f"epoch_us(CAST({_q(model['event_time'])} AS TIMESTAMPTZ))"
    requested = ["($start IS NULL OR __t >= $start)", "($end IS NULL OR __t < $end)"]
    if by_ids:
        requested.append(f"{_q(model['id_column'])} IN (SELECT id FROM __ids)")
    entity_cols = sorted({c for f in features for c in f.entity})
    values = sorted({f.value for f in features if f.value})
    ev_columns = [
        "__row",
        f"{_q(model['id_column'])} AS __id",
        f"{time} AS __t",
        *[f"{_q(c)} AS {_q('e:' + c)}" for c in entity_cols],
        *[f"{_q(v)} AS {_q('v:' + v)}" for v in values],
    ]
    if any(f.kind == "label" for f in features):
        if model.get("label_time"):
            arrived = f"epoch_us(CAST({_q(model['label_time'])} AS TIMESTAMPTZ))"
            # greatest() skips nulls: a label that never arrived must stay null, not arrive with its event
            arrival = f"CASE WHEN {arrived} IS NULL THEN NULL ELSE greatest({arrived}, {time}) END"
        else:
            arrival = f"{time} + {int(model['label_delay_days']) * 86_400 * US}"
        ev_columns += [f"CAST({_q(model['label'])} AS DOUBLE) = 1 AS __pos", f"{arrival} AS __a"]
    ev_columns.append(f"({' AND '.join(requested)}) AS __out")
    ctes = [f"ev AS (SELECT {', '.join(ev_columns)} FROM __events)"]

    stages = _stages(features)
    outputs: dict[str, str] = {}  # each output column -> its expression over the last stage
    carried: list[str] = []  # the columns computed so far that the result needs
    previous, windows = "ev", 0
    for index, (entity, group, labels) in enumerate(stages):
        order = "__k" if labels else "__t"
        specs: dict[str, str] = {}  # window text -> its name in this stage's WINDOW clause

        def over(entity: tuple[str, ...], frame: str, order=order, specs=specs, first=windows) -> str:
            spec = f"PARTITION BY {', '.join(_q('e:' + c) for c in entity)} ORDER BY {order} {frame}"
            return specs.setdefault(spec, f"w{first + len(specs)}")

        selected = []
        for feature in group:
            if feature.kind == "label":
                selected.append(f"{_feature_sql(feature, params, over)} AS {_q(feature.name + ':events')}")
            else:
                selected.append(f"{_feature_sql(feature, params, over)} AS {_q(feature.name)}")
                outputs[feature.name] = _q(feature.name)
        records = []
        for key in labels:
            declared = [f for f in group if f.key == key]
            sums, columns, stream = _label_sql(f"l{len(ctes)}_{labels.index(key)}", declared, over)
            selected += sums
            outputs |= columns
            records += stream
        later = [f for _, g, _ in stages[index + 1 :] for f in g]
        keep = ["__row", "__id", "__t", "__out", *carried]
        keep += [_q("e:" + c) for c in entity_cols if any(c in f.entity for f in later)]
        keep += [_q("v:" + v) for v in values if any(v == f.value for f in later)]
        needed = keep + [_q("e:" + c) for c in entity] + [_q("v:" + f.value) for f in group if f.value]
        source = (
            f"SELECT {', '.join(dict.fromkeys(needed))}{', __t AS __k' if labels else ''} FROM {previous}"
        )
        if index and stages[index - 1][2]:
            source += " WHERE __row IS NOT NULL"  # the previous stage's label records end there
        source = " UNION ALL BY NAME ".join([source, *records])
        names = [s.rsplit(" AS ", 1)[1] for s in selected]
        window_clause = ", ".join(f"{name} AS ({spec})" for spec, name in specs.items())
        windows += len(specs)
        ctes.append(
            f"s{index} AS (SELECT {', '.join(dict.fromkeys(keep))}, {', '.join(selected)} FROM ({source})"
            f"{' WINDOW ' + window_clause if window_clause else ''})"
        )
        carried += names
        previous = f"s{index}"
    for feature in features:
        if feature.kind == "calendar":
            outputs[feature.name] = _calendar_sql(feature, params)
    columns = [f"__id AS {_q(model['id_column'])}"]
    columns += [f"{outputs[f.name]} AS {_q(f.name)}" for f in features]
    return f"WITH {', '.join(ctes)} SELECT {', '.join(columns)}, __row FROM {previous} WHERE __out"


def _stages(features: list[DerivedFeature]) -> list[tuple[tuple[str, ...], list[DerivedFeature], list[str]]]:
    """The features computed per entity, as stages (entity, features, the label declarations whose records
    join its stream). An entity's label declarations share its stage when its other aggregates are exact
    (`EXACT`), else they have a stage of their own."""
    by_entity: dict[tuple[str, ...], list[DerivedFeature]] = {}
    for feature in features:
        if feature.entity:
            by_entity.setdefault(feature.entity, []).append(feature)
    stages = []
    for entity, group in by_entity.items():
        labels = list(dict.fromkeys(f.key for f in group if f.kind == "label"))
        plain = [f for f in group if f.kind != "label"]
        if labels and not _exact(plain):
            stages += [(entity, plain, []), (entity, [f for f in group if f.kind == "label"], labels)]
        else:
            stages.append((entity, group, labels))
    # A float sum over a frame depends on the order of simultaneous events in the sort, which follows the
    # order the stage reads its rows in: the stage with such sums that holds the most features reads the
    # events as they come (the order DuckDB itself gives one SELECT's windows), and the exact stages, whose
    # values no order changes, come last, the smallest first (each sort carries the earlier outputs).
    return sorted(
        stages, key=lambda stage: (_exact(stage[1]), len(stage[1]) * (1 if _exact(stage[1]) else -1))
    )


def _exact(features: list[DerivedFeature]) -> bool:
    return all(f.kind == "label" or f.aggregation in EXACT for f in features)


def _guard(entity: tuple[str, ...], expression: str) -> str:
    """`expression`, or null where the row's entity is null (null is no entity)."""
    nulls = " OR ".join(f"{_q('e:' + c)} IS NULL" for c in entity)
    return f"CASE WHEN {nulls} THEN NULL ELSE {expression} END"


def _calendar_sql(feature: DerivedFeature, params: dict[str, Any]) -> str:
    """A calendar feature of the event time (`__t`, microseconds) in the model's time zone."""
    zone = params["schedule"]["timezone"].replace("'", "''")
    local = f"timezone('{zone}', CAST(make_timestamp(__t) AS TIMESTAMPTZ))"
    return {
        "hour": f"CAST(hour({local}) AS TINYINT)",
        "weekday": f"CAST(isodow({local}) - 1 AS TINYINT)",
        "weekend": f"CAST(isodow({local}) >= 6 AS TINYINT)",
        "night": f"CAST(hour({local}) < 6 AS TINYINT)",
    }[feature.aggregation]


def _feature_sql(feature: DerivedFeature, params: dict[str, Any], over) -> str:
    """The SQL of one feature over its stage (label aggregates: the frame count of their window's events).
    Rows are counted as non-null `__row`s: a label record in the stream has none."""
    if feature.kind == "since_previous":
        name = over(feature.entity, _frame(_us(feature.window) - 1, 1))
        return _guard(feature.entity, f"(__t - max(__t) OVER {name}) / {US}.0")
    if feature.kind == "label":
        low = _us(feature.offset + feature.window) - 1
        name = over(feature.entity, _frame(low, _us(feature.offset)))
        return _guard(feature.entity, f"count(__row) OVER {name}")
    name = over(feature.entity, _frame(_us(feature.window) - 1, None))
    value = _q("v:" + feature.value) if feature.value else None
    number = f"CAST({value} AS DOUBLE)" if value else None
    # The mean as sum / count: DuckDB computes a window expression given twice once, so the mean and the
    # ratio to it reuse the sum and count (about a third less work than avg() beside them).
    mean = f"(sum({number}) OVER {name} / count({value}) OVER {name})"
    expression = {
        "count": f"count({value or '__row'}) OVER {name}",
        "sum": f"sum({number}) OVER {name}",
        "mean": mean,
        "std": f"stddev_samp({number}) OVER {name}",
        "min": f"CAST(min({number}) OVER {name} AS DOUBLE)",
        "max": f"CAST(max({number}) OVER {name} AS DOUBLE)",
        "distinct_count": f"count(DISTINCT {value}) OVER {name}",
        "ratio_to_mean": f"{number} / nullif({mean}, 0)",
    }[feature.aggregation]
    return _guard(feature.entity, expression)


def _label_sql(
    prefix: str, features: list[DerivedFeature], over
) -> tuple[list[str], dict[str, str], list[str]]:
    """One label declaration: a running sum per boundary b of F(b) over its entity's stream, where each
    positive event with an arrival adds one record per b (key `__k`: its event time + b - 1 if its label
    takes less than b to arrive, else its arrival; weight 1 in its column `<prefix>_<i>`); the events
    themselves have no weight. The frame "every earlier key" is `key < t`, so at an event at t
    F(b) = #{positives with event time <= t - b and label arrived < t}. Returns the stage's sums, each
    feature's output expression over the last stage, and the records' SELECTs."""
    entity = features[0].entity
    parts = ", ".join(_q("e:" + c) for c in entity)
    bounds = sorted({_us(f.offset) for f in features} | {_us(f.offset + f.window) for f in features})
    frame = "RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING"
    name = over(entity, frame)
    sums = [f"sum({prefix}_{i}) OVER {name} AS {prefix}_{i}" for i in range(len(bounds))]
    records = []
    for i, bound in enumerate(bounds):
        key = f"CASE WHEN __a - __t < {bound} THEN __t + {bound - 1} ELSE __a END" if bound else "__a"
        weights = ", ".join(f"{int(i == j)} AS {prefix}_{j}" for j in range(len(bounds)))
        records.append(f"SELECT {parts}, {key} AS __k, {weights} FROM ev WHERE __pos AND __a IS NOT NULL")
    columns = {}
    for feature in features:
        events = _q(feature.name + ":events")
        first, last = bounds.index(_us(feature.offset)), bounds.index(_us(feature.offset + feature.window))
        positives = f"CAST(coalesce({prefix}_{first} - {prefix}_{last}, 0) AS BIGINT)"
        if feature.aggregation == "count":
            columns[feature.name] = f"CASE WHEN {events} IS NULL THEN NULL ELSE {positives} END"
        else:
            columns[feature.name] = (
                f"CASE WHEN {events} IS NULL THEN NULL WHEN {events} >= {int(feature.min_count)} "
                f"THEN {positives} / {events} ELSE CAST({float(feature.default)!r} AS DOUBLE) END"
            )
    return sums, columns, records
