"""Error bodies in Magnum's shape, which python-magnumclient parses.

``{"errors": [{"request_id", "code", "status", "title", "detail",
"links"}]}``. The client shows ``title`` as the exception message, so
``title`` carries the whole message (Magnum cut it at the first full stop,
which dropped the useful half); ``detail`` repeats it. ``code`` is
``client`` for 4xx and ``server`` for 5xx, as in Magnum.
"""

import html
import json
import re

from oslo_log import log as logging
import webob

LOG = logging.getLogger(__name__)

# A database outage (restart, failover) is the service's trouble, not the
# request's: 503, so that clients retry, with a message saying so.
DB_UNAVAILABLE = ('The caas database is unavailable; the request was not '
                  'carried out. Retry in a few seconds.')
DB_RETRY_AFTER = '5'

GENERIC_500 = ('The server hit an unexpected error and could not complete '
               'the request. The error was logged with this request ID.')


# JSON Schema of every error body (the OpenAPI description's, and what the
# tests check error responses against).
ERROR_SCHEMA = {
    'type': 'object',
    'required': ['errors'],
    'properties': {'errors': {
        'type': 'array', 'minItems': 1,
        'items': {
            'type': 'object',
            'required': ['request_id', 'code', 'status', 'title', 'detail',
                         'links'],
            'properties': {
                'request_id': {'type': 'string'},
                'code': {'type': 'string', 'enum': ['client', 'server']},
                'status': {'type': 'integer', 'minimum': 400,
                           'maximum': 599},
                'title': {'type': 'string', 'minLength': 1},
                'detail': {'type': 'string'},
                'links': {'type': 'array'},
            },
        },
    }},
}


def error_body(status, message, request_id=None):
    return {'errors': [{
        'request_id': request_id or '',
        'code': 'client' if status < 500 else 'server',
        'status': status,
        'title': message,
        'detail': message,
        'links': [],
    }]}


def error_json(status, message, request_id=None):
    return json.dumps(error_body(status, message, request_id))


class ParsableErrorMiddleware:
    """Rewrites error responses not already in Magnum's shape.

    The Flask app renders its own errors; this catches what the middleware
    in front of it answers on its own (keystonemiddleware's 401, the body
    size limiter's 413) so that every error a client sees parses the same.
    A redirect keeps its ``Location`` but loses the HTML page Werkzeug and
    webob write into it (see :func:`strip_redirect_body`).

    :param body_limit: ``[api] max_request_body_size``, named in a 413.
    """

    def __init__(self, app, body_limit=None):
        self.app = app
        self.body_limit = body_limit

    def __call__(self, environ, start_response):
        # The app is called as webob's Request.get_response calls it, but a
        # response that needs no rewriting (most: 2xx) goes out as it came,
        # without a webob response built around it.
        captured = []
        output = []

        def capture(status, headers, exc_info=None):
            captured[:] = [status, headers, exc_info]
            return output.append

        try:
            app_iter = self.app(environ, capture)
            if output or not captured:
                # Written with write(), or started late (webob's rule).
                try:
                    output.extend(app_iter)
                finally:
                    if hasattr(app_iter, 'close'):
                        app_iter.close()
                app_iter = output
        except Exception:
            # A middleware failed (the Flask app catches its own errors).
            req = webob.Request(environ)
            LOG.exception('Unexpected error serving %s %s', req.method,
                          req.path)
            resp = webob.Response(status=500)
            resp.body = error_json(
                500, GENERIC_500, environ.get('openstack.request_id')).encode()
            resp.content_type = 'application/json'
            resp.charset = None
            return resp(environ, start_response)
        status, headers, exc_info = captured
        if _as_it_is(environ, status, headers, exc_info):
            start_response(status, headers)
            return app_iter
        resp = webob.Response(status=status, headerlist=list(headers),
                              app_iter=app_iter,
                              request=webob.Request(environ))
        strip_redirect_body(resp)
        if resp.status_code == 413:
            # oslo.middleware's own text has a literal "(%s)" in it.
            resp.body = error_json(
                413, too_large_message(self.body_limit),
                environ.get('openstack.request_id')).encode()
            resp.content_type = 'application/json'
            resp.charset = None
        elif resp.status_code >= 400 and not (
                resp.content_type == 'application/json' and
                b'"errors"' in resp.body):
            message = _plain_message(resp)
            resp.body = error_json(
                resp.status_code, message,
                environ.get('openstack.request_id')).encode()
            resp.content_type = 'application/json'
            resp.charset = None
        return resp(environ, start_response)


def _as_it_is(environ, status, headers, exc_info):
    """True for a response the middleware leaves as it is, and webob would
    send as it is: below 300, no ``Location`` (webob makes it absolute),
    not a ``HEAD`` (webob drops its body), no error being reported."""
    if exc_info is not None or environ.get('REQUEST_METHOD') == 'HEAD':
        return False
    try:
        if int(status.split(' ', 1)[0]) >= 300:
            return False
    except ValueError:
        return False
    return not any(name.lower() == 'location' for name, _value in headers)


def too_large_message(limit):
    if limit is None:
        return 'The request body is too large.'
    return ('The request body is too large: the limit is %d bytes '
            '([api] max_request_body_size).' % limit)


def strip_redirect_body(resp):
    """A 3xx keeps its Location header and an empty body (no HTML page)."""
    if 300 <= resp.status_code < 400:
        resp.body = b''
        resp.headers.pop('Content-Type', None)


def _html_to_text(text):
    """The words of an HTML error page (webob writes one when the client
    accepts text/html): no markup reaches a JSON title."""
    text = re.sub(r'(?is)<(title|head|style|script)\b.*?</\1\s*>', ' ', text)
    return html.unescape(re.sub(r'<[^>]*>', ' ', text))


def _plain_message(resp):
    text = resp.text if resp.body else ''
    if resp.content_type == 'text/html':
        text = _html_to_text(text)
    if resp.content_type == 'application/json':
        try:
            data = json.loads(text)
            err = data.get('error') or data
            text = err.get('message') or err.get('title') or text
        except (ValueError, AttributeError):
            pass
    # webob's plain-text bodies are "<status>\n\n<explanation>  "
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) > 1 and lines[0].startswith(str(resp.status_code)):
        lines = lines[1:]
    return ' '.join(lines) or resp.status
