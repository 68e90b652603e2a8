"""Learnt expectations: what each column usually looks like, learnt from the model's last validated batches
and written into its suite for review (`retrainer suite refresh`).

Per numeric feature of the raw contract, per batch: the quantiles, mean and standard deviation. Over the
batches, each statistic's lowest and highest value set its bounds:
- **critical**: the quartiles (25/50/75 %) within [lowest - 3 spreads, highest + 3 spreads], where a spread
  is the column's typical within-batch spread (the larger of its interquartile range and its standard
  deviation, median over the batches). No real week moves a quartile that far: a unit x24, amounts x100, two
  columns swapped. Quartiles, not the mean, so one big but legal value cannot stop a batch.
- **warning**: the 5/25/50/75/95 % quantiles, the mean and the standard deviation within [lowest - 3 d,
  highest + 3 d], d the statistic's week-to-week standard deviation (at least 2 % of a spread): a plausible
  shift a person should see.
A 0/1 column gets a warning band on its rate; a categorical feature a warning when a level seen in every
batch vanishes; the label a warning band on its rate. A counter (a column whose values only grow: ids, time
counters) is left out: its location moves every week by design.

Every learnt expectation carries `meta.learnt` (how its bounds were set, from which batches), so a refresh
replaces exactly these and keeps the hand-written ones; they are sorted by column, so `git diff` of a refresh
shows only bounds that moved.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

LEARNT = "learnt"  # the meta key of an expectation this module writes (and a refresh replaces)
CRITICAL_QUANTILES = [0.25, 0.5, 0.75]
WARNING_QUANTILES = [0.05, 0.25, 0.5, 0.75, 0.95]
CRITICAL_SPREADS = 3.0  # a quartile this many within-batch spreads beyond any batch seen: no real week
WARNING_DEVIATIONS = 3.0  # a statistic this many week-to-week deviations beyond any batch seen: a shift
MIN_DEVIATION = 0.02  # ... that deviation taken as at least this share of the column's spread
MIN_BATCHES = 3  # fewer batches say nothing about how weeks vary


def is_counter(values: pd.Series) -> bool:
    """A column whose values only grow along the batch (an id, a time counter): its range moves every week,
    so a learnt range or location would warn on every run."""
    values = values.dropna()
    if len(values) < 3 or not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    return bool(values.is_monotonic_increasing) and values.nunique() >= len(values) / 2


def _is_binary(values: pd.Series) -> bool:
    return pd.api.types.is_bool_dtype(values) or set(values.dropna().unique().tolist()) <= {0, 1}


def batch_profile(frame: pd.DataFrame, numeric: list[str], categorical: list[str], label: str | None) -> dict:
    """The statistics of one batch that learnt expectations are set from: per numeric column its quantiles
    (GX's 'nearest' interpolation, as the expectation computes them), mean, stdev and interquartile range,
    or its rate for a 0/1 column; per categorical column its levels; the label's rate."""
    profile: dict[str, Any] = {"numeric": {}, "binary": {}, "counters": [], "levels": {}}
    for column in numeric:
        values = frame[column].dropna()
        if values.empty:
            continue
        if _is_binary(values):
            profile["binary"][column] = float(values.astype(float).mean())
            continue
        if is_counter(frame[column]):
            profile["counters"].append(column)
            continue
        quantiles = values.quantile(WARNING_QUANTILES, interpolation="nearest")
        profile["numeric"][column] = {
            **{_q(q): float(v) for q, v in zip(WARNING_QUANTILES, quantiles, strict=True)},
            "mean": float(values.mean()),
            "stdev": float(values.std()),
            "iqr": float(quantiles[0.75] - quantiles[0.25]),
            "integer": bool(pd.api.types.is_integer_dtype(values)),
        }
    for column in categorical:
        profile["levels"][column] = sorted(str(v) for v in frame[column].dropna().unique())
    if label and label in frame.columns:
        profile["label_rate"] = float(frame[label].mean())
    return profile


def _q(q: float) -> str:
    return f"q{round(q * 100):02d}"


def _num(value: float) -> float:
    """A bound as a reviewer reads it: six significant digits."""
    return float(f"{value:.6g}")


def _band(values: list[float], deviation_floor: float) -> tuple[float, float, float]:
    """The lowest and highest of a statistic over the batches, and the margin added on each side."""
    deviation = float(pd.Series(values).std()) if len(values) > 1 else 0.0
    deviation = max(0.0 if math.isnan(deviation) else deviation, deviation_floor)
    return min(values), max(values), WARNING_DEVIATIONS * deviation


def _expectation(kind: str, column: str, severity: str, note: str, how: dict, **kwargs) -> dict:
    return {
        "type": kind,
        "kwargs": {"column": column, **kwargs},
        "severity": severity,
        "meta": {"notes": note, LEARNT: how},
    }


def learnt_expectations(profiles: list[dict], source: dict, label: str | None = None) -> list[dict]:
    """The learnt expectations of the batches profiled (`batch_profile`, one per batch, oldest first);
    `source` says which batches (`batches`, `from`, `to`: recorded in each expectation's meta); `label` is
    the label column. Sorted by column, then type and severity, so a refresh diffs line by line."""
    weeks = len(profiles)
    found: list[dict] = []
    counters = sorted({c for p in profiles for c in p["counters"]})
    numeric = sorted({c for p in profiles for c in p["numeric"]} - set(counters))
    for column in numeric:
        stats = [p["numeric"][column] for p in profiles if column in p["numeric"]]
        spread = float(pd.Series([max(s["iqr"], s["stdev"]) for s in stats]).median())
        if spread <= 0:
            continue  # a constant column: the contract's own no-constant expectation speaks for it
        margin = CRITICAL_SPREADS * spread
        # a column never negative in any batch (a count, an amount, a distance) keeps a floor of 0
        floor_at = 0.0 if all(s["q05"] >= 0 for s in stats) else -math.inf
        ranges = [
            [
                _num(max(floor_at, min(s[_q(q)] for s in stats) - margin)),
                _num(max(s[_q(q)] for s in stats) + margin),
            ]
            for q in CRITICAL_QUANTILES
        ]
        how = source | {
            "spread": _num(spread),
            "rule": f"min..max over the batches +- {CRITICAL_SPREADS:g} spreads (>= 0 if never negative)",
        }
        found.append(
            _expectation(
                "expect_column_quantile_values_to_be_between",
                column,
                "critical",
                f"{column}'s quartiles stay within {CRITICAL_SPREADS:g} typical spreads "
                f"({_num(spread):g}) of those of the last {weeks} validated batches: beyond that no real "
                "week goes (a unit x24, x100, a swapped column).",
                how,
                quantile_ranges={"quantiles": CRITICAL_QUANTILES, "value_ranges": ranges},
                # GX caches a column's quantiles by this argument but not by the quantiles asked for: the
                # two quantile expectations of a column must differ in it (both are pandas' 'nearest')
                allow_relative_error="nearest",
            )
        )
        floor = MIN_DEVIATION * spread
        if stats[0]["integer"]:
            floor = max(floor, 1 / WARNING_DEVIATIONS)  # a whole-number quantile moves by 1 at least
        value_ranges = []
        for q in WARNING_QUANTILES:
            low, high, pad = _band([s[_q(q)] for s in stats], floor)
            value_ranges.append([_num(max(floor_at, low - pad)), _num(high + pad)])
        rule = f"min..max over the batches +- {WARNING_DEVIATIONS:g} week-to-week standard deviations"
        found.append(
            _expectation(
                "expect_column_quantile_values_to_be_between",
                column,
                "warning",
                f"{column}'s quantiles within what the last {weeks} validated batches showed, widened "
                "by their week-to-week variation: outside means its distribution shifted.",
                source | {"rule": rule},
                quantile_ranges={"quantiles": WARNING_QUANTILES, "value_ranges": value_ranges},
            )
        )
        for statistic, kind in (
            ("mean", "expect_column_mean_to_be_between"),
            ("stdev", "expect_column_stdev_to_be_between"),
        ):
            low, high, pad = _band([s[statistic] for s in stats], MIN_DEVIATION * spread)
            found.append(
                _expectation(
                    kind,
                    column,
                    "warning",
                    f"{column}'s {statistic} was {_num(low):g} .. {_num(high):g} over the last {weeks} "
                    "validated batches.",
                    source | {"rule": rule},
                    min_value=_num(max(low - pad, 0.0 if statistic == "stdev" else floor_at)),
                    max_value=_num(high + pad),
                )
            )
    binary = sorted({c for p in profiles for c in p["binary"]} - set(counters))
    rates = [(c, [p["binary"][c] for p in profiles if c in p["binary"]], "rate of 1s") for c in binary]
    if label and profiles and all("label_rate" in p for p in profiles):
        rates.append((label, [p["label_rate"] for p in profiles], "label rate"))
    for column, values, what in rates:
        low, high, pad = _band(values, 0.0)
        pad = max(pad, 0.25 * high)  # a rare flag's rate is noisy week to week: a quarter of it at least
        found.append(
            _expectation(
                "expect_column_mean_to_be_between",
                column,
                "warning",
                f"{column}'s {what} was {_num(low):g} .. {_num(high):g} over the last {weeks} validated "
                "batches.",
                source | {"rule": f"min..max over the batches +- max({WARNING_DEVIATIONS:g} sd, 25 %)"},
                min_value=_num(max(0.0, low - pad)),
                max_value=_num(min(1.0, high + pad)),
            )
        )
    levels = sorted({c for p in profiles for c in p["levels"]})
    for column in levels:
        always = sorted(set.intersection(*(set(p["levels"].get(column, [])) for p in profiles)))
        if always:
            found.append(
                _expectation(
                    "expect_column_distinct_values_to_contain_set",
                    column,
                    "warning",
                    f"Every level of {column} seen in each of the last {weeks} validated batches: a level "
                    "that vanishes means an upstream system stopped sending it.",
                    source | {"rule": "levels present in every batch"},
                    value_set=always,
                )
            )
    return sorted(found, key=lambda e: (e["kwargs"]["column"], e["type"], e["severity"]))


def refresh_suite(
    suite_path: Path, profiles: list[dict], source: dict, label: str | None = None, run_keys: list[str] = ()
) -> dict:
    """Replace the learnt expectations of the suite at `suite_path` with those of `profiles` (oldest batch
    first, `source` as in `learnt_expectations`, `run_keys` the batches' runs, recorded in the suite's meta);
    every other expectation stays as it is, in its place. Returns what was written."""
    if len(profiles) < MIN_BATCHES:
        raise ValueError(
            f"{len(profiles)} validated batch(es) to learn from; a refresh needs at least {MIN_BATCHES} "
            "(validate more weeks first, or lower --weeks)"
        )
    suite = json.loads(suite_path.read_text())
    kept = [e for e in suite["expectations"] if LEARNT not in (e.get("meta") or {})]
    learnt = learnt_expectations(profiles, source, label)
    suite["expectations"] = kept + learnt
    suite.setdefault("meta", {})[LEARNT] = source | {
        "run_keys": list(run_keys),
        "expectations": len(learnt),
        "how": "retrainer suite refresh: bounds from the last validated batches; review the diff",
    }
    suite_path.write_text(json.dumps(suite, indent=2) + "\n")
    return {"suite": str(suite_path), "learnt": len(learnt), "kept": len(kept), **source}


def released_suite(suite_path: Path, folder: Path) -> Path:
    """A copy (in `folder`) of the suite at `suite_path` whose learnt expectations are warnings: what a batch
    a person released is judged by. Its shape (types, nulls, ranges, sets) must still hold; what it means
    (a shift no earlier week showed) the person accepted with a reason, and the next refresh learns it."""
    suite = json.loads(suite_path.read_text())
    for expectation in suite["expectations"]:
        if LEARNT in (expectation.get("meta") or {}):
            expectation["severity"] = "warning"
    copy = folder / suite_path.name
    copy.write_text(json.dumps(suite, indent=2))
    return copy


def learn_from_history(storage, params: dict, suite_path: Path, weeks: int) -> dict:
    """Refresh the suite at `suite_path` from the model's last `weeks` validated batches (read through
    `storage`, each checked against the sha256 its validation judged). Returns what was written."""
    from retrainer.data.catalogue import read_validated_frame, validated_manifests

    model = params["model"]
    manifests = validated_manifests(storage, model["name"])[-weeks:]
    numeric = list(params["features"]["numeric"])
    categorical = list(params["features"].get("categorical") or {})
    label = model.get("label")
    profiles = []
    for manifest in manifests:
        frame = read_validated_frame(storage, manifest)
        present = [c for c in numeric if c in frame.columns]
        profiles.append(batch_profile(frame, present, [c for c in categorical if c in frame.columns], label))
    source = {
        "batches": len(manifests),
        "from": manifests[0]["window_start"] if manifests else None,
        "to": manifests[-1]["window_end"] if manifests else None,
    }
    return refresh_suite(suite_path, profiles, source, label, [m["run_key"] for m in manifests])
