"""Request text checked before anything uses it: hostile input is a 400.

Every string a request carries (the URL path, query parameters, headers and
every key and value of a JSON body) must be text a database can store: valid
UTF-8 without NUL characters (PostgreSQL refuses ``\\x00``; a lone surrogate
such as ``"\\ud800"`` cannot be encoded at all). A JSON body is nested at
most :data:`MAX_JSON_DEPTH` levels, checked by a linear scan of the text
*before* it is parsed, so that no parser, validator or patch applier ever
recurses deeply enough to raise ``RecursionError``. Its numbers must be
finite (``NaN``/``Infinity`` are not JSON and do not round-trip).

:class:`InputGuardMiddleware` checks the path, the query string and the
headers of every request; :func:`parse_json` checks a body when a
controller reads it (``caas.api.request.json_body``).
"""

import json
import math
import re
from urllib import parse

from caas.api import errors
from caas.common import exceptions

MAX_JSON_DEPTH = 32
# Longest value echoed back in an error message: enough to recognise it.
ECHO_CHARS = 80
# Identity headers end up in the database (project_id, user_id columns).
MAX_IDENTITY_HEADER = 255
IDENTITY_HEADERS = ('HTTP_X_PROJECT_ID', 'HTTP_X_USER_ID',
                    'HTTP_X_TENANT_ID', 'HTTP_X_USER_NAME',
                    'HTTP_X_PROJECT_NAME', 'HTTP_X_DOMAIN_ID',
                    'HTTP_X_USER_DOMAIN_ID', 'HTTP_X_PROJECT_DOMAIN_ID')

_JSON_TOKENS = re.compile(r'["\\\[\]{}]')
_SURROGATE = re.compile('[\ud800-\udfff]')


def _invalid(err):
    return exceptions.InvalidParameterValue(err=err)


def shorten(value, limit=ECHO_CHARS):
    """``value`` fit for an error message: non-printable characters escaped,
    cut to ``limit`` characters (a 50,000-character value is not echoed)."""
    text = value if isinstance(value, str) else repr(value)
    shown = ''.join(c if c.isprintable() else repr(c)[1:-1]
                    for c in text[:limit])
    if len(text) > limit:
        return '%s... (%d characters)' % (shown, len(text))
    return shown


def text_problem(value):
    """Why ``value`` cannot be stored as text, or None if it can."""
    if '\x00' in value:
        return 'contains a NUL character (\\u0000)'
    match = _SURROGATE.search(value)
    if match:
        return ('contains a lone surrogate (\\u%04x), which is not valid '
                'Unicode text' % ord(match.group()))
    return None


def check_text(value, where):
    """Raise a 400 naming ``where`` if ``value`` is not storable text."""
    problem = text_problem(value)
    if problem:
        raise _invalid('Invalid input for %s: the value %s.' % (where,
                                                                problem))


def json_too_deep(text, limit=MAX_JSON_DEPTH):
    """True if the JSON ``text`` nests arrays/objects deeper than ``limit``.

    One pass over the structural characters, no recursion and no parsing:
    brackets inside strings do not count (escaped quotes are skipped).
    """
    depth = 0
    in_string = False
    skip_to = -1
    for match in _JSON_TOKENS.finditer(text):
        pos = match.start()
        if pos < skip_to:
            continue        # the character after a backslash
        char = text[pos]
        if in_string:
            if char == '\\':
                skip_to = pos + 2
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in '[{':
            depth += 1
            if depth > limit:
                return True
        elif char in ']}':
            depth -= 1
    return False


def _finite(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError('number %s is out of range' % shorten(text))
    return value


def _no_constants(name):
    raise ValueError('%s is not a JSON number' % name)


def check_json_strings(value):
    """400 naming the field of the first key or string that is not text.

    Iterative (the depth is already bounded, but no recursion is needed).
    """
    stack = [((), value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            _check_field(path, item)
        elif isinstance(item, dict):
            for key, val in item.items():
                _check_field(path + (key,), key, is_key=True)
                stack.append((path + (key,), val))
        elif isinstance(item, list):
            stack.extend((path + (str(i),), v) for i, v in enumerate(item))


def _check_field(path, text, is_key=False):
    problem = text_problem(text)
    if problem:
        field = '/'.join(shorten(p, 40) for p in path) or '(body)'
        what = 'a key of' if is_key else 'field/attribute'
        raise _invalid('Invalid input for %s %s: the %s %s.' % (
            what, field, 'key' if is_key else 'value', problem))


def parse_json(raw):
    """The request body ``raw`` (bytes) as JSON, every check passed.

    :raises: InvalidParameterValue (400) naming what is wrong.
    """
    if not raw.strip():
        raise _invalid('Invalid input: the request body is empty; a JSON '
                       'body is required.')
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError as exc:
        raise _invalid('Malformed JSON in the request body: it is not valid '
                       'UTF-8 (byte %d).' % exc.start)
    if json_too_deep(text):
        raise _invalid('Invalid input: the JSON body is nested more than %d '
                       'levels deep.' % MAX_JSON_DEPTH)
    try:
        value = json.loads(text, parse_float=_finite,
                           parse_constant=_no_constants)
    except ValueError as exc:
        # Includes int('9' * 5000): Python's integer string limit.
        raise _invalid('Malformed JSON in the request body: %s.' %
                       shorten(str(exc), 200))
    check_json_strings(value)
    return value


# -- the WSGI guard -----------------------------------------------------------

def _wsgi_text(value):
    """A WSGI (latin-1) string as the UTF-8 text the client sent."""
    return value.encode('latin-1').decode('utf-8')


def check_environ(environ):
    """Raise a 400 for a path, query parameter or header that is not text."""
    try:
        path = _wsgi_text(environ.get('PATH_INFO', ''))
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise _invalid('Invalid URL: the path is not valid UTF-8.')
    check_text(path, 'the URL path')
    query = environ.get('QUERY_STRING', '')
    try:
        pairs = parse.parse_qsl(query, keep_blank_values=True,
                                encoding='utf-8', errors='strict')
    except (UnicodeError, ValueError):
        raise _invalid('Invalid query string: it is not valid UTF-8 after '
                       'percent-decoding.')
    for name, value in pairs:
        check_text(name, 'a query parameter name')
        check_text(value, 'query parameter %s' % shorten(name, 40))
    for key, value in environ.items():
        if not key.startswith('HTTP_') or not isinstance(value, str):
            continue
        header = key[5:].replace('_', '-').title()
        check_text(value, 'header %s' % header)
        if key in IDENTITY_HEADERS and len(value) > MAX_IDENTITY_HEADER:
            raise _invalid('Invalid input for header %s: longer than %d '
                           'characters.' % (header, MAX_IDENTITY_HEADER))


class InputGuardMiddleware:
    """Answers 400 before the app sees a path, query or header that is not
    storable text (see :func:`check_environ`)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        try:
            check_environ(environ)
        except exceptions.Invalid as exc:
            body = errors.error_json(
                400, str(exc), environ.get('openstack.request_id')).encode()
            start_response('400 Bad Request', [
                ('Content-Type', 'application/json'),
                ('Content-Length', str(len(body)))])
            return [body]
        return self.app(environ, start_response)
