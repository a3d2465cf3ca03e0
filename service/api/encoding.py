"""One JSON encoder for the large answers (matches, shortlists): orjson over plain values.

Building ~300 pydantic objects per matches answer to serialise them was a third of the
request's CPU outside the engine. orjson writes plain dicts, lists, strings, dates and floats
byte for byte as pydantic writes the response models (floats by their shortest round-trip
form, ``1e-7`` not ``1e-07``, ``-0.0``, NaN and infinity as ``null``, dates as ISO text,
non-ASCII unescaped): checked over a million floats and every code point when this was
chosen, and by ``tests/e2e/test_api_request_path.py`` on whole answers.

The audit entry's digest (:func:`service.api.audit.response_digest`) is the sha256 of the
items' JSON as a JSON array; :func:`items_digest` computes it from the bytes the answer is
made of, and :class:`Fragment` embeds those bytes in the answer without writing them again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import orjson

__all__ = ["Fragment", "array_digest", "items_digest", "to_json"]

#: Bytes that are already JSON, embedded as they are (``orjson.Fragment``).
Fragment = orjson.Fragment


def to_json(value: object) -> bytes:
    """``value`` as compact JSON bytes (what pydantic's ``to_json`` writes for the models)."""
    return orjson.dumps(value)


def items_digest(items: Sequence[bytes]) -> str:
    """:func:`service.api.audit.response_digest` of the models whose JSON ``items`` are."""
    return hashlib.sha256(b"[" + b",".join(items) + b"]").hexdigest()


def array_digest(array: bytes) -> str:
    """:func:`items_digest` of a JSON array's items, from the array's bytes as written here."""
    return hashlib.sha256(array).hexdigest()
