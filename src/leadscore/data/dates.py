"""Dates as an export writes them, rewritten once to ISO text so every later step reads them
the same way.

Per file, `date_format` (e.g. "%d.%m.%Y") or `dayfirst` say how dates are written. Without
them, a column of numeric dates like 13/02/2026 is read day-first when some first part is above
12 and no second part is, month-first in the opposite case, and month-first (pandas' default)
when nothing tells them apart; the report says which and the key that settles it. ISO dates
(2026-02-13) are left as they are.
"""

from __future__ import annotations

import re

import pandas as pd

# What a date looks like, said once: a numeric date (13/02/2026, 13.02.26, 02-13-2026: day,
# month and year, in an order the values or the configuration settle) and an ISO date
# (2026-02-13[ 09:30[:00]]).
DAY_MONTH_YEAR = r"(\d{1,2})[./\-](\d{1,2})[./\-](\d{2,4})"
ISO_DATE = r"\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
NUMERIC_DATE = re.compile(rf"^\s*{DAY_MONTH_YEAR}\b")  # at the start (a time may follow)
DATE_VALUE = re.compile(rf"^(?:{ISO_DATE}|{DAY_MONTH_YEAR})$")  # a whole value that is a date
MIN_PARSED_SHARE = 0.98  # a column is of a kind (number, date) when this share of its values is


def mostly(matches: pd.Series) -> bool:
    """Whether a column's present values read as a kind: at least `MIN_PARSED_SHARE` of them
    (`matches`: True where a value does; none present is not a kind)."""
    return bool(len(matches)) and float(matches.mean()) >= MIN_PARSED_SHARE


def detect_dayfirst(values: pd.Series) -> bool | None:
    """True (day-first), False (month-first), or None when the values cannot tell (or are not
    numeric d/m/y dates at all)."""
    text = values.dropna().astype(str)
    if text.empty:
        return None
    parts = text.str.extract(NUMERIC_DATE)
    if not mostly(parts[0].notna()):
        return None
    first, second = (pd.to_numeric(parts[i], errors="coerce") for i in (0, 1))
    if (first > 12).any() and not (second > 12).any():
        return True
    if (second > 12).any() and not (first > 12).any():
        return False
    return None


def _parse(text: pd.Series, date_format: str | None, dayfirst: bool) -> pd.Series:
    if date_format:
        return pd.to_datetime(text, format=date_format, errors="coerce")
    parsed = pd.to_datetime(text, dayfirst=dayfirst, errors="coerce")
    retry = parsed.isna() & text.notna()
    if retry.any():  # formats mixed within the column
        parsed[retry] = pd.to_datetime(
            text[retry], dayfirst=dayfirst, format="mixed", errors="coerce"
        )
    return parsed


def iso_text(parsed: pd.Series) -> pd.Series:
    """ISO 8601 text: dates alone when no value has a time of day."""
    has_time = (parsed.dropna() != parsed.dropna().dt.normalize()).any()
    return parsed.dt.strftime("%Y-%m-%d %H:%M:%S" if has_time else "%Y-%m-%d")


def normalise_dates(
    frame: pd.DataFrame,
    columns: list[str],
    date_format: str | None,
    dayfirst: bool | None,
    where: str,
    always: tuple[str, ...] = (),
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rewrite the date columns among `columns` as ISO text; report how each was read.

    A column is rewritten when nearly all its values parse, or when it is in `always` (the
    configured date roles). A value that does not parse is left as written (ingest then
    quarantines it as not a date).
    """
    frame = frame.copy()
    report: dict[str, str] = {}
    for column in columns:
        text = frame[column].astype("string").str.strip()
        present = text.dropna()
        if present.empty:
            continue
        if date_format:
            order, how = dayfirst is True, f"format {date_format} (configured)"
        elif dayfirst is not None:
            order, how = dayfirst, f"{'day' if dayfirst else 'month'}-first (configured)"
        else:
            detected = detect_dayfirst(present)
            if detected is None and not mostly(present.str.match(NUMERIC_DATE)):
                continue  # ISO or words: ingest reads these unambiguously
            order = bool(detected)
            how = (
                f"{'day' if detected else 'month'}-first (detected)"
                if detected is not None
                else f"month-first: ambiguous, set {where}.dayfirst or {where}.date_format"
            )
        parsed = _parse(text, date_format, order)
        if not mostly(parsed[present.index].notna()) and column not in always:
            continue
        iso = iso_text(parsed)
        frame[column] = iso.where(parsed.notna(), frame[column]).astype(object)
        report[column] = how
    return frame, report
