"""Batch scoring: one day's transactions (the source partition) scored by the deployed model(s), written as
one scores file per day with, for every row, the score, the decision and the version that decided.

Under shadow and canary both models score every row, so each row also carries the other model's score:
shadow's challenger never decides; canary's decides the rows of the customers in its share. A challenger
that fails to score never stops the day: its rows fall back to the champion and count as its errors.
"""

from __future__ import annotations

import io
import logging
import time
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from retrainer.core import layout
from retrainer.deployment.state import CANARY, versions_scoring
from retrainer.features.events import attach, features_of_rows
from retrainer.features.matrix import build_matrix
from retrainer.registry.store import Registry
from retrainer.scoring.health import peak_rss_mib, software_health
from retrainer.scoring.models import Scorer, ScoringError, load_scorer
from retrainer.scoring.split import canary_salt, in_share
from retrainer.sources.partitions import partition_key, read_partition
from retrainer.storage import KeyNotFound, Storage, sha256_bytes
from retrainer.storage.frames import read_verified

log = logging.getLogger(__name__)


def score_frame(
    frame: pd.DataFrame,
    champion: Scorer,
    challenger: Scorer | None = None,
    canary_share: float = 0.0,
    salt: str = "",
    id_column: str = "transaction_id",
    split_column: str = "customer_id",
) -> tuple[pd.DataFrame, dict]:
    """The scores of `frame`: one row per transaction, and what went wrong with the challenger, if anything.

    With a challenger and `canary_share` > 0, the customers whose stable hash falls in the share are decided
    by the challenger; otherwise the champion decides every row and the challenger's score is kept beside.
    The customers are the values of `split_column` (the model's `model.canary_column`, or its id column).
    """
    matrices: dict[str, np.ndarray] = {}

    def matrix(scorer: Scorer) -> np.ndarray:
        if scorer.features_key not in matrices:
            matrices[scorer.features_key] = build_matrix(frame, scorer.feature_params)
        return matrices[scorer.features_key]

    champion_score = champion.score(matrix(champion))
    if not np.isfinite(champion_score).all():
        raise ScoringError(f"champion v{champion.version} gave non-finite scores: refusing to decide with it")
    champion_decision = champion_score >= champion.threshold
    out = {
        id_column: frame[id_column].to_numpy(),
        split_column: frame[split_column].to_numpy(),
        "score": champion_score,
        "decision": champion_decision,
        "decided_by": np.full(len(frame), champion.version, dtype=np.int32),
        "champion_version": np.full(len(frame), champion.version, dtype=np.int32),
        "champion_score": champion_score,
        "champion_decision": champion_decision,
    }
    problem = None
    if challenger is not None:
        try:
            challenger_score = challenger.score(matrix(challenger))
        except Exception as error:  # any failure of the challenger must leave the champion deciding
            log.warning("challenger v%s failed to score: %s", challenger.version, error)
            problem = f"{type(error).__name__}: {error}"
            challenger_score = np.full(len(frame), np.nan, dtype=np.float32)
        ok = np.isfinite(challenger_score)
        challenger_decision = challenger_score >= challenger.threshold
        decides = ok & in_share(frame[split_column], salt, canary_share) if canary_share > 0 else None
        if decides is not None:
            out["score"] = np.where(decides, challenger_score, champion_score)
            out["decision"] = np.where(decides, challenger_decision, champion_decision)
            out["decided_by"] = np.where(decides, challenger.version, champion.version).astype(np.int32)
        out |= {
            "challenger_version": np.full(len(frame), challenger.version, dtype=np.int32),
            "challenger_score": challenger_score,
            "challenger_decision": np.where(ok, challenger_decision, False),
            "challenger_error": ~ok,
        }
    return pd.DataFrame(out), {"challenger_error": problem}


def read_day(source: Storage, day: date) -> pd.DataFrame:
    """The source partition of `day`; ScoringError if there is none."""
    try:
        raw = source.get_bytes(partition_key(day))
    except KeyNotFound:
        raise ScoringError(f"no source partition for {day} ({source.uri(partition_key(day))})") from None
    return read_partition(raw)


