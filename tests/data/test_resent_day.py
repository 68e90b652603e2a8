"""A day re-sent under new ids is named (issue 28, item 2): the rows of a day, ids and timestamps aside,
against every other day of the batch and of the validated batches; clean days never collide."""

from __future__ import annotations

import itertools
import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from retrainer.data.resent import day_sketch, resent_day_failures, share_of_rows_in
from retrainer.synthetic import GeneratorConfig, generate_day
from retrainer.synthetic.logins import generate_logins_day

IDS, TIME = ["transaction_id"], "event_ts"
RULES = {"resent_day_share": 0.5}
FIRST = date(2026, 9, 7)


def _day(day: date, rows: int = 800, seed: int = 7) -> pd.DataFrame:
    return generate_day(day, seed, GeneratorConfig(rows_per_day=rows))


def _resent(frame: pd.DataFrame, day: date, seed: int = 1) -> pd.DataFrame:
    """`frame` sent again as `day`'s file: new ids, times moved to that day and up to 20 s off."""
    rng = np.random.default_rng(seed)
    moved = pd.Timestamp(day, tz="UTC") - frame[TIME].dt.floor("D")
    moved += pd.to_timedelta(rng.integers(-20, 21, size=len(frame)), unit="s")
    return frame.assign(
        transaction_id=[f"tx-new-{i}" for i in range(len(frame))],
        event_ts=frame[TIME] + moved,
        label_available_at=frame["label_available_at"] + moved,
    )


def _manifest(run_key: str, days: dict[date, pd.DataFrame], **extra) -> dict:
    """A manifest as extract writes it, with the partitions' sketches."""
    return {
        "run_key": run_key,
        "partitions": [
            {"key": f"date={d}/transactions.parquet", "day": d.isoformat(), "rows": len(f)}
            | {"resend": day_sketch(f, IDS, TIME)}
            for d, f in days.items()
        ],
        **extra,
    }


def test_clean_days_never_repeat_one_another():
    """Ninety clean days of card transactions (two seeds) and sixty of logins: no pair shares a row."""
    sketches = [day_sketch(_day(FIRST + timedelta(d), seed=s), IDS, TIME) for s in (7, 8) for d in range(45)]
    logins = [
        day_sketch(generate_logins_day(FIRST + timedelta(d), 11, 2000, 0.01), ["login_id"], "login_ts")
        for d in range(60)
    ]
    for group in (sketches, logins):
        shares = [share_of_rows_in(a, b) for a, b in itertools.permutations(group, 2)]
        judged = [s for s in shares if s is not None]
        print(f"{len(group)} clean days, {len(judged)} ordered pairs judged, largest share {max(judged)}")
        assert len(judged) == len(shares) and max(judged) < 0.05
        assert all(s["distinct"] == s["rows"] for s in group)  # every row tells itself apart without its id


def test_a_week_of_clean_days_after_clean_weeks_is_not_a_resent_day():
    weeks = {
        f"run{w}": {FIRST + timedelta(7 * w + d): _day(FIRST + timedelta(7 * w + d), 300) for d in range(7)}
        for w in range(4)
    }
    history = [_manifest(key, days) for key, days in list(weeks.items())[:3]]
    assert resent_day_failures(_manifest("run3", weeks["run3"]), history, RULES) == []


def test_a_day_resent_under_new_ids_and_moved_times_is_named_with_the_day_and_batch_it_repeats():
    earlier = {FIRST + timedelta(d): _day(FIRST + timedelta(d)) for d in range(7)}
    week = {FIRST + timedelta(7 + d): _day(FIRST + timedelta(7 + d)) for d in range(7)}
    thursday = FIRST + timedelta(10)
    week[thursday] = _resent(earlier[FIRST + timedelta(2)], thursday)  # last week's Wednesday, again
    assert not set(week[thursday]["transaction_id"]) & set(earlier[FIRST + timedelta(2)]["transaction_id"])
    [failure] = resent_day_failures(_manifest("this", week), [_manifest("last", earlier)], RULES)
    print(failure.describe())
    assert failure.expectation == "resent_day" and failure.severity == "critical"
    assert failure.observed == {
        thursday.isoformat(): "repeats 2026-09-09 of batch last: 100% of its 800 rows"
    }
    assert failure.expected["resent_day_share"] == 0.5


def test_a_day_resent_within_its_own_batch_names_the_earlier_day():
    week = {FIRST + timedelta(d): _day(FIRST + timedelta(d)) for d in range(7)}
    week[FIRST + timedelta(4)] = _resent(week[FIRST + timedelta(3)], FIRST + timedelta(4))
    [failure] = resent_day_failures(_manifest("this", week), [], RULES)
    # the later day repeats the earlier one, never the other way round
    assert list(failure.observed) == ["2026-09-11"] and "repeats 2026-09-10 of batch this" in str(failure)


