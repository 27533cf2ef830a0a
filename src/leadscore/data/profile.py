"""Profile a CRM export (one or more files) and draft its configuration, for `leadscore init`.

Pure functions over the files' text columns (read with the one CSV reader, leadscore.core.io):
delimiter and encoding, id candidates, date columns and the created date, the outcome column
with its values sorted into won / lost / open, join keys by value overlap with their coverage,
value, cost, channel and campaign columns, placeholder values that mean "not answered", and the
fields the leakage review will look at. Each choice carries the reason it was made; what cannot
be decided is a `Todo` naming the choices. leadscore.data.config_draft drafts the configuration
from the profiles; leadscore.stages.init writes the files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from leadscore.core.io import read_table_with_format
from leadscore.data.leakage_evidence import name_cues

SAMPLE_ROWS = 20000  # rows looked at per file for types and values (keys: every row)
DATE_SHARE = 0.9  # a column is a date when this share of its values look like dates
NUMBER_SHARE = 0.95  # ... a number when this share parse as numbers
MAX_STATUS_VALUES = 20  # an outcome column has at most this many distinct values
PLACEHOLDER_SHARE = 0.01  # a placeholder value must fill this share of some column
PLACEHOLDERS = ("select", "n/a", "na", "none", "null", "unknown", "-", "--", "(blank)", "?")

DATE_PATTERN = re.compile(
    r"^\s*(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})([ T]\d{1,2}:\d{2}.*)?\s*$"
)
# Words of outcome values, matched on whole words of the lower-cased value. Lost is checked
# first ("not converted", "closed lost"), then won; any other value is a stage still open.
LOST_WORDS = (
    r"\blost\b", r"\bdead\b", r"\bnot\b", r"\bdisqualified\b", r"\bunqualified\b", r"\brejected\b",
    r"\bjunk\b", r"\bcancel", r"\bspam\b", r"\binvalid\b", r"\bno\b", r"^0$", r"^false$",
    r"\bchurn", r"\bdeclined\b", r"\bfailed\b",
)  # fmt: skip
WON_WORDS = (
    r"\bwon\b", r"\bwin\b", r"\bsold\b", r"\bconverted\b", r"\benrolled\b", r"\bsigned\b",
    r"\bpaid\b", r"\bcustomer\b", r"\bpurchased?\b", r"\bdeal\b", r"\byes\b", r"^1$", r"^true$",
)  # fmt: skip
OUTCOME_NAME = re.compile(r"status|stage|outcome|converted|result|won|state", re.I)
CREATED_NAME = re.compile(r"creat|lead.?date|submitted|received|signup|sign.?up|^date$", re.I)
WON_DATE_NAME = re.compile(r"sale|won|closed|deal|purchase|order", re.I)
VALUE_NAME = re.compile(r"value|revenue|amount|sale.?price|deal", re.I)
COST_NAME = re.compile(r"cost|spend|cpl\b", re.I)
CHANNEL_NAMES = tuple(re.compile(p, re.I) for p in (r"channel", r"source", r"medium", r"origin"))
CAMPAIGN_NAME = re.compile(r"campaign", re.I)
CURRENCIES = ("USD", "EUR", "GBP", "AED", "INR", "CHF", "JPY", "CAD", "AUD", "SAR", "SGD", "CNY")


@dataclass(frozen=True)
class Todo:
    """A choice init could not make: the key, and the choices it names."""

    key: str
    question: str


@dataclass
class FileProfile:
    """One export file as read: format, size, and its columns by kind."""

    path: Path
    sep: str | None
    encoding: str | None
    rows: int
    columns: list[str]
    dates: list[str]
    numbers: list[str]
    unique: list[str]  # non-null and unique over every row


@dataclass
class Join:
    """A table after the first, joined on a key it shares with the leads table."""

    path: Path
    key: str
    coverage: float  # share of leads (with a key) that find a row in this table
    candidates: dict[str, float] = field(default_factory=dict)


@dataclass
class Outcome:
    column: str | None = None
    positive_values: list = field(default_factory=list)
    won: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    open: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    won_date_column: str | None = None


@dataclass
class Draft:
    """The drafted configuration of an export, each choice with its reason."""

    files: list[FileProfile]
    joins: list[Join]
    id_column: str | None
    id_candidates: list[str]
    created_column: str | None
    date_columns: list[str]
    outcome: Outcome
    value_column: str | None
    cost_column: str | None
    channel_column: str | None
    campaign_column: str | None
    currency: str
    missing_values: list[str]
    leakage_fields: dict[str, list[str]]
    base_rate: float | None
    months: float | None
    split_months: tuple[int, int] | None  # (valid, test) months giving each period the gate's
    reasons: dict[str, str]
    todos: list[Todo]


def looks_like_dates(values: pd.Series) -> bool:
    present = values.dropna()
    present = present[present.str.strip() != ""]
    return bool(len(present)) and present.str.match(DATE_PATTERN).mean() >= DATE_SHARE


def looks_like_numbers(values: pd.Series) -> bool:
    present = values.dropna()
    present = present[present.str.strip() != ""]
    if not len(present):
        return False
    parsed = pd.to_numeric(present.str.replace(",", "", regex=False), errors="coerce")
    return parsed.notna().mean() >= NUMBER_SHARE


def profile_file(path: Path) -> tuple[FileProfile, pd.DataFrame]:
    """Read one file as text (the reader training uses) and sort its columns by kind."""
    frame, fmt = read_table_with_format(path, dtype=str)
    sample = frame.head(SAMPLE_ROWS)
    unique = [
        c
        for c in frame.columns
        if frame[c].notna().all() and (frame[c].str.strip() != "").all() and frame[c].is_unique
    ]
    profile = FileProfile(
        path=path,
        sep=fmt.sep if fmt else None,
        encoding=fmt.encoding if fmt else None,
        rows=len(frame),
        columns=list(frame.columns),
        dates=[c for c in frame.columns if looks_like_dates(sample[c])],
        numbers=[c for c in frame.columns if looks_like_numbers(sample[c])],
        unique=unique,
    )
    return profile, frame


def sort_outcome_value(value: str) -> str:
    """won / lost / open for one value of an outcome column, by its words."""
    text = str(value).strip().lower()
    if any(re.search(p, text) for p in LOST_WORDS):
        return "lost"
    if any(re.search(p, text) for p in WON_WORDS):
        return "won"
    return "open"


def outcome_of(frame: pd.DataFrame, columns: list[str]) -> tuple[Outcome, list[Todo], str]:
    """The outcome column: the one whose values hold both won and lost words (name cues break
    ties), its values sorted into won / lost / open, most frequent first."""
    scored = []
    for column in columns:
        counts = frame[column].dropna().str.strip().value_counts()
        if not 2 <= len(counts) <= MAX_STATUS_VALUES:
            continue
        kinds = {value: sort_outcome_value(value) for value in counts.index}
        if "won" in kinds.values() and "lost" in kinds.values():
            score = (bool(OUTCOME_NAME.search(column)), -len(counts))
            scored.append((score, column, counts, kinds))
    if not scored:
        names = [c for c in columns if OUTCOME_NAME.search(c)] or columns[:5]
        todo = Todo(
            "data.outcome.column",
            "which column says whether a lead was won? No column holds both won and lost "
            f"values; candidates by name: {', '.join(names)}",
        )
        return Outcome(), [todo], "no column with won and lost values"
    scored.sort(key=lambda item: item[0], reverse=True)
    _, column, counts, kinds = scored[0]
    others = [c for score, c, _, _ in scored[1:] if score[0]]
    outcome = Outcome(column=column, counts={str(k): int(v) for k, v in counts.items()})
    if len(counts) == 2 and set(kinds.values()) == {"won", "lost"}:
        outcome.positive_values = [v for v, k in kinds.items() if k == "won"]
        if all(v.isdigit() for v in outcome.positive_values):
            outcome.positive_values = [int(outcome.positive_values[0]), outcome.positive_values[0]]
        reason = f"{column}: two values, won = {outcome.positive_values[-1]!r}"
    else:
        outcome.won = [v for v, k in kinds.items() if k == "won"]
        outcome.lost = [v for v, k in kinds.items() if k == "lost"]
        outcome.open = [v for v, k in kinds.items() if k == "open"]
        reason = f"{column}: its values sorted by their words into won, lost and open"
    if others:
        reason += f" (also possible: {', '.join(others)})"
    return outcome, [], reason


def join_coverage(leads: pd.DataFrame, table: pd.DataFrame, key: str) -> float:
    """Share of the leads with a key whose key is in `table`."""
    present = leads[key].dropna().str.strip()
    present = present[present != ""]
    if not len(present):
        return 0.0
    return float(present.isin(set(table[key].dropna().str.strip())).mean())


def join_of(
    leads: pd.DataFrame, id_column: str | None, profile: FileProfile, table: pd.DataFrame
) -> tuple[Join | None, list[Todo]]:
    """The key a table joins on: a column of the same name in the leads table, unique in this
    table (a lookup), with the largest value overlap; the leads' id wins a tie."""
    shared = [c for c in profile.columns if c in leads.columns]
    candidates = {c: join_coverage(leads, table, c) for c in shared}
    usable = {c: v for c, v in candidates.items() if v > 0 and table[c].dropna().is_unique}
    if not usable:
        todo = Todo(
            f"data.files[{profile.path.name}].join_on",
            f"which column of {profile.path.name} matches the leads? No shared column of "
            f"unique values overlaps; shared columns: {', '.join(shared) or 'none'}",
        )
        return None, [todo]
    key = max(usable, key=lambda c: (round(usable[c], 3), c == id_column))
    return Join(profile.path, key, usable[key], candidates), []


