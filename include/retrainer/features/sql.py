"""The SQL of the feature engine (`features.engine`): one statement computing every declared feature of the
requested rows from the view `__events`, point in time as the engine's docstring states. Column names
come from the declarations, which are data: every one is quoted (`quoted`), never spliced in raw."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from retrainer.core.feature_declarations import DerivedFeature

US = 1_000_000  # microseconds per second: times are BIGINT microseconds since the epoch in every frame


def quoted(column: str) -> str:
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


def feature_query(params: dict[str, Any], features: list[DerivedFeature], by_ids: bool) -> str:
    """The one SQL statement: the events with their keys (ev), then one stage per entity (`_stages`), each
    a SELECT of that entity's window aggregates over the previous stage (one sort: PARTITION BY the entity
    ORDER BY time), carrying forward only what later stages and the result need. A label declaration's
    records (`_label_sql`) join its entity's stream, so that its running sums share that sort and need no
    join. The result: the requested rows, unordered, with `__row` (their place in the events) last."""
    model = params["model"]
    time = f"epoch_us(CAST({quoted(model['event_time'])} AS TIMESTAMPTZ))"
    requested = ["($start IS NULL OR __t >= $start)", "($end IS NULL OR __t < $end)"]
    if by_ids:
        requested.append(f"{quoted(model['id_column'])} IN (SELECT id FROM __ids)")
    entity_cols = sorted({c for f in features for c in f.entity})
    values = sorted({f.value for f in features if f.value})
    ev_columns = [
        "__row",
        f"{quoted(model['id_column'])} AS __id",
        f"{time} AS __t",
        *[f"{quoted(c)} AS {quoted('e:' + c)}" for c in entity_cols],
        *[f"{quoted(v)} AS {quoted('v:' + v)}" for v in values],
    ]
    if any(f.kind == "label" for f in features):
        if model.get("label_time"):
            arrived = f"epoch_us(CAST({quoted(model['label_time'])} AS TIMESTAMPTZ))"
            # greatest() skips nulls: a label that never arrived must stay null, not arrive with its event
            arrival = f"CASE WHEN {arrived} IS NULL THEN NULL ELSE greatest({arrived}, {time}) END"
        else:
            arrival = f"{time} + {int(model['label_delay_days']) * 86_400 * US}"
        ev_columns += [f"CAST({quoted(model['label'])} AS DOUBLE) = 1 AS __pos", f"{arrival} AS __a"]
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
            spec = f"PARTITION BY {', '.join(quoted('e:' + c) for c in entity)} ORDER BY {order} {frame}"
            return specs.setdefault(spec, f"w{first + len(specs)}")

        selected = []
        for feature in group:
            if feature.kind == "label":
                selected.append(
                    f"{_feature_sql(feature, params, over)} AS {quoted(feature.name + ':events')}"
                )
            else:
                selected.append(f"{_feature_sql(feature, params, over)} AS {quoted(feature.name)}")
                outputs[feature.name] = quoted(feature.name)
        records = []
        for key in labels:
            declared = [f for f in group if f.key == key]
            sums, columns, stream = _label_sql(f"l{len(ctes)}_{labels.index(key)}", declared, over)
            selected += sums
            outputs |= columns
            records += stream
        later = [f for _, g, _ in stages[index + 1 :] for f in g]
        keep = ["__row", "__id", "__t", "__out", *carried]
        keep += [quoted("e:" + c) for c in entity_cols if any(c in f.entity for f in later)]
        keep += [quoted("v:" + v) for v in values if any(v == f.value for f in later)]
        needed = (
            keep + [quoted("e:" + c) for c in entity] + [quoted("v:" + f.value) for f in group if f.value]
        )
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
    columns = [f"__id AS {quoted(model['id_column'])}"]
    columns += [f"{outputs[f.name]} AS {quoted(f.name)}" for f in features]
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
    nulls = " OR ".join(f"{quoted('e:' + c)} IS NULL" for c in entity)
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
    value = quoted("v:" + feature.value) if feature.value else None
    number = f"CAST({value} AS DOUBLE)" if value else None
    # The mean as sum / count: DuckDB computes a window expression given twice once, so the mean and the
    # ratio to it reuse the sum and count (about a third less work than avg() beside them). Sums are fsum
    # (compensated): a plain sum over DuckDB's segment tree depends, in its last bits, on how many rows the
    # partition holds, and a row must get the same value in a training window and in a scored day.
    mean = f"(fsum({number}) OVER {name} / count({value}) OVER {name})"
    expression = {
        "count": f"count({value or '__row'}) OVER {name}",
        "sum": f"fsum({number}) OVER {name}",
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
    parts = ", ".join(quoted("e:" + c) for c in entity)
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
        events = quoted(feature.name + ":events")
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
