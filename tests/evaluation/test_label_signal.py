"""A week whose labels carry no signal passes its contract, and is quarantined when its labels mature:
the champion ranks its rows far worse than the other weeks', and a model fitted on the week itself cannot
learn them either, before the week enters training. A week of a new fraud pattern, which the champion ranks
just as badly but whose labels are learnable, is kept and trained on."""

from datetime import date, timedelta

import pytest

from retrainer.core.clock import window_bounds
from retrainer.data import quarantine
from retrainer.data.catalogue import validated_manifests
from retrainer.data.extract import extract_batch
from retrainer.data.validate import validate_batch
from retrainer.evaluation.label_signal import EXPECTATION, screen_matured_batches
from retrainer.features import matrix
from retrainer.registry.aliases import CHAMPION
from retrainer.registry.store import Registry
from retrainer.sources.partitions import partition_key
from retrainer.synthetic import GeneratorConfig, generate, generate_day, partition_bytes
from retrainer.training.models import train_xgboost
from retrainer.training.window import assemble_window
from tests.conftest import AS_OF, PROJECT_DIR

SUITE = PROJECT_DIR / "expectations" / "transactions.json"
BAD_WEEK = tuple(date(2026, 10, 12) + timedelta(days=i) for i in range(7))  # batch 2026-10-19T000000Z
NEW_PATTERN_WEEK = tuple(date(2026, 10, 5) + timedelta(days=i) for i in range(7))  # batch 2026-10-12T000000Z
WEEK_ENDS = [date(2026, 9, 28) + timedelta(days=7 * i) for i in range(8)]  # 09-28 .. 11-16


def _champion(storage, params):
    """A champion fitted on clean weeks before the training window (as if registered weeks ago)."""
    import pandas as pd

    days = [date(2026, 8, 1) + timedelta(days=i) for i in range(28)]
    frame = pd.concat([generate_day(d, 11, GeneratorConfig(rows_per_day=800)) for d in days])
    names = matrix.feature_names(params["features"])
    x, y = matrix.build_matrix(frame, params["features"]), frame["is_fraud"].to_numpy()
    cut = int(len(y) * 0.8)
    xgb_params = params["train"]["xgboost"] | {"n_estimators": 120}
    booster = train_xgboost(x[:cut], y[:cut], x[cut:], y[cut:], names, xgb_params, 1)
    registry = Registry(storage, params["model"]["name"])
    raw = bytes(booster.save_raw("ubj"))
    record, _ = registry.register({"model.ubj": raw}, {"params": params}, "test-champion")
    registry.set_alias(CHAMPION, record["version"], "test", "fixture", expected=None)


def _validated_weeks(root, params, new_pattern: bool = False):
    """Eight validated weekly batches of the training window before AS_OF; one week's labels shuffled and,
    with `new_pattern`, another week's frauds following a new pattern (wallet velocity attacks)."""
    from retrainer.storage import open_storage

    source, storage = open_storage(root / "source"), open_storage(root / "storage")
    config = GeneratorConfig(rows_per_day=400, broken="label_shuffle", broken_days=BAD_WEEK)
    generate(
        source, WEEK_ENDS[0] - timedelta(days=7), WEEK_ENDS[-1] - timedelta(days=1), seed=7, config=config
    )
    if new_pattern:
        # that week only: the labels follow a relation between features the champion never saw
        drifted = GeneratorConfig(rows_per_day=400, concept_drift=2.0, drift_start=NEW_PATTERN_WEEK[0])
        for day in NEW_PATTERN_WEEK:
            source.put_bytes(partition_key(day), partition_bytes(day, 7, drifted))
    for end in WEEK_ENDS:
        manifest = extract_batch(source, storage, params["model"]["name"], *window_bounds(end.isoformat(), 7))
        # labels without signal pass the contract: the fraud rate, values and times are all in order
        assert validate_batch(storage, manifest["manifest_uri"], SUITE, params["validation"])["success"]
    return storage


@pytest.fixture(scope="module")
def weeks(tmp_path_factory, params_module):
    """Eight validated weekly batches of the training window before AS_OF; one week's labels shuffled."""
    return _validated_weeks(tmp_path_factory.mktemp("labels"), params_module)


@pytest.fixture(scope="module")
def drifted_weeks(tmp_path_factory, params_module):
    """The same eight weeks, one with shuffled labels and one of a new fraud pattern."""
    return _validated_weeks(tmp_path_factory.mktemp("drifted"), params_module, new_pattern=True)


@pytest.fixture(scope="module")
def params_module():
    from retrainer.core.models import load_model

    return load_model(PROJECT_DIR, "fraud-xgb")


def test_without_a_champion_nothing_is_judged(weeks, params_module):
    assert screen_matured_batches(weeks, params_module, AS_OF)["note"] == "no champion yet"


