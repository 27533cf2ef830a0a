"""The owners' page rows: a verdict only next to the promise it was computed for, the preview's
state, and promises matched side by side."""

from __future__ import annotations

import pytest
from owners_project import make_owners_project, proposal_report

from leadscore.core.agreement import meaning_hash
from leadscore_serve.owners_view import (
    follow_up_rows,
    grade_rows,
    preview_state,
    promise_pairs,
    side_by_side,
)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_owners_project(tmp_path_factory.mktemp("view") / "project", reports=False)


@pytest.fixture(scope="module")
def preview(project):
    return proposal_report(project.agreed(), project.proposed())


def test_each_grade_promise_gets_the_verdict_of_its_own_terms(project, preview):
    agreed = project.agreed()
    report = {"grades": preview["sides"]["agreed"]["grades"]}
    rows = grade_rows(agreed, report)
    assert [(r["grade"], r["verdict"]) for r in rows] == [
        ("A", "kept"), ("A", "kept"), ("B", "kept"), ("C", "not kept"),
    ]  # fmt: skip
    assert rows[1]["promise"] == "at most 700 A leads a month (sales capacity)"
    assert rows[1]["actual"] == "659 A leads a month"
    # figures graded under another promise (the proposal's) are not put next to this one
    other = {"grades": preview["sides"]["proposal"]["grades"]}
    rows = grade_rows(agreed, other)
    assert [r["verdict"] for r in rows[:2]] == [None, None]
    assert rows[0]["actual"] == "the report graded another promise"
    assert [r["verdict"] for r in rows[2:]] == ["not kept", "not kept"]  # B, C: same terms


def test_follow_up_promises_are_matched_by_their_terms(project):
    contract = project.agreed()
    promise = contract.follow_up.promises["B"][0]
    held = {"verdict": "kept", "share": 0.85, "share_ci_low": 0.8, "share_ci_high": 0.9}
    report = {"promises": {"B": [{**held, "promise": promise.model_dump()}]}}
    rows = follow_up_rows(contract, report)
    assert [(r["grade"], r["verdict"]) for r in rows] == [("A", None), ("A", None), ("B", "kept")]
    assert rows[0]["actual"] == "the report checked other terms"
    assert rows[2]["actual"] == "85.0 % (95 % interval 80.0-90.0 %) within 45 business hours"
    assert [r["actual"] for r in follow_up_rows(contract, None)] == ["no follow-up report"] * 3


def test_the_preview_state_says_what_to_do(project, preview):
    current = meaning_hash(project.proposed())
    assert preview_state(None, current)[0] == "missing"
    assert preview_state({"open": False}, current)[0] == "closed"
    state, text = preview_state(preview, "sha256:" + "1" * 64)
    assert state == "stale" and "Refresh it with `leadscore contract preview`" in text
    retrain = {**preview, "needs_retrain": ["contract.excluded_fields"]}
    retrain.pop("sides")
    state, text = preview_state(retrain, current)
    assert state == "needs_retrain" and "contract.excluded_fields" in text and "dvc exp run" in text
    assert preview_state(preview, current) == ("ready", preview["headline"])


def test_side_by_side_marks_what_the_proposal_changes(preview):
    view = side_by_side(preview)
    a_rows = {row["what"]: row for row in view["grades"] if row["grade"] == "A"}
    assert a_rows["leads a month"]["agreed"] == "659.0"
    assert a_rows["leads a month"]["proposal"] == "852.4" and a_rows["leads a month"]["changed"]
    c_rows = [row for row in view["grades"] if row["grade"] == "C"]
    assert c_rows and not any(row["changed"] for row in c_rows)
    pairs = promise_pairs(preview["sides"]["agreed"], preview["sides"]["proposal"])
    capacity = pairs[1]
    assert (capacity["owner"], capacity["grade"]) == ("marketing", "A") and capacity["changed"]
    assert capacity["agreed"]["promise"] == "at most 700 A leads a month"
    assert capacity["proposal"]["promise"] == "at most 900 A leads a month"
    assert [p["changed"] for p in pairs if p["grade"] == "C"] == [False]
