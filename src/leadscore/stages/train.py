"""DVC stage `train`: file I/O around leadscore.model.train."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from leadscore.core.card import ModelCard, TrainingRun
from leadscore.core.config import load_params
from leadscore.core.io import read_json
from leadscore.core.schema import FeatureSpec
from leadscore.data.inputs import INPUTS_FILE, sealed_inputs
from leadscore.model.bundle import canonical_parameters, save_fitted
from leadscore.model.train import train_models

log = logging.getLogger(__name__)


def main(
    params_path: Path = Path("params.yaml"),
    data_dir: Path = Path("data/processed"),
    model_dir: Path = Path("models"),
    features_path: Path = Path("data/interim/features.json"),
    inputs_path: Path = Path("data/raw") / INPUTS_FILE,
) -> ModelCard:
    from leadscore.mlops import tracking

    params = load_params(params_path)
    train = pd.read_parquet(data_dir / "train.parquet")
    valid = pd.read_parquet(data_dir / "valid.parquet")
    inputs = read_json(features_path) if features_path.is_file() else None
    log.info("train: fitting on %d leads, calibrating on %d", len(train), len(valid))
    candidates = FeatureSpec.from_dict(inputs) if inputs else None
    pipeline, baseline, card = train_models(train, valid, params, candidates)
    example = valid[list(card.spec.fields)].head(5)
    record = read_json(inputs_path) if inputs_path.is_file() else {}
    card.inputs, lookups = sealed_inputs(record, card.spec.fields)
    canonical_parameters(pipeline)  # the model as saved (same bytes on any machine)
    canonical_parameters(baseline)
    datasets = {
        name: (frame, file_md5(data_dir / f"{name}.parquet"))
        for name, frame in (("train", train), ("valid", valid))
    }
    card.mlflow = TrainingRun.model_validate(
        tracking.log_training_run(params, pipeline, card, example, datasets)
    )
    save_fitted(model_dir, pipeline, baseline, card, lookups)
    log.info("train: %s valid AUC %.4f", card.model_version, card.metrics.valid_roc_auc)
    return card


def file_md5(path: Path) -> str:
    """The file's MD5, as `dvc.lock` records it."""
    import hashlib

    return hashlib.md5(path.read_bytes()).hexdigest()
