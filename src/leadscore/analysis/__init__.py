"""Analysis: evaluation, importance and the scorecard (for data scientists and analysts)."""
