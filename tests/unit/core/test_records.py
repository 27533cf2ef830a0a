"""grading.json and metrics.json as typed records: read back to the same bytes, typed
attributes for their readers, and a clear error naming the file and the key at fault."""

from __future__ import annotations

import json

import pytest

from leadscore.core.io import write_json
from leadscore.core.records import EvaluationMetrics, GradingRecord, RecordError
from leadscore.model.bundle import GRADING_FILE


def test_a_grading_record_reads_typed_and_writes_the_same_bytes(tiny_bundle_dir, tmp_path):
    path = tiny_bundle_dir / GRADING_FILE
    record = GradingRecord.read(path)
    assert set(record.thresholds) == {"A", "B", "C"} and record.model_version
    assert all(row.binding for row in record.derivation.grades.values())
    write_json(tmp_path / "again.json", record.to_record())
    assert (tmp_path / "again.json").read_bytes() == path.read_bytes()


def test_a_whole_number_stays_whole_and_unknown_keys_stay():
    figures = {"model_version": "v", "leads": 7, "base_rate": 0, "roc_auc": 0.5, "ece": 0.1}
    record = EvaluationMetrics.from_record({**figures, "top_lift": 2, "new_figure": 3})
    assert record.to_record() == {**figures, "top_lift": 2, "new_figure": 3}
    assert json.dumps(record.to_record()["top_lift"]) == "2"


def test_a_missing_key_is_named_with_the_file(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"model_version": "v", "leads": 3, "roc_auc": 0.7}))
    with pytest.raises(RecordError, match="metrics.json: missing key 'base_rate'"):
        EvaluationMetrics.read(path)
