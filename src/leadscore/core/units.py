"""Numbers written with units, as CRM exports write them: money, percentages, and plain numbers
in a declared decimal convention.

One rule, used by ingest (training) and by the one input normalisation (batch, Spark, API):

- spaces anywhere are ignored (also non-breaking and thin spaces, and trailing ones);
- `money`: one currency symbol (`$ € £ ¥ ₹ ...`, `US$`, `R$`) or ISO code (`USD`, `EUR`, ...:
  `CODES`)
  before or after the number, a `K` / `M` / `B` suffix (thousand, million, billion), a sign
  (`-`, `+`) or accounting parentheses (`(1,200.00)` is -1200);
- `percent`: a number with an optional `%` sign, read as percentage points (`18.00%` is 18.0);
- `number`: a number with an optional `K` / `M` / `B` suffix;
- the decimal mark and the thousands separator are the export's (`data.number_format`):
  `1,932.00` with `decimal: "."`, `1.200,50` with `decimal: ","`; a thousands separator must
  group three digits, so a value written in the other convention is refused, not misread.

The value is computed in decimal arithmetic and rounded once to the nearest float, so `$0.1M`
is exactly `100000.0`. A value that does not follow the rule is unparseable (`None`), and the
callers say so with the value and the type (`unparseable_reason`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

import numpy as np
import pandas as pd

UNIT_KINDS = ("money", "percent", "number")
MULTIPLIERS = {"": 1, "K": 10**3, "M": 10**6, "B": 10**9}
SYMBOLS = ("US$", "A$", "C$", "NZ$", "HK$", "R$", "$", "€", "£", "¥", "₹", "₩", "₽", "₺", "₪", "₫")
SPACES = re.compile(r"[\s\u00a0\u2007\u2009\u202f]+")
# ISO 4217 codes of the currencies CRM exports commonly carry (any three letters would read
# `OPP-00001` as money)
CODES = [
    "USD",
    "EUR",
    "GBP",
    "JPY",
    "CNY",
    "CHF",
    "CAD",
    "AUD",
    "NZD",
    "SEK",
    "NOK",
    "DKK",
    "ISK",
    "PLN",
    "CZK",
    "HUF",
    "RON",
    "BGN",
    "TRY",
    "RUB",
    "UAH",
    "ILS",
    "AED",
    "SAR",
    "QAR",
    "INR",
    "PKR",
    "BRL",
    "MXN",
    "ARS",
    "CLP",
    "COP",
    "PEN",
    "ZAR",
    "NGN",
    "KES",
    "EGP",
    "SGD",
    "HKD",
    "TWD",
    "KRW",
    "THB",
    "IDR",
    "MYR",
    "PHP",
    "VND",
]
CURRENCY = "(?:" + "|".join(re.escape(s) for s in (*SYMBOLS, *CODES)) + ")"
SUFFIX = r"(?P<suffix>[KkMmBb]?)"
# Share of a text column's values that must read as a unit for the profile to propose it.
PROPOSE_SHARE = 0.9


@dataclass(frozen=True)
class NumberFormat:
    """How an export writes numbers: its decimal mark and thousands separator."""

    decimal: str = "."
    thousands: str = ","

    def to_dict(self) -> dict[str, str]:
        return {"decimal": self.decimal, "thousands": self.thousands}


DEFAULT_FORMAT = NumberFormat()


@lru_cache(maxsize=16)
def _pattern(kind: str, decimal: str, thousands: str) -> re.Pattern[str]:
    dec = re.escape(decimal)
    grouped = rf"\d{{1,3}}(?:{re.escape(thousands)}\d{{3}})+" if thousands.strip() else r"(?!)"
    number = rf"(?P<number>(?:{grouped}|\d+)(?:{dec}\d+)?|{dec}\d+)"
    sign = r"(?P<sign>[-+]?)"
    if kind == "money":
        body = (
            rf"{sign}(?P<pre>{CURRENCY})?{sign.replace('sign', 'sign2')}{number}{SUFFIX}"
            rf"(?P<post>{CURRENCY})?"
        )
    elif kind == "percent":
        body = rf"{sign}{number}%?"
    elif kind == "number":
        body = rf"{sign}{number}{SUFFIX}"
    else:
        raise ValueError(f"unknown unit kind {kind!r} (one of {', '.join(UNIT_KINDS)})")
    return re.compile(rf"(?P<open>\()?{body}(?P<close>\))?")


@lru_cache(maxsize=65536)
def _parse_text(text: str, kind: str, decimal: str, thousands: str) -> float | None:
    compact = SPACES.sub("", text)
    match = _pattern(kind, decimal, thousands).fullmatch(compact)
    if match is None or bool(match["open"]) != bool(match["close"]):
        return None
    groups = match.groupdict()
    if groups.get("pre") and groups.get("post"):
        return None  # two currencies
    signs = groups.get("sign", "") + (groups.get("sign2") or "")
    if len(signs) > 1 or (match["open"] and signs):
        return None
    digits = match["number"].replace(thousands, "") if thousands.strip() else match["number"]
    try:
        amount = Decimal(digits.replace(decimal, "."))
    except InvalidOperation:
        return None
    amount *= MULTIPLIERS[(groups.get("suffix") or "").upper()]
    if signs == "-" or match["open"]:
        amount = -amount
    return float(amount)


def parse_value(value: object, kind: str, fmt: NumberFormat = DEFAULT_FORMAT) -> float | None:
    """One value as a float, `nan` for a missing one, None when it cannot be read as `kind`."""
    if value is None or value is pd.NA:
        return float("nan")
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)  # already a number (a typed file, a JSON request)
    text = str(value)
    if not text.strip():
        return float("nan")
    return _parse_text(text, kind, fmt.decimal, fmt.thousands)


def parse_values(values: pd.Series, kind: str, fmt: NumberFormat = DEFAULT_FORMAT) -> pd.Series:
    """The values as float64 (unparseable and missing ones are NaN); each distinct text is
    parsed once."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    codes, distinct = pd.factorize(values.astype(object), use_na_sentinel=True)
    parsed = [parse_value(v, kind, fmt) for v in distinct]
    table = np.array([np.nan if p is None else p for p in parsed] + [np.nan], dtype="float64")
    return pd.Series(table[codes], index=values.index, dtype="float64")


