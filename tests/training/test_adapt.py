"""A drift-triggered retraining learns from the drifted days: its matured rows are weighted toward the rows
younger than the horizon (checked weights, an unchanged scheduled fit), its lineage says what it was
trained on, its drift reference is the recent inputs it was adapted to; and what weighting gains on
generated covariate drift, measured against an unweighted retraining of the same run."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from retrainer.core import artifacts, layout
from retrainer.core.models import load_model
from retrainer.core.settings import Settings
from retrainer.registry.gate_report import write_sealed
from retrainer.registry.register import register_run
from retrainer.registry.store import Registry
from retrainer.scoring.health import training_reference
from retrainer.storage import ChecksumMismatch, open_storage, sha256_file
from retrainer.synthetic.generator import GeneratorConfig, generate_day
from retrainer.training import adapt, stages
from retrainer.training.models import load_fitted
from tests.conftest import PROJECT_DIR
from tests.core.test_models import project  # noqa: F401, F811 (a fixture: a copy of the configuration to break)
from tests.published_run import gate_report, publish_run

MODEL = "fraud-xgb"
AS_OF = datetime.fromisoformat("2026-11-16T00:00:00+00:00")


def _params(trigger: str | None, window_days: int = 35, rounds: int = 60) -> dict:
    params = copy.deepcopy(load_model(PROJECT_DIR, MODEL))
    params["data"]["training_window_days"] = window_days
    params["train"]["xgboost"]["n_estimators"] = rounds
    params["run"] = {"as_of": AS_OF.isoformat(), "trigger": trigger}
    return params


def _batches(directory: Path, days: int, config: GeneratorConfig, seed: int = 7) -> Path:
    """The window's days of generated transactions as the one file of a run's `data/batches`."""
    directory.mkdir(parents=True)
    first = (AS_OF - timedelta(days=days)).date()
    frame = pd.concat([generate_day(first + timedelta(days=n), seed, config) for n in range(days)])
    frame.to_parquet(directory / "window.parquet", index=False)
    return directory


def _run_stages(root: Path, batches: Path, params: dict) -> dict:
    """prepare, adapt and fit in a workspace of their own under `root`; the adapt stage's report (the
    fit's is `root / artifacts.FIT_REPORT`)."""
    root.mkdir(parents=True, exist_ok=True)
    prepared = root / artifacts.PREPARED_DIR
    stages.prepare(batches, prepared, root / artifacts.PREPARE_REPORT, params)
    report = adapt.adapt(batches, prepared, root / artifacts.ADAPTATION_DIR, params)
    fit_report = root / artifacts.FIT_REPORT
    stages.fit(prepared, root / artifacts.MODELS_DIR, params, root / artifacts.ADAPTATION_DIR, fit_report)
    return report


def _fit_report(root: Path) -> dict:
    return json.loads((root / artifacts.FIT_REPORT).read_text())


def _weighted_booster(root: Path, params: dict):
    """The weighted challenger a drift-triggered fit of `root` considered, fitted again as the fit does
    (the flattened weights; early stopping on the unweighted valid split), so its figures can be shown."""
    from retrainer.features import matrix
    from retrainer.training.models import train_xgboost
    from retrainer.training.weights import sample_weights

    prepared, adaptation = root / artifacts.PREPARED_DIR, root / artifacts.ADAPTATION_DIR
    x_train, y_train = stages._xy(prepared / "train.parquet", params)
    x_valid, y_valid = stages._xy(prepared / "valid.parquet", params)
    return train_xgboost(
        x_train,
        y_train,
        x_valid,
        y_valid,
        matrix.feature_names(params["features"]),
        params["train"]["xgboost"],
        params["train"]["seed"],
        sample_weights(adaptation, prepared, "train", params),
    )


@pytest.fixture(scope="module")
def drifted(tmp_path_factory) -> Path:
    """35 days of small generated days, the last 10 with strong covariate drift."""
    config = GeneratorConfig(
        rows_per_day=400, fraud_rate=0.03, customers=2000, data_drift=1.0, drift_start=date(2026, 11, 6)
    )
    return _batches(tmp_path_factory.mktemp("drifted") / "batches", 35, config)


