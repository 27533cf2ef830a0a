"""The censoring rule, once: what the split stage leaves out as not yet known."""

from __future__ import annotations

import pandas as pd

from leadscore.core import outcome
from leadscore.core.outcome import censored
from leadscore.data.split import censor_open_windows

AS_OF = pd.Timestamp("2026-10-31")
CREATED = pd.Series(pd.to_datetime(["2026-05-01", "2026-10-01", "2026-10-31", "2026-11-02"]))


def test_without_a_status_every_lead_whose_window_is_open_is_censored():
    assert censored(CREATED, AS_OF, 90, has_status=False).tolist() == [False, True, True, True]


def test_with_a_status_only_leads_created_from_the_as_of_date_are_censored():
    # a won or lost lead is final, even inside its window; open leads are counted apart
    assert censored(CREATED, AS_OF, 90, has_status=True).tolist() == [False, False, True, True]


def test_the_split_censors_by_that_rule():
    leads = pd.DataFrame({"created_at": CREATED, "converted": [True, False, True, False]})
    with_status = leads.assign(outcome_status=["won", "lost", "won", "lost"])
    for frame, has_status in ((leads, False), (with_status, True)):
        closed, left_out = censor_open_windows(frame, AS_OF, 90)
        expected = censored(CREATED, AS_OF, 90, has_status)
        assert left_out.index.tolist() == CREATED.index[expected].tolist()
        assert closed.index.tolist() == CREATED.index[~expected].tolist()


def test_unreadable_dates_count_as_missing():
    created = pd.Series(["2026-01-01", "not a date", "2026-01-01"])
    won = pd.Series(["2026-02-01", "2026-02-01", "someday"])
    assert outcome.won_within_window(created, won, 90).tolist() == [True, False, False]


def test_statuses_are_classified_ignoring_case_and_spaces_and_missing_stays_missing():
    values = pd.Series([" Closed Won", "closed lost", "OPEN ", None, "Pending", " Pending "])
    status, unlisted = outcome.classify_status(values, ["Closed Won"], ["Closed Lost"], ["Open"])
    assert status.dtype == "string"
    assert status.tolist() == ["won", "lost", "open", pd.NA, pd.NA, pd.NA]
    assert unlisted == {"Pending": 2}  # as written, but stripped: counted together


def test_a_label_is_missing_unless_won_or_lost_and_a_late_win_is_a_negative():
    status, _ = outcome.classify_status(
        pd.Series(["won", "won", "won", "lost", "open", None]), ["won"], ["lost"], ["open"]
    )
    created = pd.Series(pd.to_datetime(["2026-01-01"] * 6))
    won = pd.Series(["2026-02-01", "2026-06-01", "unknown", None, None, None])
    converted = outcome.label(status, created, won, 90)
    assert converted.dtype == "boolean"
    # an unreadable won date cannot make a win late
    assert converted.tolist() == [True, False, True, False, pd.NA, pd.NA]
    assert outcome.label(status, None, None, 90).tolist() == [True, True, True, False, pd.NA, pd.NA]
