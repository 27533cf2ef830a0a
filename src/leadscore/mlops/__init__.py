"""MLOps: MLflow tracking and the model registry (champion / challenger)."""