def test_a_drift_triggered_run_weights_its_training_rows_toward_the_recent_rows(tmp_path, drifted):
    report = _run_stages(tmp_path / "drift", drifted, _params("drift"))
    assert report["weighted"] is True
    out = tmp_path / "drift" / artifacts.ADAPTATION_DIR
    weights = pd.read_parquet(out / "weights.parquet")
    recent = pd.read_parquet(out / "recent.parquet")
    prepare = json.loads((tmp_path / "drift" / artifacts.PREPARE_REPORT).read_text())
    # every train and valid row is weighted, the weights average 1; the recent rows are exactly those that
    # prepare left out as not matured, without their (not final) labels
    assert report["weights"]["rows"] == {s: prepare["splits"][s]["rows"] for s in ("train", "valid")}
    assert len(weights) == prepare["splits"]["train"]["rows"] + prepare["splits"]["valid"]["rows"]
    assert weights["weight"].mean() == pytest.approx(1.0, abs=1e-6) and weights["weight"].std() > 0.05
    # the fit's weights are the importance weights flattened (adaptation.flatten), both mean 1
    flatten = _params("drift")["adaptation"]["flatten"]
    assert 0 < flatten < 1 and report["weights"]["flatten"] == flatten
    flat = weights["importance"] ** flatten
    np.testing.assert_allclose(weights["weight"], flat / flat.mean(), rtol=1e-9)
    assert weights["importance"].mean() == pytest.approx(1.0, abs=1e-6)
    assert weights["weight"].std() < weights["importance"].std()
    assert report["weights"]["effective_sample_size"] > report["weights"]["summary"]["effective_sample_size"]
    assert len(recent) == prepare["rows_not_matured"] and "is_fraud" not in recent
    assert recent["event_ts"].min() >= pd.Timestamp(prepare["maturity_horizon"])
    assert report["weights"]["summary"]["auc"] > 0.6  # the drift is there for the classifier to see
    # the weighted training rows look like the recent ones: drifted features' weighted means move to theirs
    prepared = tmp_path / "drift" / artifacts.PREPARED_DIR
    rows = pd.concat([pd.read_parquet(prepared / f"{s}.parquet") for s in ("train", "valid")])
    for feature in ("device_risk_score", "amount", "tx_count_1h"):
        plain = rows[feature].mean()
        weighted = np.average(rows[feature], weights=weights["importance"])
        print(f"{feature}: matured {plain:.4g}, weighted {weighted:.4g}, recent {recent[feature].mean():.4g}")
        assert abs(weighted - recent[feature].mean()) < 2 / 3 * abs(plain - recent[feature].mean())
    assert report["weights"]["sha256"] == sha256_file(out / "weights.parquet")
    print(f"\nweights of a drift-triggered run: {json.dumps(report['weights'], default=str)}")


def test_tampered_weights_are_refused_by_the_fit(tmp_path, drifted):
    root = tmp_path / "drift"
    _run_stages(root, drifted, _params("drift"))
    path = root / artifacts.WEIGHTS
    weights = pd.read_parquet(path)
    weights["weight"] = np.where(weights["weight"] > 1, 10.0, 0.1)  # someone leaned the fit by hand
    weights.to_parquet(path, index=False)
    with pytest.raises(ChecksumMismatch, match="weights"):
        stages.fit(
            root / artifacts.PREPARED_DIR, root / "refit", _params("drift"), root / artifacts.ADAPTATION_DIR
        )
    assert not (root / "refit" / artifacts.MODEL_FILE).exists()


