"""The root of leadscore's expected failures: a bad parameter file, an unreadable lead table, a
bundle that cannot be trusted. The CLI turns any of them into a one-line error without
importing the rooms they come from."""

from __future__ import annotations


class LeadscoreError(Exception):
    """An expected failure whose message tells the user what to fix."""
