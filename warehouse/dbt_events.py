"""dbt's log events built by protobuf's constructors instead of its pure-Python JSON parser.

dbt builds every event it emits (~2,100 a pilot build, ~15,000 when it ran 267 nodes: each SQL
statement, each node's start and end) from keyword arguments with protobuf's `json_format.ParseDict`,
twice (the event, then the message around it: dbt_common/events/base_types.py). ParseDict walks the
dict in pure Python: ~10% of a pilot build's CPU (py-spy, 2026-12-03), ~30 us an event.

`parse_dict` gives the same message, built in C by the message class's constructor, for the
dicts dbt passes: fields named as declared, str/int/float/bool values of the declared types,
nested dicts for messages, lists for repeated fields, maps keyed by strings, Timestamps as RFC 3339
strings (protobuf's own `FromJsonString`, as ParseDict uses) and Structs (through ParseDict
itself). Anything else, and anything the constructor refuses, goes to ParseDict unchanged,
so every conversion ParseDict would make, and every error it would raise, is its own.
`install()` hands it to dbt_common's events for the runs psw starts in its process
(warehouse/dbt_runner.py); tests/core/test_dbt_events.py checks, over a whole build, that it
gives byte for byte the message ParseDict gives for every event dbt emits.

Each line dbt's loggers write is first scrubbed of the values of `DBT_ENV_SECRET*` variables, which
dbt_common's `env_secrets` finds by decoding every name and value of the environment (~27 us a
line, ~2,000 lines a pilot build); `env_secrets` here finds the same values from the environment's
bytes, decoding only the secrets' (~4 us), and `install()` gives it to the scrubber.
"""

from __future__ import annotations

import datetime
import math
import os
import re

from google.protobuf import json_format, message_factory
from google.protobuf.descriptor import FieldDescriptor

_STRUCT, _TIMESTAMP = "google.protobuf.Struct", "google.protobuf.Timestamp"
_INTS = {FieldDescriptor.CPPTYPE_INT32, FieldDescriptor.CPPTYPE_INT64,
         FieldDescriptor.CPPTYPE_UINT32, FieldDescriptor.CPPTYPE_UINT64}
_FLOAT32_MAX = 3.4028234663852886e38
# ParseDict refuses a string with half a surrogate pair
_UNPAIRED_SURROGATE = re.compile("[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]")


class _ParseDictDecides(Exception):
    """A value the fast path does not build: ParseDict converts it (or refuses it) itself."""


_plans: dict = {}     # message full name -> {key ParseDict would match: (declared name, kind, detail)}
_classes: dict = {}   # message full name -> its class
_STRING, _BOOL, _INT, _FLOAT, _FLOAT32, _MESSAGE, _MAP, _REPEATED_MESSAGE, _REPEATED, _OTHER = range(10)
_CANONICAL_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z")
_EPOCH = datetime.datetime(1970, 1, 1)


def parse_dict(js_dict, message, **options):
    """`json_format.ParseDict(js_dict, message)`, built by the constructor where it can be."""
    if options or type(js_dict) is not dict:
        return json_format.ParseDict(js_dict, message, **options)
    try:
        built = type(message)(**_arguments(message.DESCRIPTOR, js_dict))
    except Exception:  # noqa: BLE001 (_ParseDictDecides, or a value the constructor refuses)
        return json_format.ParseDict(js_dict, message)
    message.MergeFrom(built)
    return message


def install() -> None:
    """Build dbt's events with `parse_dict`, and scrub their lines with `env_secrets`, in this process."""
    from dbt_common.events import base_types, functions

    base_types.ParseDict = parse_dict
    if getattr(os.environ, "_data", None) is not None:   # CPython's environ: its bytes by name
        functions.env_secrets = env_secrets


def env_secrets() -> list[str]:
    """dbt_common's `env_secrets()`: the value of every DBT_ENV_SECRET* variable that is not blank."""
    from dbt_common.constants import SECRET_ENV_PREFIX

    prefix = os.environ.encodekey(SECRET_ENV_PREFIX)
    found = [os.environ.decodevalue(value) for name, value in os.environ._data.items() if name.startswith(prefix)]
    return [value for value in found if value.strip()]


def _plan(descriptor) -> dict:
    plan = _plans.get(descriptor.full_name)
    if plan is None:
        steps = {f.name: _step(f) for f in descriptor.fields}
        # ParseDict matches a key to a field's JSON name first, then to its declared name
        plan = _plans[descriptor.full_name] = {**steps, **{f.json_name: steps[f.name] for f in descriptor.fields}}
    return plan


