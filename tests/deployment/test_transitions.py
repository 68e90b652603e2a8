import pytest

from retrainer.deployment import transitions as t
from retrainer.deployment.state import CANARY, CHAMPION_ONLY, SHADOW, InvalidMove, initial

STEPS = [5, 25, 50, 100]


def test_canary_ramps_along_the_steps_and_ends_as_champion():
    state = t.start_canary(initial("m", 1), 2, STEPS)
    assert (state["mode"], state["challenger"], state["share"]) == (CANARY, 2, 5)
    shares = []
    while state["mode"] == CANARY:
        state = t.ramp(state, STEPS)
        shares.append(state["share"] if state["mode"] == CANARY else "promoted")
    assert shares == [25, 50, "promoted"]
    assert (state["mode"], state["champion"], state["previous_champion"], state["challenger"]) == (
        CHAMPION_ONLY, 2, 1, None,
    )  # fmt: skip


def test_rollback_drops_a_challenger_or_brings_the_previous_champion_back():
    shadow = t.start_shadow(initial("m", 1), 2)
    assert shadow["mode"] == SHADOW
    back = t.rollback(shadow)
    assert (back["mode"], back["champion"], back["challenger"], back["rolled_back"]) == (
        CHAMPION_ONLY,
        1,
        None,
        2,
    )
    promoted = t.promote(initial("m", 1), 3)
    restored = t.rollback(promoted)
    assert (restored["champion"], restored["previous_champion"], restored["rolled_back"]) == (1, 3, 3)


@pytest.mark.parametrize(
    "move",
    [
        lambda: t.ramp(initial("m", 1), STEPS),  # no canary runs
        lambda: t.rollback(initial("m", 1)),  # the only champion there has been
        lambda: t.promote(initial("m", 1), 1),  # already champion
        lambda: t.start_canary(initial("m", 1), 1, STEPS),  # cannot challenge itself
        lambda: t.start_canary(initial("m", 1), 2, [50, 5]),  # steps must rise
        lambda: t.first_champion(initial("m", 1), 2),
    ],
)
def test_moves_that_do_not_apply_are_refused(move):
    with pytest.raises(InvalidMove):
        move()
