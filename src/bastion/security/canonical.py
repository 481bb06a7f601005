"""Canonical JSON (RFC 8785, the JSON Canonicalization Scheme).

One byte string per value, whatever the key order or number spelling it came
with: object members sorted by their UTF-16 code units, no insignificant
whitespace, strings escaped as ECMAScript's ``JSON.stringify`` does, numbers in
ECMAScript's shortest round-trip form. Hashes and signatures over JSON need it.

>>> canonical_json({"b": [1, 2.5, None], "a": "é", "c": 1e21}).decode()
'{"a":"é","b":[1,2.5,null],"c":1e+21}'
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

__all__ = ["canonical_json"]

_strings = json.JSONEncoder(ensure_ascii=False)


def canonical_json(value: Any) -> bytes:
    """The RFC 8785 form of ``value`` (dicts, lists, str, int, float, bool, None), UTF-8."""
    return _serialize(value).encode("utf-8")


def _serialize(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _strings.encode(value)
    if isinstance(value, int):
        return _number(float(value)) if abs(value) >= 2**53 else str(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, Mapping):
        keys = sorted(value, key=_utf16_key)
        return "{" + ",".join(f"{_serialize(k)}:{_serialize(value[k])}" for k in keys) + "}"
    if isinstance(value, Sequence):
        return "[" + ",".join(_serialize(item) for item in value) + "]"
    raise TypeError(f"canonical JSON has no form for {type(value).__name__}")


def _utf16_key(key: Any) -> bytes:
    if not isinstance(key, str):
        raise TypeError("canonical JSON object keys must be strings")
    return key.encode("utf-16-be", "surrogatepass")


def _number(value: float) -> str:
    """ECMAScript's Number::toString: the shortest digits that round-trip, in
    plain notation for exponents -7 < e < 21, scientific otherwise."""
    if not math.isfinite(value):
        raise ValueError("canonical JSON has no form for NaN or infinity")
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # repr gives the shortest digits that round-trip; Decimal splits them out.
    parts = Decimal(repr(abs(value))).normalize().as_tuple()
    digits = "".join(map(str, parts.digits))
    point = len(digits) + int(parts.exponent)  # the decimal point sits after this digit
    k = len(digits)
    if k <= point <= 21:
        return sign + digits + "0" * (point - k)
    if 0 < point <= 21:
        return sign + digits[:point] + "." + digits[point:]
    if -6 < point <= 0:
        return sign + "0." + "0" * -point + digits
    exponent = point - 1
    body = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{sign}{body}e{'+' if exponent > 0 else '-'}{abs(exponent)}"