def test_a_scheduled_run_is_unweighted_and_fits_the_bytes_it_fitted_before(tmp_path, drifted):
    params = _params(None)
    report = _run_stages(tmp_path / "scheduled", drifted, params)
    assert report["weighted"] is False and "unweighted" in report["reason"]
    assert sorted(p.name for p in (tmp_path / "scheduled" / artifacts.ADAPTATION_DIR).iterdir()) == [
        "adaptation.json"
    ]
    # the fit as it was before the adapt stage existed: no adaptation directory at all
    prepared = tmp_path / "scheduled" / artifacts.PREPARED_DIR
    stages.fit(prepared, tmp_path / "before", params)
    for name in (artifacts.MODEL_FILE, artifacts.BASELINE_FILE):
        now = (tmp_path / "scheduled" / artifacts.MODELS_DIR / name).read_bytes()
        assert now == (tmp_path / "before" / name).read_bytes()
    report = _fit_report(tmp_path / "scheduled")
    trees = report.pop("challenger_trees")  # how many trees the saved challenger keeps, and why
    assert report.pop("calibration")["method"] == params["train"]["calibration"]  # fitted on valid
    # no search, no imbalance handling: the shipped defaults (training.tuning, training.imbalance)
    assert report.pop("imbalance")["applied"] is False and report.pop("tuning")["enabled"] is False
    assert report == {
        "weighted": False,
        "kept": "unweighted",
        "reason": "no weights (the adapt stage's report: unweighted): the unweighted fit",
    }
    saved = load_fitted(tmp_path / "scheduled" / artifacts.MODELS_DIR)[0]
    assert trees["trees"] == saved.num_boosted_rounds() <= trees["n_estimators"] == 60
    assert trees["why"].startswith(f"kept {trees['trees']} of 60 trees") or trees["trees"] == 60


def test_a_drift_run_keeps_the_weighted_model_only_if_its_importance_weighted_valid_pr_auc_is_not_lower(
    tmp_path, drifted
):
    """Both challengers are fitted; the one kept is the one the importance-weighted valid PR-AUC prefers,
    and the other one's figures are in the fit report beside it."""
    from sklearn.metrics import average_precision_score

    root, params = tmp_path / "drift", _params("drift")
    _run_stages(root, drifted, params)
    report = _fit_report(root)
    print(f"\nfit report of a drift-triggered run: {json.dumps(report, indent=1)}")
    stages.fit(root / artifacts.PREPARED_DIR, tmp_path / "unweighted", _params(None))
    unweighted = (tmp_path / "unweighted" / artifacts.MODEL_FILE).read_bytes()
    weighted = _weighted_booster(root, params)
    # the figures are the two models' average precision on the valid rows weighing their importance
    valid = pd.read_parquet(root / artifacts.prepared("valid"))
    importance = pd.read_parquet(root / artifacts.WEIGHTS).query("split == 'valid'")["importance"]
    x_valid, y_valid = stages._xy(root / artifacts.prepared("valid"), params)
    assert len(valid) == len(importance) == report["valid_rows"]
    expected = average_precision_score(y_valid, weighted.inplace_predict(x_valid), sample_weight=importance)
    assert report["iw_pr_auc"]["weighted"] == pytest.approx(expected, rel=1e-6)
    assert report["trees"]["weighted"] == weighted.num_boosted_rounds()
    kept = (root / artifacts.MODEL).read_bytes()
    gain = report["iw_pr_auc"]["weighted"] - report["iw_pr_auc"]["unweighted"]
    assert report["gain"] == pytest.approx(gain) and report["gain_standard_error"] > 0
    assert report["min_gain_se"] == params["adaptation"]["min_gain_se"] > 0
    if gain >= report["min_gain_se"] * report["gain_standard_error"]:
        assert report["kept"] == "weighted" and report["weighted"] is True
        assert kept == bytes(weighted.save_raw(raw_format="ubj")) and kept != unweighted
    else:
        assert report["kept"] == "unweighted" and report["weighted"] is False
        assert kept == unweighted  # the scheduled fit's bytes: nothing of the weights left in it
    assert f"{report['iw_pr_auc']['weighted']:.4f}" in report["reason"]


class _Scorer:
    """A stand-in booster: its scores are given."""

    def __init__(self, scores: np.ndarray):
        self.scores = scores

    def inplace_predict(self, x: np.ndarray) -> np.ndarray:
        return self.scores[: len(x)]

    def num_boosted_rounds(self) -> int:
        return 1


