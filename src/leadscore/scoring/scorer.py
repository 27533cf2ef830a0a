"""Scoring raw leads with a model bundle: the one code path behind batch scoring and the API.

The bundle's sklearn Pipeline is the model. For the hot path it is *compiled* once at load time:
the fitted ordinal encoders become value -> code dictionaries, the boosted trees become flat
arrays (`leadscore.scoring.trees`) or the logistic regression per-field tables
(`leadscore.scoring.linear`), the calibrator becomes its interpolation table (the encoders and
calibrators: `leadscore.scoring.compiling`). Nothing
about the features is written by hand: everything is read from the fitted pipeline, and
`Scorer.from_bundle` refuses to serve unless the compiled scorer reproduces
`pipeline.predict_proba` on a probe set that covers every known category, unseen values and
missing values.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from leadscore.core import fields
from leadscore.core.schema import FeatureSpec, InputNormalisation
from leadscore.core.units import parse_values, unparseable_reason
from leadscore.core.values import NEGATIVE_REASON, below_minimum, parse_bool
from leadscore.data.inputs import (
    clean_text,
    normalise,
    normalise_records,
    number_format,
    tables_from_record,
    with_lead_id,
)
from leadscore.model.bundle import ModelBundle
from leadscore.model.grading import Grading
from leadscore.model.pipeline import booster_of, calibrated_of
from leadscore.model.train import raw_output
from leadscore.scoring import compiling, linear, trees
from leadscore.scoring.compiling import Calibrator, CompileError
from leadscore.scoring.trees import TreeArrays

PARITY_TOLERANCE = 1e-9


def score_leads(bundle: ModelBundle, leads: pd.DataFrame) -> pd.DataFrame:
    """Calibrated probability, score 1-100 and grade for each lead, through the sklearn Pipeline."""
    spec = bundle.card.spec
    inputs = leads.reindex(columns=list(spec.fields))
    probability = bundle.pipeline.predict_proba(inputs)[:, 1]
    raw = raw_output(bundle.pipeline, inputs)
    grading = bundle.grading
    ids = leads[fields.LEAD_ID] if fields.LEAD_ID in leads else pd.RangeIndex(len(leads))
    return pd.DataFrame(
        {
            fields.LEAD_ID: np.asarray(ids),
            "probability": probability,
            "score": grading.score(probability, raw),
            "grade": grading.grade(probability),
        }
    )


# --- the scorer ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scored:
    """Scores of a batch of encoded leads."""

    raw: np.ndarray
    probability: np.ndarray
    score: np.ndarray
    grade: np.ndarray
    contributions: np.ndarray | None  # (n, n_fields) in raw (log-odds) units, or None


class RowMessages:
    """Each row's messages, added a check at a time and joined by "; " in that order."""

    def __init__(self, n: int) -> None:
        self._text = np.full(n, "", dtype=object)

    def add(self, mask: np.ndarray, message: str | np.ndarray) -> None:
        """Add `message` (one text, or one per row) to the rows in `mask`."""
        rows = np.flatnonzero(mask)
        if len(rows):
            new = message if isinstance(message, str) else message[rows]
            current = self._text[rows]
            self._text[rows] = np.where(current == "", new, current + "; " + new)

    def joined(self, index: pd.Index) -> pd.Series:
        return pd.Series(self._text, index=index, dtype=object)  # no string-dtype conversion


def missing_warning(name: str) -> str:
    return f"{name}: missing; scored as unknown"


def unseen_warning(name: str, value: object) -> str:
    return f"{name}: {value!r} not seen in training; scored as unknown"


