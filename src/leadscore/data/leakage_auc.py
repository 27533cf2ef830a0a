"""The leakage review's single-field measure: each lead scored by its field value's conversion
rate in the other folds, and that score's AUC folded to >= 0.5 with its 95 % interval."""

from __future__ import annotations

import numpy as np
import pandas as pd

from leadscore.core.stats import auc_interval, tied_roc_auc

MISSING = "(missing)"  # missing is a value of its own


def text_groups(values: pd.Series) -> np.ndarray:
    """A group number per lead: leads whose values read the same as text share one, and the
    missing ones (with any value written `(missing)`) share one.

    Values are numbered first (a float by its bits, so -0.0 and 0.0 stay apart as their text
    does) and only the distinct ones are written as text: the groups of `astype("string")`
    without writing every lead's value out. Mixed Python objects, which compare equal across
    types (`1 == True`), are written out lead by lead."""
    if values.dtype == object:
        return pd.factorize(values.astype("string").fillna(MISSING).to_numpy())[0]
    if isinstance(values.dtype, np.dtype) and values.dtype.kind == "f":
        array = values.to_numpy()
        missing = np.isnan(array)
        codes, bits = pd.factorize(np.where(missing, 0.0, array).view(np.int64))
        codes[missing] = -1
        distinct = pd.Series(np.asarray(bits).view(np.float64))
    else:
        codes, uniques = pd.factorize(values)
        distinct = pd.Series(uniques, dtype=values.dtype)
    names = np.append(distinct.astype("string").fillna(MISSING).to_numpy(object), MISSING)
    return pd.factorize(names)[0][codes]  # code -1 (missing) takes the last name


def fold_numbers(y: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """The fold of each lead in the review's stratified `folds`-fold split (the same for every
    field: it depends on the outcomes alone)."""
    from sklearn.model_selection import StratifiedKFold  # here: the stages that only read a
    # review (contract, grade, scoring) never load scikit-learn for it

    fold = np.empty(len(y), dtype=int)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for number, (_, held_out) in enumerate(splitter.split(np.zeros(len(y)), y)):
        fold[held_out] = number
    return fold


def out_of_fold_scores(values: pd.Series, kind: str, y: np.ndarray, fold: np.ndarray) -> np.ndarray:
    """Each lead scored by its field value's conversion rate in the other folds (`fold`: the
    fold of each lead, `fold_numbers`); a value the other folds never saw gets their base rate.

    Numbers fall into 10 quantile bins and missing is a value of its own, so any shape of
    relation counts, including "present only for converted leads".
    """
    if kind == "numeric":
        numeric = pd.to_numeric(values, errors="coerce").astype(float)
        if numeric.nunique() > 10:
            numeric = pd.qcut(numeric.rank(method="first"), 10, labels=False)
        values = numeric
    groups = text_groups(values)
    size, folds = int(groups.max()) + 1, int(fold.max()) + 1
    cell = fold * size + groups  # (fold, value): counted once, all folds at a time
    leads = np.bincount(cell, minlength=folds * size).reshape(folds, size)
    converted = np.bincount(cell, weights=y, minlength=folds * size).reshape(folds, size)
    other_leads = (leads.sum(axis=0) - leads)[fold, groups]  # the other folds' leads
    other_converted = (converted.sum(axis=0) - converted)[fold, groups]
    fold_leads = np.bincount(fold, minlength=folds)
    fold_converted = np.bincount(fold, weights=y, minlength=folds)
    base = (fold_converted.sum() - fold_converted) / (len(y) - fold_leads)
    seen = other_leads > 0
    return np.where(seen, other_converted / np.where(seen, other_leads, 1), base[fold])


def folded_auc(y: np.ndarray, score: np.ndarray) -> tuple[float, float, float]:
    """AUC folded to >= 0.5 (a field ranks either way), with its 95 % interval."""
    auc = tied_roc_auc(y, score)
    positives = int(y.sum())
    low, high = auc_interval(auc, positives, len(y) - positives)
    if auc < 0.5:
        return 1 - auc, 1 - high, 1 - low
    return auc, low, high
