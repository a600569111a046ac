"""Typed values of YAML / ROS-parameter configs: a wrong type is a ValueError naming the key.

YAML 1.1 reads ``1e9`` as a string and users write ``threshold: abc``; without these checks
such values surface later as a TypeError deep inside a comparison, naming nothing.

>>> typed_value("1e9", "int", "evidence.max_bytes")
1000000000
>>> typed_value("abc", "float", "regions.threshold")
Traceback (most recent call last):
...
ValueError: pipeline option 'regions.threshold' must be a float, got 'abc'
"""
from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

KINDS = ("int", "float", "str", "bool")
_Settings = TypeVar("_Settings")  # the settings dataclass dataclass_from_dict builds


def typed_value(value: Any, kind: str, key: str) -> int | float | str | bool:
    """``value`` as ``kind`` (one of ``KINDS``): numbers may come as numeric strings, an int must
    be integral, a bool is not a number."""
    try:
        if kind in ("str", "bool"):
            if isinstance(value, str if kind == "str" else bool):
                return value
            raise ValueError
        if isinstance(value, bool):
            raise ValueError
        number = float(value)
        if number != number:  # NaN passes every range check that compares with it
            raise ValueError
        if kind == "int":
            if not number.is_integer():
                raise ValueError
            return int(number)
        return number
    except (TypeError, ValueError):
        raise ValueError(f"pipeline option '{key}' must be {'an' if kind == 'int' else 'a'} {kind}, "
                         f"got {value!r}") from None


def typed_section(cls: type, values: Any, where: str) -> dict:
    """A config section for dataclass ``cls``, each value typed as its field says (fields of
    other types pass as they are); a section that is not a mapping is a ValueError naming it."""
    if not isinstance(values, dict):
        raise ValueError(f"pipeline option '{where}' must be a mapping, got {values!r}")
    kinds = {f.name: f.type for f in dataclasses.fields(cls)}
    return {k: typed_value(v, kinds[k], f"{where}.{k}") if kinds.get(k) in KINDS else v for k, v in values.items()}


def dataclass_from_dict(cls: type[_Settings], data: Any, source: str, what: str) -> _Settings:
    """``cls(**data)`` for a settings dataclass: a non-mapping, unknown keys or a rejected value is
    a ValueError starting with ``source`` and naming the keys (``what``: "RAE", "training", ...).

    >>> from tvau_ros.core.rae import RAEConfig
    >>> dataclass_from_dict(RAEConfig, {"n_base": 2, "width": 3},
    ...                     "rae.yaml", "RAE")  # doctest: +NORMALIZE_WHITESPACE
    Traceback (most recent call last):
    ...
    ValueError: rae.yaml: unknown RAE setting(s) ['width']; known: ['bias', 'conv_channels', 'conv_layers',
    'mlp_hidden', 'n_base']
    """
    if not isinstance(data, dict):
        raise ValueError(f"{source}: expected a mapping of {what} settings")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{source}: unknown {what} setting(s) {unknown}; known: {sorted(known)}")
    try:
        return cls(**data)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{source}: {exc}") from None
