import numpy as np
import pytest

from retrainer.deployment import actions
from retrainer.deployment.state import read
from retrainer.registry.store import Registry
from retrainer.scoring.batch import score_day, score_frame
from retrainer.scoring.models import load_scorer
from retrainer.scoring.split import buckets, in_share
from tests.deploy_helpers import champion_and_challenger, write_days


@pytest.fixture
def deployed(storage, source, params):
    registry = Registry(storage, "fraud-xgb")
    champion, challenger = champion_and_challenger(registry, params)
    days = write_days(source, 3)
    return registry, champion, challenger, days


def test_champion_mode_scores_every_row_with_the_champion(deployed, storage, source, params):
    registry, champion, _, days = deployed
    scores, summary = score_day(source, storage, registry, read(registry)[0], days[0], params)
    assert summary["scores_uri"].endswith("scores/fraud-xgb/date=2026-11-01/scores.parquet")
    assert (scores["decided_by"] == champion).all() and "challenger_score" not in scores
    threshold = registry.get(champion)["decision"]["threshold"]
    assert (scores["decision"] == (scores["score"] >= threshold)).all()
    assert scores["transaction_id"].is_unique and len(scores) == 600


def test_shadow_stores_both_scores_and_the_challenger_never_decides(deployed, storage, source, params):
    registry, champion, challenger, days = deployed
    actions.start_shadow(registry, challenger, "alice", "watch first")
    scores, summary = score_day(source, storage, registry, read(registry)[0], days[0], params)
    assert (scores["decided_by"] == champion).all()
    assert (scores["score"] == scores["champion_score"]).all()
    assert (scores["challenger_version"] == challenger).all()
    assert np.isfinite(scores["challenger_score"]).all()
    assert not np.allclose(scores["challenger_score"], scores["champion_score"])  # really another model
    assert summary["decided_by"] == {str(champion): 600}


def test_canary_share_is_a_stable_set_of_customers_across_days_and_ramps(deployed, storage, source, params):
    registry, champion, challenger, days = deployed
    actions.start_canary(registry, challenger, "alice", "5 %", params)
    by_day = [score_day(source, storage, registry, read(registry)[0], d, params)[0] for d in days[:2]]
    for scores in by_day:
        mine = scores["decided_by"] == challenger
        assert (scores.loc[mine, "score"] == scores.loc[mine, "challenger_score"]).all()
        assert (scores.loc[~mine, "score"] == scores.loc[~mine, "champion_score"]).all()
        # a customer meets one model
        assert scores.groupby("customer_id")["decided_by"].nunique().max() == 1
    first, second = ({*s.loc[s["decided_by"] == challenger, "customer_id"]} for s in by_day)
    both_days = {*by_day[0]["customer_id"]} & {*by_day[1]["customer_id"]}
    assert first & both_days == second & both_days and first  # the same customers on both days
    share = (by_day[0]["decided_by"] == challenger).mean()
    assert 0.01 < share < 0.12
    actions.ramp(registry, "bob", "good days", params)
    ramped, _ = score_day(source, storage, registry, read(registry)[0], days[2], params)
    at25 = {*ramped.loc[ramped["decided_by"] == challenger, "customer_id"]}
    assert 0.15 < (ramped["decided_by"] == challenger).mean() < 0.35
    assert (first | second) & {*ramped["customer_id"]} <= at25  # ramping only adds customers


def test_the_customer_hash_is_stable_and_the_share_is_monotone():
    ids = np.array([f"c{i:07d}" for i in range(20_000)])
    assert (buckets(ids, "s") == buckets(ids[::-1], "s")[::-1]).all()
    assert buckets(ids[:3], "s").tolist() == buckets(list(ids[:3]), "s").tolist()
    five, quarter = in_share(ids, "s", 5), in_share(ids, "s", 25)
    assert not (five & ~quarter).any() and abs(five.mean() - 0.05) < 0.01
    assert (in_share(ids, "other", 5) != five).any()  # each canary draws its own group


def test_a_challenger_that_fails_leaves_the_champion_deciding(deployed, storage, source, params):
    registry, champion, challenger, days = deployed
    from retrainer.sources.partitions import partition_key, read_partition

    frame = read_partition(source.get_bytes(partition_key(days[0])))
    good = load_scorer(registry, champion)
    broken = load_scorer(registry, challenger)
    object.__setattr__(broken, "feature_params", {"numeric": ["no_such_column"], "categorical": {}})
    scores, issues = score_frame(frame, good, broken, canary_share=50, salt="x")
    assert (scores["decided_by"] == champion).all() and scores["challenger_error"].all()
    assert "no_such_column" in issues["challenger_error"]