def read_day_inputs(
    source: Storage,
    day: date,
    params: dict[str, Any],
    champion: dict[str, Any],
    challenger: dict | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """The source partition of `day` with the derived features the champion's `features` section declares
    and, if it declares others, the challenger's, computed as training computed them: the same engine over
    the day's rows and the source partitions before it (`features.events.features_of_rows`); and the names
    of the columns computed. Features the challenger alone declares that cannot be computed leave the day
    to the champion (the challenger's matrix then fails, which counts as its error)."""
    frame = read_day(source, day)
    raw = set(frame.columns)
    before = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    frame = features_of_rows(frame, source, params, before, [champion])
    if challenger is not None and challenger.get("derived") != champion.get("derived"):
        try:
            frame = features_of_rows(frame, source, params, before, [challenger])
        except Exception as error:  # the challenger's declarations must never stop the champion's day
            log.warning("the challenger's derived features could not be computed: %s", error)
    return frame, [c for c in frame.columns if c not in raw]


def _write_features(storage: Storage, model: str, day: date, features: pd.DataFrame) -> dict | None:
    """The derived features a day was scored with, stored beside its scores (what the model saw, and what
    the day's report judges without computing them again); their URI and sha256."""
    if features.shape[1] < 2:  # the id alone: nothing was derived
        return None
    buffer = io.BytesIO()
    features.to_parquet(buffer, index=False)
    data = buffer.getvalue()
    uri = storage.put_bytes(layout.scores_file_key(model, day.isoformat(), layout.SCORE_FEATURES_FILE), data)
    return {"uri": uri, "sha256": sha256_bytes(data), "columns": list(features.columns[1:])}


def read_scored_inputs(source: Storage, storage: Storage, summary: dict, id_column: str) -> pd.DataFrame:
    """The rows a scored day was scored from (`summary` from `score_day`): its source partition, with the
    derived features stored beside its scores, read only if they hash to the sha256 the summary names
    (ChecksumMismatch otherwise)."""
    frame = read_day(source, date.fromisoformat(summary["day"]))
    if not (stored := summary.get("features")):
        return frame
    what = f"{stored['uri']} (the features {summary['day']} was scored with)"
    features = read_verified(storage, storage.key_of(stored["uri"]), stored["sha256"], what)
    return attach(frame, features.drop_duplicates(id_column).set_index(id_column), id_column)


def score_day(
    source: Storage, storage: Storage, registry: Registry, state: dict, day: date, params: dict[str, Any]
) -> tuple[pd.DataFrame, dict]:
    """Score `day` under the deployment `state`; writes `scores/<model>/date=<day>/scores.parquet`.

    Returns the scores and a summary for XCom: URI, rows, mode, versions, share, rows each version decided,
    the derived features it scored with (stored beside the scores: URI, sha256, columns; None for a model
    without any) and how the run went as software (seconds, rows per second, peak RSS, model load seconds).
    """
    started = time.perf_counter()
    roles = versions_scoring(state)
    loading = time.perf_counter()
    champion = load_scorer(registry, roles["champion"])
    challenger = None
    problem = None
    if "challenger" in roles:
        try:
            challenger = load_scorer(registry, roles["challenger"])
        except Exception as error:  # an unloadable challenger is an error of the challenger, not the day
            problem = f"{type(error).__name__}: {error}"
    load_seconds = time.perf_counter() - loading
    frame, derived = read_day_inputs(
        source, day, params, champion.feature_params, challenger and challenger.feature_params
    )
    share = state["share"] if state["mode"] == CANARY else 0
    salt = canary_salt(registry.model, roles["challenger"]) if "challenger" in roles else ""
    cols = params["model"]
    split_column = cols.get("canary_column") or cols["id_column"]
    scores, issues = score_frame(frame, champion, challenger, share, salt, cols["id_column"], split_column)
    if challenger is None and "challenger" in roles:  # it could not even load: every row is its error
        scores["challenger_version"] = np.int32(roles["challenger"])
        scores["challenger_score"] = np.float32(np.nan)
        scores["challenger_decision"] = False
        scores["challenger_error"] = True
    buffer = io.BytesIO()
    scores.to_parquet(buffer, index=False)
    key = layout.scores_file_key(registry.model, day.isoformat())
    computed = _write_features(storage, registry.model, day, frame[[cols["id_column"], *derived]])
    decided = scores["decided_by"].value_counts().sort_index()
    summary = {
        "day": day.isoformat(),
        "scores_uri": storage.put_bytes(key, buffer.getvalue()),
        "rows": len(scores),
        "mode": state["mode"],
        "deployment_revision": state["revision"],
        "champion": roles["champion"],
        "challenger": roles.get("challenger"),
        "share": share,
        "decided_by": {str(v): int(n) for v, n in decided.items()},
        "challenger_problem": problem or issues["challenger_error"],
        "features": computed,
    }
    seconds = time.perf_counter() - started
    summary["software"] = software_health(seconds, len(scores), peak_rss_mib(), load_seconds)
    return scores, summary


def read_scores(storage: Storage, model: str, day: date) -> pd.DataFrame | None:
    """The scores file of `day`, or None if that day was not scored."""
    try:
        raw = storage.get_bytes(layout.scores_file_key(model, day.isoformat()))
    except KeyNotFound:
        return None
    return pd.read_parquet(io.BytesIO(raw))