def unparseable(values: pd.Series, kind: str, fmt: NumberFormat = DEFAULT_FORMAT) -> pd.Series:
    """Where a present value cannot be read as `kind`."""
    present = values.notna() & (values.astype("string").str.strip() != "").fillna(False)
    return present & parse_values(values, kind, fmt).isna()


def unparseable_reason(kind: str, fmt: NumberFormat = DEFAULT_FORMAT) -> str:
    """How a refusal is worded (the value follows in brackets)."""
    return f"not {kind} (decimal {fmt.decimal!r}, thousands {fmt.thousands!r})"


def _stripped_counts(values: pd.Series | list[object]) -> pd.Series:
    """Leads per distinct stripped, non-empty text of the present values. A text column is
    counted per distinct value first and only those are written out and stripped; mixed Python
    objects (`1 == True` as keys) are written out one by one."""
    if (
        isinstance(values, pd.Series)
        and pd.api.types.is_string_dtype(values.dtype)
        and (values.dtype != object)
    ):
        counts = values.value_counts(dropna=True)
        text = pd.Series(counts.to_numpy(), index=counts.index.astype(str).str.strip())
        return text[text.index != ""].groupby(level=0, sort=False).sum()
    series = pd.Series(values, dtype=object)
    text = series[series.notna()].astype(str).str.strip()
    return text[text != ""].value_counts()


def propose_unit_type(values: pd.Series | list[object]) -> str | None:
    """`money` or `percent` when at least PROPOSE_SHARE of a text column's present values read
    as that unit in either decimal convention and carry its mark (a currency, a K/M/B suffix, a
    `%`); None otherwise (plain numbers are typed as numbers already). Pure: no I/O."""
    distinct = _stripped_counts(values)
    if distinct.empty:
        return None
    weights = distinct.to_numpy() / distinct.sum()
    compact = [SPACES.sub("", v) for v in distinct.index]
    readable = {
        kind: np.array(
            [
                any(_parse_text(v, kind, d, t) is not None for d, t in ((".", ","), (",", ".")))
                for v in distinct.index
            ]
        )
        for kind in ("percent", "money")
    }
    percent_mark = np.array([v.endswith("%") for v in compact])
    money_mark = np.array(
        [bool(re.search(CURRENCY, v)) or v.rstrip(")")[-1:] in "KkMmBb" for v in compact]
    )
    if weights[readable["percent"]].sum() >= PROPOSE_SHARE and (weights[percent_mark].sum() >= 0.5):
        return "percent"
    if weights[readable["money"]].sum() >= PROPOSE_SHARE and weights[money_mark].sum() >= 0.5:
        return "money"
    return None