def test_the_weighted_fit_is_kept_only_when_it_wins_by_more_than_the_noise_of_the_estimate():
    """A weighted model that ranks the rows the recent inputs resemble (high importance) better is kept;
    a gain smaller than its standard errors is not; a margin of 0 is plain IWCV (kept unless lower)."""
    from retrainer.training.selection import choose

    rng = np.random.default_rng(0)
    n = 4000
    y = (rng.random(n) < 0.05).astype(int)
    importance = np.where(np.arange(n) % 2 == 0, 1.8, 0.2)  # the even rows look like the recent ones
    noise = rng.normal(0, 1, n)
    unweighted = _Scorer(y + noise)
    good_where_it_counts = np.where(importance > 1, y * 3 + noise, y + noise)
    x = np.zeros((n, 1))
    settings = {"flatten": 0.5, "min_gain_se": 1.0}
    kept, report = choose(unweighted, _Scorer(good_where_it_counts), x, y, importance, settings, 7)
    assert report["kept"] == "weighted" and kept.scores is good_where_it_counts
    assert report["gain"] > report["gain_standard_error"] > 0
    alike = _Scorer(y + rng.normal(0, 1, n))  # as good, other noise: any gain is the estimate's noise
    kept, report = choose(unweighted, alike, x, y, importance, settings | {"min_gain_se": 3.0}, 7)
    assert abs(report["gain"]) < 3 * report["gain_standard_error"] and report["kept"] == "unweighted"
    assert kept is unweighted and "kept over the weighted one" in report["reason"]
    kept, report = choose(unweighted, alike, x, y, importance, settings | {"min_gain_se": 0.0}, 7)
    assert (kept is alike) is (report["gain"] >= 0) is (report["kept"] == "weighted")
    kept, report = choose(unweighted, alike, x, y[:0], importance[:0], settings, 7)  # nothing to judge by
    assert kept is unweighted and report["kept"] == "unweighted" and "iw_pr_auc" not in report


def test_adaptation_can_be_switched_off_and_says_so(tmp_path, drifted):
    params = _params("drift")
    params["adaptation"]["enabled"] = False
    report = _run_stages(tmp_path / "off", drifted, params)
    assert report["weighted"] is False and "adaptation.enabled false" in report["reason"]


def _published(tmp_path: Path, drifted: Path, trigger: str | None) -> tuple[Settings, Registry, dict]:
    """A run of the stages published as train_run publishes it, gated and registered; its version."""
    settings = Settings.from_env({"RETRAINER_VAR_DIR": str(tmp_path / "var")})
    storage = open_storage(settings.storage_root)
    params = _params(trigger)
    root = tmp_path / "ws"
    adaptation = _run_stages(root, drifted, params)
    run_key = "2026-11-16T000000Z"
    files = {name: f"{name} of {run_key}".encode() for name in artifacts.PUBLISHED}
    names = [artifacts.MODEL, artifacts.prepared("valid"), artifacts.prepared("holdout")]
    names += [artifacts.ADAPTATION_REPORT, *(artifacts.ADAPTED if adaptation["weighted"] else ())]
    files |= {name: (root / name).read_bytes() for name in names}
    files["params.yaml"] = yaml.safe_dump(params).encode()
    files["dvc.lock"] = b"stages: {}\n"
    metrics = {"challenger": {"pr_auc": 0.58, "recall_at_fpr": 0.5}}
    run = publish_run(storage, MODEL, run_key, files, metrics)
    # what train_run records beside the files: the prepare and adapt stages' reports
    run["prepare"] = json.loads((root / artifacts.PREPARE_REPORT).read_text())
    run["window"] = run["prepare"]["window"]
    run["adaptation"] = adaptation
    run["fit"] = _fit_report(root)
    run_uri = run.pop("manifest_uri")
    storage.put_text(layout.run_file_key(MODEL, run_key, layout.MANIFEST_FILE), json.dumps(run))
    gates = gate_report(
        run_key,
        files[artifacts.MODEL],
        metrics,
        [{"name": "min_pr_auc", "verdict": "passed", "passed": True}],
    )
    gates["slices"] = {"rows": []}
    gates_uri, _ = write_sealed(storage, MODEL, run_key, gates)
    for name in (layout.REPORT_MD, layout.REPORT_HTML):
        storage.put_text(layout.run_file_key(MODEL, run_key, name), "report")
    registered = register_run(settings, storage, run_uri, gates_uri, "asset_triggered__test")
    registry = Registry(storage, MODEL)
    return settings, registry, registry.get(registered["version"])


