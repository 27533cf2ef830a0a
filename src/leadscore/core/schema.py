"""The lead schema the model reads: input fields by kind, and the input normalisation that turns
a raw CRM row into those fields (both stored in the model card; the rules are applied by
leadscore.data.inputs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from leadscore.core import fields

DEFAULT_NUMBER_FORMAT = {"decimal": ".", "thousands": ","}
MADE_ID_RULE = (
    "row- + sha256 of the row's raw values in the fields known at creation (made_id.columns: "
    "no outcome, status, date, value, follow-up, post-contact or outcome-filled field), first "
    "12 hex digits; -2, -3, ... for repeats of identical values in file order"
)


@dataclass(frozen=True)
class FeatureSpec:
    """The lead fields the model reads, by kind. Stored in the model card."""

    categorical: tuple[str, ...]
    numeric: tuple[str, ...]
    boolean: tuple[str, ...]
    non_negative: tuple[str, ...] = ()  # numeric fields whose valid values are >= 0

    @property
    def fields(self) -> tuple[str, ...]:
        return (*self.categorical, *self.numeric, *self.boolean)

    def to_dict(self) -> dict[str, list[str]]:
        return {key: list(value) for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        keys = ("categorical", "numeric", "boolean", "non_negative")
        return cls(**{key: tuple(data.get(key, ())) for key in keys})


@dataclass(frozen=True)
class Lookup:
    """A joined table: matched on `key`, it gives `columns` (its column -> the lead's field)."""

    table: str
    key: str
    match_keys: str = "exact"  # "exact" | "normalised"
    columns: dict[str, str] = field(default_factory=dict)

    @property
    def normalised(self) -> bool:
        return self.match_keys == "normalised"


@dataclass(frozen=True)
class InputNormalisation:
    """What turns a raw row into model inputs; see the module docstring for the order."""

    id_column: str = fields.LEAD_ID  # the export's column read as the lead id
    made_id_columns: tuple[str, ...] = ()  # set when the id is made from these raw values
    missing_values: tuple[str, ...] = ()
    lookups: tuple[Lookup, ...] = ()
    units: dict[str, str] = field(default_factory=dict)  # column -> money | percent | number
    number_format: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_NUMBER_FORMAT))
    headers: dict[str, Any] = field(default_factory=dict)  # renamed duplicated header names
    # behaviour features from activity events: their definition and moment of scoring
    # (leadscore.data.behaviour.record); None: the model reads no events
    behaviour: dict[str, Any] | None = None

    @property
    def made_id(self) -> bool:
        return bool(self.made_id_columns)

    @property
    def keys(self) -> tuple[str, ...]:
        """The raw fields a caller sends so that joined fields can be looked up."""
        return tuple(dict.fromkeys(lookup.key for lookup in self.lookups))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id_column": self.id_column,
            "made_id": {"rule": MADE_ID_RULE, "columns": list(self.made_id_columns)}
            if self.made_id
            else None,
            "missing_values": list(self.missing_values),
            "lookups": [
                {"table": u.table, "key": u.key, "match_keys": u.match_keys, "columns": u.columns}
                for u in self.lookups
            ],
            "units": dict(self.units),
            "number_format": dict(self.number_format),
            "headers": dict(self.headers),
            **({"behaviour": self.behaviour} if self.behaviour else {}),
            "rules": [
                "duplicated header names renamed: Name, Name (2), Name (3), ... in file order",
                "lead id from the id column (or made from the fields known at creation)",
                "joined fields looked up by key in the sealed tables; values sent are kept",
                "missing-value tokens and empty text are missing; text is stripped",
                "money, percent and number columns read by leadscore.core.units "
                "with the export's number_format",
            ],
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any] | None) -> InputNormalisation:
        if not record:  # a bundle sealed before inputs were recorded: the built-in roles
            return cls()
        made = record.get("made_id") or {}
        return cls(
            id_column=record.get("id_column") or fields.LEAD_ID,
            made_id_columns=tuple(made.get("columns", ())),
            missing_values=tuple(record.get("missing_values", ())),
            lookups=tuple(
                Lookup(u["table"], u["key"], u.get("match_keys", "exact"), dict(u["columns"]))
                for u in record.get("lookups", ())
            ),
            units=dict(record.get("units") or {}),
            number_format=dict(record.get("number_format") or DEFAULT_NUMBER_FORMAT),
            headers=dict(record.get("headers") or {}),
            behaviour=record.get("behaviour"),
        )

    def restricted_to(self, used: Sequence[str]) -> InputNormalisation:
        """Only the joined fields in `used` (the model's inputs); tables giving none are gone."""
        wanted = set(used)
        lookups = []
        for lookup in self.lookups:
            columns = {c: name for c, name in lookup.columns.items() if name in wanted}
            if columns:
                lookups.append(Lookup(lookup.table, lookup.key, lookup.match_keys, columns))
        return InputNormalisation(
            self.id_column,
            self.made_id_columns,
            self.missing_values,
            tuple(lookups),
            {name: kind for name, kind in self.units.items() if name in wanted},
            self.number_format,
            self.headers,
            self.behaviour,
        )
