"""Data: the built-in CRM generator, export readers, ingest, the leakage review and the split."""
