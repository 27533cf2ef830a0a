"""The trend index: newest score per lead in memory; `new` only when it can know."""

from __future__ import annotations

from leadscore.scoring.trend import LatestScores, PreviousScores


def test_the_warm_up_keeps_the_newest_score_and_says_new_only_once_complete():
    index = LatestScores(capacity=10)
    index.remember([("a", 40, "C")])  # recorded by this process while the warm-up runs
    assert index.lookup(["b"]).trend("b", 50) == "unknown"  # the table not read yet
    assert index.remember_older([("a", 10, "D"), ("b", 60, "B"), ("b", 20, "D")])
    index.warm = True  # the last page was short: the whole table is read
    found = index.lookup(["a", "b", "c"])
    assert found.found == {"a": (40, "C"), "b": (60, "B")}  # newer rows win, older ignored
    assert found.trend("a", 50) == "rising" and found.trend("c", 50) == "new"


def test_a_full_index_calls_leads_it_does_not_hold_unknown():
    index = LatestScores(capacity=2)
    assert not index.remember_older([("a", 10, "D"), ("b", 20, "D"), ("c", 30, "C")])
    index.warm = True
    assert index.lookup(["a", "b", "c"]).found == {"a": (10, "D"), "b": (20, "D")}
    assert index.lookup(["c"]).trend("c", 50) == "unknown"  # dropped for room, maybe scored
    index.remember([("d", 50, "B")])  # evicts the oldest held (b, read last by the warm-up)
    assert set(index.lookup(["a", "b", "d"]).found) == {"a", "d"}


def test_previous_scores_without_a_log_are_new():
    assert PreviousScores().trend("x", 50) == "new"
