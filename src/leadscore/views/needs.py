"""What a view cannot show for lack of data, and the configuration key that provides it.

Views build for every export: a section whose data are missing says so in one sentence, e.g.
"Channel economics needs each lead's channel (set data.channel_column).", instead of failing.
"""

from __future__ import annotations

# what is missing -> (what the section needs, in words; the key that provides it)
NEEDED = {
    "channel": ("each lead's channel", "data.channel_column"),
    "cost": ("the marketing cost of each lead", "data.cost_column"),
    "deal_value": ("the value of won deals", "data.value_column"),
    "dates": ("the leads' creation dates", "data.created_column"),
    "first_contact": (
        "each lead's first sales contact (date and time)",
        "data.first_contact_column",
    ),
}


def need(section: str, missing: str) -> dict:
    """One missing input of a section: what it is, the key that provides it, and a sentence."""
    what, key = NEEDED[missing]
    return {
        "section": section,
        "missing": missing,
        "key": key,
        "message": f"{section} needs {what} (set {key}).",
    }
