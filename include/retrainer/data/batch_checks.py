"""Checks of a batch that need more than its rows: volume against recent batches, re-sent data, time zones,
days missing from the source.

They report in the same `Failure` shape as the suite, so one reason file and one error list name them all.
"""

from __future__ import annotations

import math
import statistics

from retrainer.core.clock import as_utc
from retrainer.data.contracts import Failure


def _window_days(manifest: dict) -> float:
    span = as_utc(manifest["window_end"]) - as_utc(manifest["window_start"])
    return span.total_seconds() / 86_400


def volume_floor(manifest: dict, history: list[dict], rules: dict) -> dict:
    """The fewest rows this batch may have: more than (1 - max_volume_drop) of what the median of the last
    `recent_batches` validated batches before it delivered per day of window; at least 1 without history."""
    earlier = [m for m in history if m["run_key"] < manifest["run_key"]][-rules["recent_batches"] :]
    evidence = {"min_rows": 1, "recent_runs": [m["run_key"] for m in earlier]}
    if not earlier:
        return evidence
    per_day = statistics.median(m["rows"] / _window_days(m) for m in earlier)
    expected = per_day * _window_days(manifest)
    floor = (1 - rules["max_volume_drop"]) * expected
    return evidence | {
        # round first: 0.1 * 2400 is 239.99999999999997 in floating point, and a 90% drop must fail
        "min_rows": max(1, math.floor(round(floor, 6)) + 1),
        "median_rows_per_day": per_day,
        "expected_rows": round(expected, 1),
        "max_volume_drop": rules["max_volume_drop"],
    }


def duplicate_failures(manifest: dict, history: list[dict]) -> list[Failure]:
    """A batch, or a day of it, with the same rows as another batch or another day: a re-sent delivery.

    The same day read again by an overlapping window is not a duplicate; the same rows under another day
    or as another whole batch are.
    """
    observed = []
    for other in history:
        if manifest.get("content_sha256") and manifest["content_sha256"] == other.get("content_sha256"):
            observed.append(f"whole batch = batch of run {other['run_key']}")
    seen: dict[str, list[str]] = {}
    for other in [*history, manifest]:
        for p in other.get("partitions", []):
            if p["rows"]:
                seen.setdefault(p["content_sha256"], []).append(f"{p['key']} (run {other['run_key']})")
    for p in manifest.get("partitions", []):
        same = [where for where in seen.get(p["content_sha256"], []) if not where.startswith(p["key"] + " ")]
        if p["rows"] and same:
            observed.append(f"{p['key']} = {same[0]}")
    if not observed:
        return []
    return [
        Failure(
            "expect_batch_content_to_be_new",
            "critical",
            None,
            observed,
            {"content_sha256": "different from every other day and every validated batch"},
        )
    ]


def time_zone_failures(manifest: dict, rules: dict) -> list[Failure]:
    """Timestamp columns that arrived in another time zone than the contract's, or with none (naive)."""
    wrong: dict[str, dict[str, str]] = {}
    for p in manifest.get("partitions", []):
        for column, zone in p.get("time_zones", {}).items():
            if zone != rules["time_zone"]:
                wrong.setdefault(column, {})[p["key"]] = zone or "none (naive local time)"
    return [
        Failure(
            "expect_column_time_zone_to_be", "critical", column, by_file, {"time_zone": rules["time_zone"]}
        )
        for column, by_file in wrong.items()
    ]


def missing_day_failures(manifest: dict) -> list[Failure]:
    """Days of the window with no source partition that extract let through (`data.missing_days: warn`):
    reported as a warning, so the gap is named in the task log and in `validation.json`."""
    missing = manifest.get("missing_days") or []
    if not missing:
        return []
    return [
        Failure(
            "expect_source_partition_for_every_day",
            "warning",
            None,
            missing,
            {"window_start": manifest["window_start"], "window_end": manifest["window_end"]},
        )
    ]
