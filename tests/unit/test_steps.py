"""Progress steps of long library calls (:mod:`synthpatient._steps`): watching a cohort being
drawn changes nothing in it, and a callback that raises stops the draw."""

from __future__ import annotations

import threading

import pytest

from synthpatient._steps import reporting, step
from synthpatient.knowledge import load_knowledge_base
from synthpatient.knowledge.sampler import CohortSampler, CohortSpec


def test_a_watched_draw_is_the_unwatched_one_and_reports_each_step():
    kb = load_knowledge_base()
    spec = CohortSpec(condition="type2_diabetes", n=300, seed=7, follow_up_years=1)
    plain = CohortSampler(kb).sample(spec)
    seen: list[tuple[str, float]] = []
    with reporting(lambda stage, fraction: seen.append((stage, fraction))):
        watched = CohortSampler(kb).sample(spec)
    assert watched.wide.equals(plain.wide)  # the same random stream: the seed's contract
    assert watched.timeline is not None and plain.timeline is not None
    assert watched.timeline.observations.equals(plain.timeline.observations)
    assert [f for s, f in seen if s == "draw"] == [0, 0.25, 0.5, 0.75, 1]
    history = [f for s, f in seen if s == "history"]
    # the follow-up reports the share of its days simulated, visit round by visit round
    assert history[0] == 0 and history[-1] == 1 and len(history) > 3
    assert all(a <= b for a, b in zip(history, history[1:], strict=False))


def test_a_callback_that_raises_stops_the_draw_and_others_are_not_told():
    class Stop(Exception):
        pass

    def stop(stage: str, fraction: float) -> None:
        if fraction >= 0.5:
            raise Stop

    kb = load_knowledge_base()
    with reporting(stop), pytest.raises(Stop):
        CohortSampler(kb).sample(CohortSpec(condition="type2_diabetes", n=50, seed=1))
    other: list[str] = []

    def elsewhere() -> None:
        step("draw", 1, 2)  # would raise Stop if it saw this thread's callback
        other.append("went on")

    thread = threading.Thread(target=elsewhere)
    with reporting(stop):  # set on this thread only: the other thread's step does nothing
        thread.start()
        thread.join()
    assert other == ["went on"]
    step("draw", 1, 1)  # without a caller, nothing happens
