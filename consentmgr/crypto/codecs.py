"""Byte encodings for the Python types stored in encrypted fields."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Codec:
    """How one Python type becomes bytes before encryption, and back."""

    name: str
    encode: Callable[[Any], bytes]
    decode: Callable[[bytes], Any]


TEXT = Codec("text", str.encode, bytes.decode)
DATE = Codec(
    "date",
    lambda value: value.isoformat().encode(),
    lambda raw: dt.date.fromisoformat(raw.decode()),
)
# Canonical JSON (sorted keys, no spaces) so equal documents encrypt equal-sized.
JSON = Codec(
    "json",
    lambda value: json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(),
    lambda raw: json.loads(raw),
)
