"""Scoring: the compiled scorer, its trees, bundle loading, batch scoring and the scoring log."""
