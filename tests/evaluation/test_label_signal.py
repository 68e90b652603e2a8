"""A week whose labels carry no signal passes its contract, and is quarantined when its labels mature:
the champion ranks its rows far worse than the other weeks', before the week enters training."""

from datetime import date, timedelta

import pytest

from retrainer.core.clock import window_bounds
from retrainer.data import quarantine
from retrainer.data.catalogue import validated_manifests
from retrainer.data.extract import extract_batch
from retrainer.data.validate import validate_batch
from retrainer.evaluation.label_signal import EXPECTATION, screen_matured_batches
from retrainer.registry.aliases import CHAMPION
from retrainer.registry.store import Registry
from retrainer.synthetic import GeneratorConfig, generate, generate_day
from retrainer.training import features
from retrainer.training.models import train_xgboost
from tests.conftest import AS_OF, PROJECT_DIR

SUITE = PROJECT_DIR / "expectations" / "transactions.json"
BAD_WEEK = tuple(date(2026, 10, 12) + timedelta(days=i) for i in range(7))  # batch 2026-10-19T000000Z
WEEK_ENDS = [date(2026, 9, 28) + timedelta(days=7 * i) for i in range(8)]  # 09-28 .. 11-16


def _champion(storage, params):
    """A champion fitted on clean weeks before the training window (as if registered weeks ago)."""
    import pandas as pd

    days = [date(2026, 8, 1) + timedelta(days=i) for i in range(28)]
    frame = pd.concat([generate_day(d, 11, GeneratorConfig(rows_per_day=800)) for d in days])
    names = features.feature_names(params["features"])
    x, y = features.build_matrix(frame, params["features"]), frame["is_fraud"].to_numpy()
    cut = int(len(y) * 0.8)
    xgb_params = params["train"]["xgboost"] | {"n_estimators": 120}
    booster = train_xgboost(x[:cut], y[:cut], x[cut:], y[cut:], names, xgb_params, 1)
    registry = Registry(storage, params["model"]["name"])
    raw = bytes(booster.save_raw("ubj"))
    record, _ = registry.register({"model.ubj": raw}, {"params": params}, "test-champion")
    registry.set_alias(CHAMPION, record["version"], "test", "fixture", expected=None)


@pytest.fixture(scope="module")
def weeks(tmp_path_factory, params_module):
    """Eight validated weekly batches of the training window before AS_OF; one week's labels shuffled."""
    from retrainer.storage import open_storage

    root = tmp_path_factory.mktemp("labels")
    source, storage = open_storage(root / "source"), open_storage(root / "storage")
    config = GeneratorConfig(rows_per_day=400, broken="label_shuffle", broken_days=BAD_WEEK)
    generate(
        source, WEEK_ENDS[0] - timedelta(days=7), WEEK_ENDS[-1] - timedelta(days=1), seed=7, config=config
    )
    for end in WEEK_ENDS:
        manifest = extract_batch(
            source, storage, params_module["model"]["name"], *window_bounds(end.isoformat(), 7)
        )
        # labels without signal pass the contract: the fraud rate, values and times are all in order
        assert validate_batch(storage, manifest["manifest_uri"], SUITE, params_module["validation"])[
            "success"
        ]
    return storage


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
