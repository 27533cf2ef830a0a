"""Core: configuration, the lead schema, value tokens, io, statistics. Imports nothing of ours."""