def _step(field) -> tuple:
    kind = field.cpp_type
    if field.containing_oneof is not None:
        return field.name, _OTHER, None
    if kind == FieldDescriptor.CPPTYPE_MESSAGE:
        entry = field.message_type
        if entry.GetOptions().map_entry:
            key, value = entry.fields_by_name["key"], entry.fields_by_name["value"]
            if key.cpp_type != FieldDescriptor.CPPTYPE_STRING or value.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
                return field.name, _OTHER, None
            return field.name, _MAP, (_step(key)[1], _step(value)[1])
        return field.name, _REPEATED_MESSAGE if field.is_repeated else _MESSAGE, entry
    if kind == FieldDescriptor.CPPTYPE_STRING:
        scalar = _OTHER if field.type == FieldDescriptor.TYPE_BYTES else _STRING
    elif kind == FieldDescriptor.CPPTYPE_BOOL:
        scalar = _BOOL
    elif kind in _INTS:
        scalar = _INT
    elif kind == FieldDescriptor.CPPTYPE_DOUBLE:
        scalar = _FLOAT
    elif kind == FieldDescriptor.CPPTYPE_FLOAT:
        scalar = _FLOAT32
    else:   # enums: by name or number, ParseDict's rules
        scalar = _OTHER
    return (field.name, _REPEATED, scalar) if field.is_repeated else (field.name, scalar, None)


def _arguments(descriptor, js: dict) -> dict:
    plan = _plan(descriptor)
    out = {}
    for key, value in js.items():
        step = plan.get(key)
        if step is None:
            raise _ParseDictDecides(key)
        name, kind, detail = step
        if value is None:
            if kind == _MESSAGE and detail.full_name == "google.protobuf.Value" or kind == _OTHER:
                raise _ParseDictDecides(name)
            continue   # ParseDict clears the field: here it is never set
        if kind == _MESSAGE:
            out[name] = _message(detail, value)
        elif kind == _REPEATED_MESSAGE:
            if type(value) is not list:
                raise _ParseDictDecides(name)
            out[name] = [_message(detail, item) for item in value]
        elif kind == _MAP:
            if type(value) is not dict:
                raise _ParseDictDecides(name)
            key_kind, value_kind = detail
            out[name] = {_scalar(key_kind, k): _scalar(value_kind, v) for k, v in value.items()}
        elif kind == _REPEATED:
            if type(value) is not list:
                raise _ParseDictDecides(name)
            out[name] = [_scalar(detail, item) for item in value]
        else:
            out[name] = _scalar(kind, value)
    return out


def _message(descriptor, value):
    name = descriptor.full_name
    cls = _classes.get(name)
    if cls is None:
        cls = _classes[name] = message_factory.GetMessageClass(descriptor)
    if name == _TIMESTAMP and type(value) is str:
        return _timestamp(cls, value)
    if name == _STRUCT and type(value) is dict:
        return json_format.ParseDict(value, cls())
    if name.startswith("google.protobuf.") or type(value) is not dict:
        raise _ParseDictDecides(name)
    return cls(**_arguments(descriptor, value))


def _timestamp(cls, value: str):
    """What Timestamp.FromJsonString (ParseDict's way) makes of `value`; the shape dbt writes
    (2026-12-03T14:00:00.123456Z) without its strptime, any other shape by it."""
    shape = _CANONICAL_TIME.fullmatch(value)
    try:
        if shape is None:
            raise ValueError(value)
        moment = datetime.datetime(*map(int, shape.groups()[:6])) - _EPOCH
        fraction = shape[7]
        return cls(seconds=moment.days * 86400 + moment.seconds,
                   nanos=round(float("0." + fraction) * 1e9) if fraction else 0)
    except ValueError:
        stamp = cls()
        stamp.FromJsonString(value)
        return stamp


def _scalar(kind, value):
    cls = type(value)
    if kind == _STRING:
        if not isinstance(value, str) or not value.isascii() and _UNPAIRED_SURROGATE.search(value):
            raise _ParseDictDecides(kind)
    elif kind == _INT:
        if cls is not int:
            raise _ParseDictDecides(kind)
    elif kind == _FLOAT or kind == _FLOAT32:
        if cls is not float and cls is not int or not math.isfinite(value) or (
                kind == _FLOAT32 and abs(value) > _FLOAT32_MAX):
            raise _ParseDictDecides(kind)
    elif kind != _BOOL or cls is not bool:
        raise _ParseDictDecides(kind)
    return value