@dataclass(frozen=True)
class Scorer:
    """A bundle compiled for fast scoring; identical results to its sklearn Pipeline."""

    spec: FeatureSpec
    category_codes: tuple[dict[str, float], ...]
    trees: TreeArrays | None  # None when the model is a logistic regression
    base_value: float
    calibrators: tuple[Calibrator, ...]
    grading: Grading
    model_version: str
    contract_version: str
    inputs: InputNormalisation = InputNormalisation()
    lookup_tables: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    linear: linear.LinearArrays | None = None

    @property
    def fields(self) -> tuple[str, ...]:
        return self.spec.fields

    @property
    def raw_columns(self) -> tuple[str, ...]:
        """The raw columns scoring reads: the id, the model's fields and the join keys (and
        what a made id is made from)."""
        names = (self.inputs.id_column, fields.LEAD_ID, *self.fields, *self.inputs.keys)
        return tuple(dict.fromkeys((*names, *self.inputs.made_id_columns)))

    @classmethod
    def from_bundle(cls, bundle: ModelBundle, check: bool = True) -> Scorer:
        spec = bundle.card.spec
        features = bundle.pipeline.named_steps["features"]
        columns = tuple(
            c for name, _, cols in features.transformers_ if name != "remainder" for c in cols
        )
        if columns != spec.fields:
            raise CompileError("the pipeline's feature order differs from the model card's")
        calibrated, booster = calibrated_of(bundle.pipeline), booster_of(bundle.pipeline)
        codes = compiling.category_codes(bundle.pipeline, spec)
        tree_arrays, linear_arrays = None, None
        if linear.is_linear(booster):
            n_codes = tuple(int(max(known.values(), default=-1)) + 1 for known in codes)
            linear_arrays = linear.from_logistic(booster, n_codes)
            base_value = linear_arrays.intercept
        else:
            tree_arrays = trees.from_hist_gradient_boosting(booster)
            base_value = trees.base_value(tree_arrays)
        scorer = cls(
            spec=spec,
            category_codes=codes,
            trees=tree_arrays,
            base_value=base_value,
            calibrators=compiling.compile_calibrators(calibrated, booster),
            grading=bundle.grading,
            model_version=bundle.version,
            contract_version=bundle.contract_version,
            inputs=bundle.card.input_normalisation,
            lookup_tables=tables_from_record(bundle.lookups),
            linear=linear_arrays,
        )
        if check:
            scorer.check_against(bundle.pipeline)
        return scorer

    @property
    def tree_arrays(self) -> TreeArrays:
        """The compiled trees (a scorer without a regression always has them)."""
        if self.trees is None:
            raise CompileError("the scorer holds neither trees nor a regression")
        return self.trees

    # the input normalisation (leadscore.data.inputs) -------------------------------------

    def normalise_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Raw rows as the export writes them -> the lead table the model reads (lead id,
        looked-up joined fields, missing-value tokens), exactly as at training."""
        return normalise(frame, self.inputs, self.lookup_tables)

    def id_problem(self, columns: Collection[str]) -> str | None:
        """Why raw rows with these columns have no lead id (None when they have one)."""
        inputs, present = self.inputs, set(columns)
        if inputs.id_column in present or fields.LEAD_ID in present:
            return None
        if inputs.made_id:
            missing = [c for c in inputs.made_id_columns if c not in present]
            if not missing:
                return None
            return (
                f"the input has no {fields.LEAD_ID!r} column, and the made id (the export has "
                f"no id column) needs the columns {', '.join(map(repr, missing))}"
            )
        return f"the input has no {inputs.id_column!r} column (the lead id of this model)"

    def lead_ids(self, frame: pd.DataFrame) -> pd.Series:
        """The lead id of each raw row (check `id_problem` first)."""
        return with_lead_id(frame, self.inputs)[fields.LEAD_ID]

    def normalise_records(self, records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """Validated API leads (dicts) -> the same normalised leads as `normalise_frame`."""
        return normalise_records(records, self.inputs, self.lookup_tables)

    # encoding ---------------------------------------------------------------------------

    def encode_records(
        self, records: Sequence[Mapping[str, Any]]
    ) -> tuple[np.ndarray, list[list[str]]]:
        """Leads as dicts of raw field values (validated API input) -> model matrix, warnings.

        Lead by lead in plain Python: a request holds one lead or a few hundred, where a numpy
        step per field costs more than the values themselves."""
        n_categorical = len(self.spec.categorical)
        categorical = list(zip(self.fields[:n_categorical], self.category_codes, strict=True))
        numeric = self.fields[n_categorical:]
        nan = math.nan
        rows: list[list[float]] = []
        warnings: list[list[str]] = []
        for record in records:
            row: list[float] = []
            said: list[str] = []
            for name, codes in categorical:
                value = record.get(name)
                text = None if value is None else str(value).strip() or None
                code = None if text is None else codes.get(text)
                row.append(nan if code is None else code)
                if code is None:
                    said.append(
                        missing_warning(name) if text is None else unseen_warning(name, text)
                    )
            for name in numeric:
                value = record.get(name)
                row.append(nan if value is None else float(value))
                if value is None:
                    said.append(missing_warning(name))
            rows.append(row)
            warnings.append(said)
        matrix = np.array(rows, dtype=float).reshape(len(records), len(self.fields))
        return matrix, warnings

    def encode_frame(self, frame: pd.DataFrame) -> tuple[np.ndarray, pd.Series, pd.Series]:
        """A table of raw leads (e.g. a CSV chunk) -> model matrix, warnings, rejection reasons
        (each row's messages joined by "; ", "" for none).

        A row is rejected (reason given) when a number or yes/no value cannot be read or a
        non-negative field is negative; missing and unseen values are warnings, as in the API.
        Messages are joined a column at a time, for the rows that have one: a list per row of
        a large chunk costs more in allocation and garbage collection than the scoring itself.
        """
        n = len(frame)
        matrix = np.full((n, len(self.fields)), np.nan)
        warnings, reasons = RowMessages(n), RowMessages(n)
        n_categorical = len(self.spec.categorical)
        for j, name in enumerate(self.fields):
            if name not in frame:
                warnings.add(np.ones(n, bool), missing_warning(name))
                continue
            column = frame[name]
            if j < n_categorical:
                # a chunk holds few distinct texts: clean and look up each once
                rows, distinct = pd.factorize(column.astype("string"))
                text = clean_text(pd.Series(distinct, dtype="string"))
                known = text.map(self.category_codes[j]).astype("float64").to_numpy()
                codes = np.append(known, np.nan)[rows]  # rows == -1: missing
                present = np.append(text.notna().to_numpy(), False)[rows]
                unseen = [unseen_warning(name, v) if pd.notna(v) else "" for v in text]
                warnings.add(present & np.isnan(codes), np.array([*unseen, ""], dtype=object)[rows])
                matrix[:, j] = codes
            else:
                present = column.notna().to_numpy()
                if name in self.spec.boolean:
                    values = (
                        parse_bool(column).astype("Float64").to_numpy(np.float64, na_value=np.nan)
                    )
                    invalid = f"{name}: not a valid value"
                elif name in self.inputs.units:  # read by normalise_frame; the rest refused
                    kind, fmt = self.inputs.units[name], number_format(self.inputs)
                    values = parse_values(column, kind, fmt).to_numpy()
                    invalid = f"{name}: {unparseable_reason(kind, fmt)}"
                    present = (
                        present
                        & (column.astype("string").str.strip() != "").fillna(False).to_numpy()
                    )
                else:
                    values = pd.to_numeric(column, errors="coerce").astype("float64").to_numpy()
                    invalid = f"{name}: not a valid value"
                reasons.add(present & np.isnan(values), invalid)
                reasons.add(np.isinf(values), f"{name}: must be finite")
                if name in self.spec.non_negative:
                    reasons.add(below_minimum(values), f"{name}: {NEGATIVE_REASON}")
                matrix[:, j] = np.where(np.isfinite(values), values, np.nan)
            warnings.add(~present, missing_warning(name))
        return matrix, warnings.joined(frame.index), reasons.joined(frame.index)

    # scoring ----------------------------------------------------------------------------

    def probability(self, raw: np.ndarray) -> np.ndarray:
        if len(self.calibrators) == 1:  # the mean of one is itself, without numpy's mean
            calibrated: np.ndarray = self.calibrators[0](raw)
        else:
            calibrated = np.mean([calibrate(raw) for calibrate in self.calibrators], axis=0)
        clipped: np.ndarray = np.clip(calibrated, 0.0, 1.0)
        return clipped

    def raw_output(self, matrix: np.ndarray) -> np.ndarray:
        """The model's raw output (log-odds) for encoded leads."""
        if self.linear is not None:
            return linear.raw_scores(self.linear, matrix)
        return trees.raw_scores(self.tree_arrays, matrix)

    def contributions(self, matrix: np.ndarray, parallel: bool = False) -> np.ndarray:
        """Per-field log-odds contributions: TreeSHAP for trees, exact terms for a regression
        (`parallel`: on numba's threads, for batch scoring)."""
        if self.linear is not None:
            return linear.contributions(self.linear, matrix)
        return trees.contributions(self.tree_arrays, matrix, parallel=parallel)

    def uses_field(self, j: int) -> bool:
        """Can field j change the raw output at all?"""
        if self.linear is not None:
            return True
        return len(trees.trees_using(self.tree_arrays, j)) > 0

    def field_output(self, matrix: np.ndarray, j: int) -> np.ndarray:
        """The part of the raw output that depends on field j (the rest does not move with it)."""
        if self.linear is not None:
            return linear.field_scores(self.linear, matrix, j)
        arrays = self.tree_arrays
        return trees.raw_scores(arrays, matrix, trees.trees_using(arrays, j))

    def score(self, matrix: np.ndarray, reasons: bool = False, parallel: bool = False) -> Scored:
        raw = self.raw_output(matrix)
        probability = self.probability(raw)
        return Scored(
            raw=raw,
            probability=probability,
            score=self.grading.score(probability, raw),
            grade=self.grading.grade(probability),
            contributions=self.contributions(matrix, parallel) if reasons else None,
        )

    # the guarantee ------------------------------------------------------------------------

    def probe_frame(self, seed: int = 0, rows: int = 400) -> pd.DataFrame:
        """Leads that walk every known category, unseen and missing values, numbers near splits."""
        rng = np.random.default_rng(seed)
        data: dict[str, list[Any]] = {}
        for j, name in enumerate(self.spec.categorical):
            known = list(self.category_codes[j]) or ["?"]
            column: list[Any] = [known[i % len(known)] for i in range(rows)]
            column[-1], column[-2] = None, "__never_seen__"
            data[name] = column
        if self.trees is not None:
            inner = ~self.trees.is_leaf
            splits, split_feature = self.trees.split[inner], self.trees.links[inner, 0]
        else:  # a regression has no cut points: numbers spread over a wide range
            splits, split_feature = np.zeros(0), np.zeros(0, dtype=np.int32)
        for offset, name in enumerate(self.spec.numeric + self.spec.boolean):
            j = len(self.spec.categorical) + offset
            cuts = splits[split_feature == j]
            if name in self.spec.boolean:
                column = list(rng.integers(0, 2, rows).astype(bool))
            elif len(cuts):
                column = list(rng.choice(cuts, rows) + rng.choice([-1e-6, 0.0, 1e-6], rows))
            else:
                column = list(rng.uniform(0, 100, rows))
            column[-3] = None
            data[name] = column
        return pd.DataFrame(data)

    def check_against(self, pipeline: Any) -> float:
        """Max |compiled - pipeline| probability and raw output (the score's source) on the
        probe leads; raise above tolerance."""
        probe = self.probe_frame()
        expected = pipeline.predict_proba(probe)[:, 1]
        matrix, _ = self.encode_records(
            probe.astype(object).where(probe.notna(), None).to_dict("records")
        )
        got = self.score(matrix)
        gap = max(
            float(np.max(np.abs(got.probability - expected))),
            float(np.max(np.abs(got.raw - raw_output(pipeline, probe)))),
        )
        if not gap <= PARITY_TOLERANCE:
            raise CompileError(
                f"compiled scorer differs from the pipeline by {gap:.2e} (> {PARITY_TOLERANCE:g}); "
                "refusing to serve it"
            )
        return gap

    def warm_up(self) -> None:
        """Run the compiled kernels once so the first request does not pay for them."""
        matrix, _ = self.encode_records([{}])
        self.score(matrix, reasons=True)
