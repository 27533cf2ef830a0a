"""Model: features, training, grade thresholds and the sealed model bundle."""