@pytest.mark.parametrize(("resent_share", "named"), [(0.8, True), (0.3, False)])
def test_a_day_partly_resent_is_named_from_the_configured_share(resent_share, named):
    """Part of an earlier day's rows mixed into a day's own: estimated from 128 hashes per day."""
    monday, tuesday = FIRST, FIRST + timedelta(1)
    again = _resent(_day(monday), tuesday).sample(frac=resent_share, random_state=3)
    own = _day(tuesday).sample(n=round(len(again) * (1 - resent_share) / resent_share), random_state=4)
    mixed = pd.concat([again, own], ignore_index=True)
    share = share_of_rows_in(day_sketch(mixed, IDS, TIME), day_sketch(_day(monday), IDS, TIME))
    print(f"{resent_share:.0%} of the day re-sent: estimated {share:.0%}")
    assert abs(share - resent_share) < 0.15
    failures = resent_day_failures(
        _manifest("this", {tuesday: mixed}), [_manifest("last", {monday: _day(monday)})], RULES
    )
    assert bool(failures) is named


def test_the_same_day_read_again_by_an_overlapping_window_is_not_resent():
    days = {FIRST + timedelta(d): _day(FIRST + timedelta(d), 300) for d in range(7)}
    assert resent_day_failures(_manifest("backfill", days), [_manifest("weekly", days)], RULES) == []


def test_a_released_resent_day_stays_visible_as_a_warning():
    week = {FIRST + timedelta(d): _day(FIRST + timedelta(d), 300) for d in range(2)}
    week[FIRST + timedelta(1)] = _resent(week[FIRST], FIRST + timedelta(1))
    released = _manifest("this", week, released={"by": "alice", "why": "the source replays Mondays"})
    [failure] = resent_day_failures(released, [], RULES)
    assert failure.severity == "warning" and failure.expectation == "resent_day"


def test_days_whose_rows_repeat_without_their_ids_are_not_judged():
    """Coarse rows (a few categories) repeat within a day: without ids nothing tells a re-send apart."""
    coarse = pd.DataFrame({"transaction_id": range(500), "channel": ["web", "pos"] * 250})
    other = coarse.assign(transaction_id=range(500, 1000))
    manifest = _manifest("this", {FIRST: coarse, FIRST + timedelta(1): other})
    assert manifest["partitions"][0]["resend"]["distinct"] == 2
    assert resent_day_failures(manifest, [], RULES) == []


def test_a_quarantined_resent_day_released_with_a_reason_passes_and_keeps_its_warning(tmp_path):
    """Stopped as `resent_day` (a person sees which day it repeats), then released by a person who knows
    the repeat is real: the batch passes, and `validation.json` keeps the finding as a warning."""
    from retrainer.core.clock import window_bounds
    from retrainer.core.models import load_model
    from retrainer.data.contracts import BatchRejected
    from retrainer.data.extract import extract_batch
    from retrainer.data.release import release
    from retrainer.data.validate import validate_batch
    from retrainer.storage import open_storage
    from retrainer.synthetic import generate
    from tests.conftest import AS_OF, PROJECT_DIR

    suite, rules = PROJECT_DIR / "expectations" / "transactions.json", load_model(PROJECT_DIR, "fraud-xgb")
    rules = rules["validation"]
    source, storage = open_storage(tmp_path / "source"), open_storage(tmp_path / "storage")
    thursday = date(2026, 11, 12)
    broken = GeneratorConfig(rows_per_day=300, broken="resent_day", broken_days=(thursday,))
    generate(source, date(2026, 11, 9), date(2026, 11, 15), seed=7, config=broken)
    manifest = extract_batch(source, storage, "m", *window_bounds(AS_OF, 7), id_columns=IDS)
    with pytest.raises(BatchRejected, match="resent_day") as stopped:
        validate_batch(storage, manifest["manifest_uri"], suite, rules)
    assert "'2026-11-12': 'repeats 2026-11-11 of batch 2026-11-16T000000Z: 100% of its 300 rows'" in str(
        stopped.value
    )
    released = release(
        storage, source, "m", "2026-11-16T000000Z", suite, rules, "Thursday replays Wednesday", "ana"
    )
    assert released["action"] == "released" and released["warnings"] == 1
    report = json.loads(storage.get_text(storage.key_of(released["validation_uri"])))
    assert [(w["expectation"], w["severity"]) for w in report["warnings"]] == [("resent_day", "warning")]
