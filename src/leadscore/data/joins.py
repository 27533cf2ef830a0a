"""Joining the tables of an export onto the leads, and how well their keys matched.

A lead row whose key finds no row in a joined table silently loses that table's fields, so
every join reports matched and unmatched rows and keys with the most frequent unmatched values,
and the export fails when more than `data.max_unmatched_share` of the lead rows with a key are
unmatched. When keys would match after ignoring case, spaces and punctuation, the report says
so and names the setting that joins on such normalised keys (`match_keys: normalised`).
"""

from __future__ import annotations

import pandas as pd

TOP_UNMATCHED = 5
PUNCTUATION_AND_SPACE = r"[\W_]+"


def normalise_key(values: pd.Series) -> pd.Series:
    """A key without case, spaces or punctuation: ' ACME-01 ' and 'acme01' are the same."""
    return (
        values.astype("string")
        .str.casefold()
        .str.replace(PUNCTUATION_AND_SPACE, "", regex=True)
        .mask(lambda s: s == "")
    )


def join_coverage(left: pd.Series, right: pd.Series, normalised: bool = False) -> dict:
    """Matched and unmatched lead rows and distinct keys of one join, with a hint when keys
    differ only by case, spaces or punctuation."""
    key = normalise_key if normalised else (lambda s: s.astype("string"))
    left_keys, right_keys = key(left), key(right)
    present = left_keys.dropna()
    matched = present.isin(set(right_keys.dropna()))
    unmatched = left[present.index[~matched]].astype("string")
    report = {
        "rows": int(len(left)),
        "rows_without_key": int(left_keys.isna().sum()),
        "rows_matched": int(matched.sum()),
        "rows_unmatched": int((~matched).sum()),
        "unmatched_share": round(float((~matched).mean()), 6) if len(present) else 0.0,
        "keys_matched": int(present[matched].nunique()),
        "keys_unmatched": int(present[~matched].nunique()),
        "table_keys_unused": int((~right_keys.dropna().isin(set(present))).sum()),
        "top_unmatched": [
            {"value": str(value), "rows": int(count)}
            for value, count in unmatched.value_counts().head(TOP_UNMATCHED).items()
        ],
        "keys": "normalised" if normalised else "exact",
    }
    if not normalised and len(unmatched):
        right_by_norm = dict(zip(normalise_key(right), right.astype("string"), strict=True))
        fixable = normalise_key(unmatched).map(right_by_norm).dropna()
        if len(fixable):
            example = fixable.index[0]
            report["rows_matching_if_normalised"] = int(len(fixable))
            report["hint"] = (
                f"{len(fixable):,} of the {len(unmatched):,} unmatched rows would match ignoring "
                f"case, spaces and punctuation (e.g. {unmatched[example]!r} ~ "
                f"{fixable[example]!r}); set match_keys: normalised on this file to join so"
            )
    return report


def describe(report: dict, key: str, table: str) -> str:
    """One line on a join's coverage, for logs and errors."""
    top = ", ".join(f"{u['value']!r} ({u['rows']})" for u in report["top_unmatched"])
    text = (
        f"{report['rows_unmatched']:,} of {report['rows_matched'] + report['rows_unmatched']:,} "
        f"lead rows ({report['unmatched_share']:.1%}) have a {key!r} with no match in {table}"
    )
    if top:
        text += f"; most frequent unmatched: {top}"
    if "hint" in report:
        text += f". Hint: {report['hint']}"
    return text


def left_join(leads: pd.DataFrame, table: pd.DataFrame, key: str, normalised: bool) -> pd.DataFrame:
    """Leads with the table's fields (each lead matches at most one row); row order kept.

    A missing key matches nothing (pandas alone would match missing with missing).
    """
    if not normalised:
        table = table[table[key].notna()]
        return leads.merge(table, on=key, how="left", validate="many_to_one")
    join_key = "__join_key__"
    right = table.drop(columns=[key]).assign(**{join_key: normalise_key(table[key])})
    right = right[right[join_key].notna()]
    joined = leads.assign(**{join_key: normalise_key(leads[key])}).merge(
        right, on=join_key, how="left", validate="many_to_one"
    )
    return joined.drop(columns=[join_key])