def test_the_lineage_says_which_rows_weights_horizon_and_reference_a_version_was_trained_with(
    tmp_path, drifted
):
    _, registry, record = _published(tmp_path, drifted, "drift")
    trained_on = record["trained_on"]
    print(f"\nlineage of a drift-triggered version: {json.dumps(trained_on, indent=1, default=str)}")
    assert trained_on["trigger"] == "drift"
    # which challenger was kept, both figures and why: the fit's report, as the run recorded it
    selection = trained_on["selection"]
    assert selection == _fit_report(tmp_path / "ws")
    assert set(selection["iw_pr_auc"]) == {"weighted", "unweighted"}
    assert trained_on["weighted"] is selection["weighted"] and selection["reason"] in trained_on["why"]
    assert trained_on["window"]["end"] == AS_OF.isoformat()
    assert trained_on["maturity_horizon"] == (AS_OF - timedelta(days=21)).isoformat()
    rows = trained_on["rows"]
    assert rows["labelled"] + rows["not_matured"] + rows["label_pending"] == rows["in_window"]
    weights = trained_on["weights"]
    assert set(weights["summary"]) >= {"auc", "clip", "clipped_share", "effective_sample_size", "seed"}
    assert weights["rows"]["train"] == rows["splits"]["train"]["rows"] and len(weights["sha256"]) == 64
    reference = trained_on["reference"]
    assert reference["kind"] == "recent inputs" and reference["rows"] == rows["not_matured"]
    assert reference["start"] == trained_on["maturity_horizon"] and reference["end"] == AS_OF.isoformat()
    # the person asked to approve it reads the same
    from retrainer.deployment.approval import summary_markdown

    body = summary_markdown(registry, record["version"])
    print(f"approval form: {body}")
    assert f"weighted toward the {rows['not_matured']} rows younger than the horizon" in body
    iw = selection["iw_pr_auc"]
    assert f"importance-weighted valid PR-AUC {iw['weighted']:.3f} weighted, {iw['unweighted']:.3f}" in body
    assert ("kept over the unweighted fit" in body) is selection["weighted"]
    assert ("was not kept" in body) is not selection["weighted"]


def test_a_scheduled_version_says_it_was_trained_unweighted(tmp_path, drifted):
    _, registry, record = _published(tmp_path, drifted, None)
    trained_on = record["trained_on"]
    assert trained_on["weighted"] is False and trained_on["weights"] is None
    assert trained_on["selection"] is None
    assert "unweighted" in trained_on["why"]
    from retrainer.deployment.approval import summary_markdown

    body = summary_markdown(registry, record["version"])
    assert "unweighted; drift reference" in body and "its validation and holdout rows" in body
    assert trained_on["reference"]["kind"] == "validation and holdout splits"


def test_an_adapted_version_is_monitored_against_the_recent_inputs_it_was_adapted_to(tmp_path, drifted):
    _, registry, record = _published(tmp_path, drifted, "drift")
    reference = training_reference(registry, record["version"])
    recent = pd.read_parquet(tmp_path / "ws" / artifacts.RECENT)
    pd.testing.assert_frame_equal(reference, recent)
    assert reference["event_ts"].min() >= pd.Timestamp(record["trained_on"]["maturity_horizon"])
    # the stored rows are checked against the sha256 the run recorded
    run = json.loads(registry.storage.get_text(registry.storage.key_of(record["run_manifest_uri"])))
    registry.storage.put_bytes(registry.storage.key_of(run["files"][artifacts.RECENT]["uri"]), b"tampered")
    with pytest.raises(ChecksumMismatch):
        training_reference(registry, record["version"])


def test_a_scheduled_version_is_still_monitored_against_its_validation_and_holdout_rows(tmp_path, drifted):
    _, registry, record = _published(tmp_path, drifted, None)
    reference = training_reference(registry, record["version"])
    splits = [pd.read_parquet(tmp_path / "ws" / artifacts.prepared(s)) for s in ("valid", "holdout")]
    assert len(reference) == sum(len(s) for s in splits) and "is_fraud" in reference


def _judge(root: Path, frame: pd.DataFrame, params: dict) -> dict:
    """The challenger's and the baseline's figures on `frame` with its final labels."""
    from retrainer.evaluation.metrics import classification_metrics
    from retrainer.features.matrix import build_matrix

    booster, baseline = load_fitted(root / artifacts.MODELS_DIR)
    x, y = build_matrix(frame, params["features"]), frame["is_fraud"].to_numpy()
    fpr = params["evaluate"]["fpr_target"]
    return {
        "challenger": classification_metrics(y, booster.inplace_predict(x), fpr),
        "baseline": classification_metrics(y, baseline.predict(x), fpr),
    }