def test_a_week_whose_labels_carry_no_signal_is_quarantined_before_training(weeks, params_module):
    model = params_module["model"]["name"]
    _champion(weeks, params_module)
    result = screen_matured_batches(weeks, params_module, AS_OF)

    assert result["quarantined"] == ["2026-10-19T000000Z"]
    judged = {j["run_key"]: j for j in result["judged"]}
    # only batches whose labels have matured (window ended 21 days before AS_OF) are judged
    assert set(judged) == {f"{d.isoformat()}T000000Z" for d in WEEK_ENDS if d <= date(2026, 10, 26)}
    bad = judged["2026-10-19T000000Z"]
    assert bad["roc_auc"] < 0.7 < 0.85 < bad["others_roc_auc"]
    assert all(j["passed"] for k, j in judged.items() if k != "2026-10-19T000000Z")

    # quarantined with a reason naming both numbers; training's catalogue no longer offers it
    reason = quarantine.reason(weeks, model, "2026-10-19T000000Z")
    assert reason["stage"] == "labels"
    assert [e["by"] for e in quarantine.events(weeks, model) if e["action"] == "quarantined"] == [
        "check_labels"
    ]
    [failure] = reason["failures"]
    assert failure["expectation"] == EXPECTATION and failure["column"] == "is_fraud"
    assert failure["expected"]["others_roc_auc"] > failure["observed"]["roc_auc"]
    assert "2026-10-19T000000Z" not in {m["run_key"] for m in validated_manifests(weeks, model)}
    assert len(validated_manifests(weeks, model)) == 7

    # a second look judges the rest again and quarantines nothing more
    assert screen_matured_batches(weeks, params_module, AS_OF)["quarantined"] == []


def test_a_week_of_a_new_fraud_pattern_is_trained_on_and_shuffled_labels_are_still_quarantined(
    drifted_weeks, params_module, tmp_path
):
    model, rules = params_module["model"]["name"], params_module["labels"]
    shuffled, new_pattern = "2026-10-19T000000Z", "2026-10-12T000000Z"
    _champion(drifted_weeks, params_module)
    result = screen_matured_batches(drifted_weeks, params_module, AS_OF)
    judged = {j["run_key"]: j for j in result["judged"]}

    # the champion ranks both weeks far below the others: on its numbers alone they look the same
    for key in (shuffled, new_pattern):
        assert judged[key]["roc_auc"] < judged[key]["others_roc_auc"] - rules["max_roc_auc_drop"]
        assert not judged[key]["passed"]
    # ...but only the shuffled week is quarantined: the new pattern's is kept, reported as concept change
    assert result["quarantined"] == [shuffled]
    assert result["concept_change"] == [new_pattern]
    # a model fitted on each week itself tells them apart: shuffled labels are not learnable, new frauds are
    assert judged[shuffled]["self_roc_auc"] < rules["min_self_roc_auc"] <= judged[new_pattern]["self_roc_auc"]
    assert judged[shuffled]["verdict"] == "label noise"
    assert judged[new_pattern]["verdict"] == "concept change"
    reason = quarantine.reason(drifted_weeks, model, shuffled)
    assert reason["failures"][0]["observed"]["self_roc_auc"] == pytest.approx(
        judged[shuffled]["self_roc_auc"], abs=1e-4
    )
    with pytest.raises(quarantine.NotQuarantined):
        quarantine.reason(drifted_weeks, model, new_pattern)

    # training's window holds the new pattern's week, rows and all, and not the shuffled one
    window = assemble_window(drifted_weeks, model, AS_OF, params_module, tmp_path / "window.parquet")
    used = {b["run_key"]: b["rows_used"] for b in window["batches"]}
    assert shuffled not in used
    assert used[new_pattern] > 0


def test_the_self_check_is_seeded_bounded_and_needs_two_folds_of_each_class(params_module):
    """Fitted on a week's own rows: the same answer twice, still telling the two apart when the rows are
    capped far below the week's, and no answer (the champion's verdict stands) without two positives."""
    import pandas as pd

    from retrainer.evaluation.label_signal import self_roc_auc

    def week(config):
        return pd.concat([generate_day(d, 7, config) for d in BAD_WEEK])

    shuffled = week(GeneratorConfig(rows_per_day=400, broken="label_shuffle", broken_days=BAD_WEEK))
    new_pattern = week(GeneratorConfig(rows_per_day=400, concept_drift=2.0, drift_start=BAD_WEEK[0]))
    capped = params_module | {"labels": params_module["labels"] | {"self_check_max_rows": 1000}}
    floor = params_module["labels"]["min_self_roc_auc"]

    assert self_roc_auc(shuffled, "is_fraud", capped) == self_roc_auc(shuffled, "is_fraud", capped)
    assert self_roc_auc(shuffled, "is_fraud", capped) < floor <= self_roc_auc(new_pattern, "is_fraud", capped)
    one_fraud = new_pattern.assign(is_fraud=0)
    one_fraud.iloc[0, one_fraud.columns.get_loc("is_fraud")] = 1
    assert self_roc_auc(one_fraud, "is_fraud", params_module) is None
