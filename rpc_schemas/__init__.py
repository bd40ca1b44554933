"""JSON Schemas of the conductor's RPC methods: the internal contract.

One file per method, named after it. Both ends validate: the client before it
casts, the server on receipt. Shipped as package data so an installed
(non-editable) caas finds them.
"""

import functools
import importlib.resources
import json

import jsonschema


@functools.lru_cache(maxsize=None)
def load(method):
    text = importlib.resources.files(__name__).joinpath(
        method + '.json').read_text(encoding='utf-8')
    schema = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


def methods():
    """Names of every method that has a schema."""
    return sorted(p.name[:-5] for p in importlib.resources.files(__name__).iterdir()
                  if p.name.endswith('.json'))


@functools.lru_cache(maxsize=None)
def _validator(method):
    # Built once per method: a FormatChecker and a validator per cast were
    # most of what a cast cost the caller before it reached the broker.
    return jsonschema.Draft202012Validator(
        load(method), format_checker=jsonschema.FormatChecker())


def validate(method, kwargs):
    """Raise jsonschema.ValidationError if kwargs do not match the schema."""
    _validator(method).validate(kwargs)
