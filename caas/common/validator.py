"""The JSON Schema validator of REST bodies and driver labels.

JSON Schema's ``pattern`` is an ECMA-262 regular expression, in which ``$``
(without the multiline flag) matches only at the very end of the string.
Python's ``$`` also matches before a final newline, so with the stock
``jsonschema`` validator ``"demo\\n"`` passes ``^[a-z]+$``: a name or a
label with a trailing newline would reach the database and the stack's
user data. :data:`Validator` is Draft 7 with ``$`` read as ECMA does.
"""

import functools
import re

import jsonschema
from jsonschema import exceptions as js_exceptions


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern):
    """``pattern`` compiled for Python with every end anchor ``$`` (outside
    a character class, not escaped) turned into ``\\Z``."""
    out = []
    in_class = False
    escaped = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == '\\':
            escaped = True
        elif in_class:
            in_class = char != ']'
        elif char == '[':
            in_class = True
        elif char == '$':
            char = r'\Z'
        out.append(char)
    return re.compile(''.join(out))


def _pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, 'string') and \
            not compile_pattern(pattern).search(instance):
        yield js_exceptions.ValidationError(
            '%r does not match %r' % (instance, pattern))


Validator = jsonschema.validators.extend(
    jsonschema.Draft7Validator, {'pattern': _pattern})
