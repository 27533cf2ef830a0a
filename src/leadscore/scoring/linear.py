"""A fitted logistic regression compiled to per-field tables: raw scores and exact contributions.

The logistic candidate (`leadscore.model.candidates.linear_encoder` + `LogisticRegression`)
reads the same encoded matrix as the booster: one column per field, categories as codes with
NaN for missing or unseen values. Every output column of its encoder belongs to one field, so
its log-odds split exactly into one term per field:

- a category field: a table of `coefficient . one-hot row`, one entry per code and one for NaN;
- a number or yes/no field: `slope * g(x) + offset` for a known value (g = log1p for
  non-negative numbers, else the identity; imputation and scaling folded into slope and
  offset), and a constant when the value is missing.

`raw_scores = intercept + sum of the contributions`, which is the regression's
`decision_function`; the tables are read by running the fitted encoder itself on probe values,
never re-implemented.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline


@dataclass(frozen=True)
class LinearArrays:
    """A logistic regression as per-field terms (category tables first, then numbers)."""

    intercept: float
    category_tables: tuple[np.ndarray, ...]  # per category field: weight per code, NaN last
    slope: np.ndarray  # per number field
    offset: np.ndarray
    when_missing: np.ndarray
    log1p: np.ndarray  # bool: log1p before the slope
    # the category tables end to end, each table's start in it and its NaN entry: every
    # category field looked up at once (`contributions`)
    flat_table: np.ndarray = field(init=False, repr=False, compare=False)
    table_starts: np.ndarray = field(init=False, repr=False, compare=False)
    nan_codes: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lengths = np.array([len(table) for table in self.category_tables], dtype=np.int64)
        flat = np.concatenate(self.category_tables) if self.category_tables else np.empty(0)
        object.__setattr__(self, "flat_table", np.asarray(flat, dtype=float))
        object.__setattr__(self, "table_starts", np.cumsum(lengths) - lengths)
        object.__setattr__(self, "nan_codes", lengths - 1)

    @property
    def n_categorical(self) -> int:
        return len(self.category_tables)


def is_linear(model: Any) -> bool:
    """True for the logistic candidate: a Pipeline ending in a LogisticRegression."""
    return isinstance(model, Pipeline) and isinstance(model.steps[-1][1], LogisticRegression)


def _field_terms(transformer: Any, rows: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each probe value's contribution: the transformer's output rows times its coefficients."""
    terms: np.ndarray = (
        np.asarray(transformer.transform(rows.reshape(-1, 1)), dtype=float) @ weights
    )
    return terms


def from_logistic(model: Pipeline, n_codes: tuple[int, ...]) -> LinearArrays:
    """Compile a fitted logistic candidate; `n_codes` are the known codes per category field."""
    encoder, logistic = model.steps[0][1], model.steps[-1][1]
    coefficients = np.ravel(logistic.coef_)
    tables, slope, offset, missing, log1p = [], [], [], [], []
    for j, (name, transformer, _) in enumerate(encoder.transformers_):
        if name == "remainder":
            continue
        weights = coefficients[encoder.output_indices_[name]]
        if j < len(n_codes):
            probe = np.append(np.arange(n_codes[j], dtype=float), np.nan)
            tables.append(_field_terms(transformer, probe, weights))
            continue
        steps = transformer.steps
        logged = steps[0][0] == "log"
        rest = Pipeline(steps[1:]) if logged else transformer
        at_zero, at_one, at_nan = _field_terms(rest, np.array([0.0, 1.0, np.nan]), weights)
        slope.append(at_one - at_zero)
        offset.append(at_zero)
        missing.append(at_nan)
        log1p.append(logged)
    return LinearArrays(
        intercept=float(np.ravel(logistic.intercept_)[0]),
        category_tables=tuple(tables),
        slope=np.asarray(slope, dtype=float),
        offset=np.asarray(offset, dtype=float),
        when_missing=np.asarray(missing, dtype=float),
        log1p=np.asarray(log1p, dtype=bool),
    )


def _category_terms(arrays: LinearArrays, codes: np.ndarray, fields: slice) -> np.ndarray:
    """The terms of the category fields `fields` (their columns of codes): table lookups."""
    known = np.where(np.isnan(codes), arrays.nan_codes[fields], codes)  # NaN never indexes
    terms: np.ndarray = arrays.flat_table[known.astype(np.int64) + arrays.table_starts[fields]]
    return terms


def _number_terms(arrays: LinearArrays, values: np.ndarray, fields: slice) -> np.ndarray:
    """The terms of the number fields `fields` (their columns): `slope * g(x) + offset`, or the
    constant for a missing value."""
    missing = np.isnan(values)
    with np.errstate(invalid="ignore", divide="ignore"):
        values = np.where(arrays.log1p[fields], np.log1p(values), values)
    terms: np.ndarray = np.where(
        missing, arrays.when_missing[fields], arrays.slope[fields] * values + arrays.offset[fields]
    )
    return terms


def field_scores(arrays: LinearArrays, matrix: np.ndarray, j: int) -> np.ndarray:
    """The part of the raw score that depends on field j alone (its contribution)."""
    n_categorical = arrays.n_categorical
    if j < n_categorical:
        return _category_terms(arrays, matrix[:, j : j + 1], slice(j, j + 1))[:, 0]
    k = j - n_categorical
    return _number_terms(arrays, matrix[:, j : j + 1], slice(k, k + 1))[:, 0]


def contributions(arrays: LinearArrays, matrix: np.ndarray) -> np.ndarray:
    """(n leads, n fields) log-odds contributions; they sum to the raw score minus the intercept.

    Every field at once: the category columns in one lookup, the number columns in one pass, so
    one lead costs a few array calls instead of a few per field."""
    n_categorical = arrays.n_categorical
    out = np.empty(matrix.shape, dtype=float)
    out[:, :n_categorical] = _category_terms(
        arrays, matrix[:, :n_categorical], slice(0, n_categorical)
    )
    out[:, n_categorical:] = _number_terms(arrays, matrix[:, n_categorical:], slice(None))
    return out


def raw_scores(arrays: LinearArrays, matrix: np.ndarray) -> np.ndarray:
    """The regression's log-odds for encoded leads (its `decision_function`)."""
    raw: np.ndarray = arrays.intercept + contributions(arrays, matrix).sum(axis=1)
    return raw