TOLERANCE = 0.02  # PR-AUC the kept model may lose to an unweighted retraining on the matured drifted days


@pytest.mark.parametrize(
    ("seed", "drift"), [(11, 1.0), (11, 0.5), (12, 0.5)], ids=["drift-1.0", "drift-0.5", "drift-0.5-seed-12"]
)
def test_measured_the_kept_drift_retraining_is_never_much_worse_than_an_unweighted_one(tmp_path, seed, drift):
    """Generated covariate drift from 14 days before the run; the run's window holds 56 days, the last 21
    unmatured. The drift-triggered fit (weighted and unweighted challengers, one kept by importance-
    weighted validation), the weighted challenger it considered, and an unweighted retraining of the same
    prepared rows are judged on the drifted days (the 14 before the run and the 14 after it) with the
    labels those days have once matured. All figures are printed; the test asserts what a user relies
    on: the version a drift-triggered run keeps is not worse than the unweighted retraining by more than
    TOLERANCE PR-AUC, whether or not weighting helps."""
    drift_start = (AS_OF - timedelta(days=14)).date()
    config = GeneratorConfig(rows_per_day=1500, data_drift=drift, drift_start=drift_start)
    batches = _batches(tmp_path / "batches", 56, config, seed=seed)
    drift_params, unweighted_params = _params("drift", 56, 400), _params(None, 56, 400)
    report = _run_stages(tmp_path / "drift", batches, drift_params)
    fit = _fit_report(tmp_path / "drift")
    prepared = tmp_path / "drift" / artifacts.PREPARED_DIR
    stages.fit(prepared, tmp_path / "unweighted" / "models", unweighted_params)
    weighted = _weighted_booster(tmp_path / "drift", drift_params)
    assert weighted.num_boosted_rounds() == fit["trees"]["weighted"]  # the challenger the fit considered
    judged_days = [drift_start + timedelta(days=n) for n in range(28)]
    judged = pd.concat([generate_day(day, seed, config) for day in judged_days], ignore_index=True)
    figures = {
        "kept": _judge(tmp_path / "drift", judged, drift_params),
        "unweighted": _judge(tmp_path / "unweighted", judged, unweighted_params),
    }
    from retrainer.evaluation.metrics import classification_metrics
    from retrainer.features.matrix import build_matrix

    scores = weighted.inplace_predict(build_matrix(judged, drift_params["features"]))
    fpr = drift_params["evaluate"]["fpr_target"]
    figures["weighted"] = {"challenger": classification_metrics(judged["is_fraud"].to_numpy(), scores, fpr)}
    summary, weights = report["weights"]["summary"], report["weights"]
    print(
        f"\ncovariate drift (data_drift={drift} from {drift_start}, seed {seed}), run at {AS_OF.date()}: "
        f"{weights['rows']} matured rows weighted toward {report['recent']['rows']} recent rows; "
        f"domain AUC {summary['auc']:.3f}, importance ESS {summary['effective_sample_size']:.0f}, "
        f"clipped {summary['clipped_share']:.4f}; fit weights = importance ** {weights['flatten']}, "
        f"ESS {weights['effective_sample_size']:.0f}\n"
        f"IWCV on {fit['valid_rows']} valid rows (importance ESS {fit['valid_effective_sample_size']:.0f}): "
        f"weighted {fit['iw_pr_auc']['weighted']:.4f}, unweighted {fit['iw_pr_auc']['unweighted']:.4f} "
        f"(plain valid PR-AUC {fit['valid_pr_auc']['weighted']:.4f} / "
        f"{fit['valid_pr_auc']['unweighted']:.4f}; "
        f"trees {fit['trees']['weighted']} / {fit['trees']['unweighted']}); gain {fit['gain']:+.4f}, "
        f"standard error {fit['gain_standard_error']:.4f}, kept from {fit['min_gain_se']:g} SE up "
        f"-> kept {fit['kept']}\n"
        f"judged on {len(judged)} rows of {len(judged_days)} drifted days ({int(judged['is_fraud'].sum())} "
        "positives), labels matured:"
    )
    for version, models in figures.items():
        for name, m in models.items():
            print(
                f"  {version:<10} {name:<10} PR-AUC {m['pr_auc']:.4f}  recall@FPR1% {m['recall_at_fpr']:.4f}"
            )
    kept, plain = figures["kept"]["challenger"], figures["unweighted"]["challenger"]
    print(
        f"  kept - unweighted PR-AUC {kept['pr_auc'] - plain['pr_auc']:+.4f}; weighted - unweighted "
        f"{figures['weighted']['challenger']['pr_auc'] - plain['pr_auc']:+.4f}"
    )
    assert summary["auc"] > 0.6 and report["weighted"]  # the drift is there, and the run weighed it
    assert kept["pr_auc"] >= plain["pr_auc"] - TOLERANCE


