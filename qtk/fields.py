"""`setting(...)`: a dataclass field carrying its help text and checks (min, max, choices, registry
kind). The one helper behind every setting, in qtk.config and in components' settings dataclasses
alike, so that the TOML key, `--set`, `--help` and the man page all read the same text. No torch."""

from __future__ import annotations

from dataclasses import field
from typing import Any


def setting(default: Any, help: str, **meta: Any) -> Any:
    """A dataclass field with help text; a list/dict default is copied per instance."""
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **meta})
    return field(default=default, metadata={"help": help, **meta})