def pick(
    columns: list[str], pattern: re.Pattern, avoid: frozenset[str] | set[str] = frozenset()
) -> str | None:
    found = [c for c in columns if pattern.search(c) and c not in avoid]
    return found[0] if found else None


def currency_of(*names: str | None) -> str | None:
    for name in names:
        for token in re.findall(r"[A-Za-z]+", name or ""):
            if token.upper() in CURRENCIES and token.isupper():
                return token.upper()
    return None


def placeholders(frames: list[pd.DataFrame]) -> list[str]:
    """Values that mean "not answered" (Select, N/A, ...) and fill a share of some column."""
    found: dict[str, None] = {}
    for frame in frames:
        for column in frame.columns:
            values = frame[column].head(SAMPLE_ROWS).dropna().str.strip()
            if not len(values):
                continue
            shares = values.value_counts(normalize=True)
            for value, share in shares.items():
                if str(value).lower() in PLACEHOLDERS and share >= PLACEHOLDER_SHARE:
                    found[str(value)] = None
    return list(found)


def created_of(profile: FileProfile, frame: pd.DataFrame) -> tuple[str | None, str]:
    """The creation date: a date column of the leads file named like one, filled for most
    leads; a date set by sales' work (qualified, visit, won, ...) never is."""
    dates = [c for c in profile.dates if not name_cues(c) and not WON_DATE_NAME.search(c)]
    if not dates:
        return None, "no date column in the leads file: a stratified split, no months"
    named = [c for c in dates if CREATED_NAME.search(c)]
    choice = min(named or dates, key=lambda c: frame[c].isna().mean())
    filled = 1 - frame[choice].isna().mean()
    return choice, f"{choice}: a date column named like a creation date, filled for {filled:.0%}"