def test_the_train_task_tells_the_pipeline_a_drift_triggered_run_from_a_scheduled_one(monkeypatch):
    from types import SimpleNamespace

    from retrainer.tasks import retrain as tasks
    from tests.conftest import week

    seen = []

    def train_run(settings, storage, params, end, source=None, trigger=None):
        seen.append((end.isoformat(), trigger))
        return {"manifest_uri": "u", "data_hash": "h", "adaptation": {"weighted": trigger == "drift"}} | {
            "metrics": {"challenger": {"pr_auc": 0.5}, "baseline": {"pr_auc": 0.4}}
        }

    monkeypatch.setattr(tasks, "train_run", train_run)
    evidence = (SimpleNamespace(extra={"as_of": "2026-11-26T06:00:00+00:00"}),)
    drift = tasks.Run(
        run_id="asset_triggered__x", run_after="2026-12-02T09:00:00+00:00", consumed_asset_events=evidence
    )
    assert tasks.train(drift, None, MODEL)["weighted"] is True
    assert tasks.train(tasks.Run(*week("2026-11-16T00:00:00+00:00")), None, MODEL)["weighted"] is False
    # a follow-up (the labels-matured event alone) trains on matured labels: not drift, unweighted
    request = SimpleNamespace(
        asset=SimpleNamespace(uri=f"retrainer://labels-matured/{MODEL}"),
        extra={"follows_up": 3, "as_of": "2026-12-17T06:00:00+00:00"},
    )
    follow_up = tasks.Run(
        run_id="asset_triggered__y", run_after="2026-12-17T09:00:00+00:00", consumed_asset_events=(request,)
    )
    assert tasks.train(follow_up, None, MODEL)["weighted"] is False
    assert seen == [
        ("2026-11-26T00:00:00+00:00", "drift"),
        ("2026-11-16T00:00:00+00:00", None),
        ("2026-12-17T00:00:00+00:00", None),
    ]


def test_the_adaptation_settings_make_a_drift_triggered_version_and_only_that():
    from retrainer.registry.register import idempotency_key

    run = {"run_key": "2026-11-16T000000Z", "data_hash": "abc.dir"}

    def clipped(params: dict, clip: float) -> dict:
        return {**params, "adaptation": {**params["adaptation"], "clip": clip}}

    drift, scheduled = _params("drift"), _params(None)
    assert idempotency_key(MODEL, run, clipped(drift, 3.0)) != idempotency_key(MODEL, run, drift)
    assert idempotency_key(MODEL, run, clipped(scheduled, 3.0)) == idempotency_key(MODEL, run, scheduled)
    assert idempotency_key(MODEL, run, drift) != idempotency_key(MODEL, run, scheduled)


def test_a_typod_or_out_of_range_adaptation_setting_is_named_with_its_file(project):  # noqa: F811
    from tests.core.test_models import FRAUD, edit, problems

    edit(project, lambda p: p.update(adaptation={"clp": 5.0}))
    assert problems(project) == [f"{FRAUD}: adaptation.clp: unknown key (did you mean clip?)"]
    edit(project, lambda p: p.update(adaptation={"clip": 0.5}))
    assert problems(project) == [f"{FRAUD}: adaptation.clip: expected greater than or equal to 1, got 0.5"]
    edit(project, lambda p: p.update(adaptation={"flatten": 1.5}))
    assert problems(project) == [f"{FRAUD}: adaptation.flatten: expected less than or equal to 1, got 1.5"]
