"""The engine sorts the events once per entity and never holds its output twice: what keeps its memory near
the frames it handles (bench/bench_features.py measures it). The values themselves are pinned by
test_engine.py."""

from __future__ import annotations

import json

from retrainer.features import compute_features, derived_features
from retrainer.features.engine import _prepared
from tests.features.test_engine import DECLARED, events


def _operators(node: dict) -> list[str]:
    return [node["name"]] + [name for child in node.get("children", []) for name in _operators(child)]


def test_each_entity_is_one_sort_and_the_output_is_neither_joined_nor_sorted_again():
    frame = events()
    entities = {f.entity for f in derived_features(DECLARED) if f.entity}
    assert any(f.kind == "label" for f in derived_features(DECLARED))  # label sums share their entity's sort
    with _prepared(frame, DECLARED, None, None) as (con, query):
        plan = json.loads(
            con.execute(f"EXPLAIN (FORMAT json) {query}", {"start": None, "end": None}).fetchall()[0][1]
        )
    operators = [name for node in plan for name in _operators(node)]
    assert operators.count("WINDOW") == len(entities)
    assert "HASH_JOIN" not in operators and "ORDER_BY" not in operators
    # and the rows still come back in the events' order
    assert compute_features(frame, DECLARED)["tx_id"].to_pylist() == frame["tx_id"].tolist()
