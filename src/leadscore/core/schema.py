"""The lead schema the model reads: input fields by kind (stored in the model card)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


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
    def from_dict(cls, data: dict) -> FeatureSpec:
        keys = ("categorical", "numeric", "boolean", "non_negative")
        return cls(**{key: tuple(data.get(key, ())) for key in keys})
