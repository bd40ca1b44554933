"""``/dashboard/``: the live web page's static files, shipped in the package.

A few plain files (HTML, JavaScript, CSS; no build step, nothing fetched
from elsewhere). They are served before authentication because they hold no
data: the page asks the API for everything it shows, with the token the
user gives it (kept in the tab's sessionStorage and sent as X-Auth-Token,
never a cookie), so every byte of data passes the same authentication and
policy as any other client's request.
"""

import mimetypes
import os

from caas.api import errors

PREFIX = '/dashboard'
STATIC_DIR = os.path.join(os.path.dirname(__file__), 'static', 'dashboard')

# Nothing but our own files and our own API: no inline script, no framing.
_SECURITY_HEADERS = [
    ('Content-Security-Policy',
     "default-src 'none'; script-src 'self'; style-src 'self'; "
     "img-src 'self' data:; connect-src 'self'; base-uri 'none'; "
     "form-action 'none'; frame-ancestors 'none'"),
    ('X-Content-Type-Options', 'nosniff'),
    ('Referrer-Policy', 'no-referrer'),
    ('Cache-Control', 'no-cache'),
]


def _files():
    """{url name: path} of the shipped files, read once."""
    found = {}
    if os.path.isdir(STATIC_DIR):
        for name in sorted(os.listdir(STATIC_DIR)):
            path = os.path.join(STATIC_DIR, name)
            if os.path.isfile(path):
                found[name] = path
    return found


def _not_found(environ, start_response, status='404 Not Found'):
    code = int(status.split()[0])
    body = errors.error_json(code, 'The resource %s could not be found.' %
                             environ.get('PATH_INFO', '')
                             if code == 404 else status).encode()
    start_response(status, [('Content-Type', 'application/json'),
                            ('Content-Length', str(len(body)))])
    return [body]


def mount(app):
    """``app`` with the dashboard's files in front of it."""
    files = _files()

    def dispatch(environ, start_response):
        path = environ.get('PATH_INFO', '')
        if path != PREFIX and not path.startswith(PREFIX + '/'):
            return app(environ, start_response)
        if environ.get('REQUEST_METHOD') not in ('GET', 'HEAD'):
            return _not_found(environ, start_response,
                              '405 Method Not Allowed')
        if path == PREFIX:
            start_response('301 Moved Permanently',
                           [('Location', PREFIX + '/'),
                            ('Content-Length', '0')])
            return [b'']
        name = path[len(PREFIX) + 1:] or 'index.html'
        filename = files.get(name)
        if filename is None:
            return _not_found(environ, start_response)
        with open(filename, 'rb') as f:
            body = f.read()
        ctype = mimetypes.guess_type(name)[0] or 'application/octet-stream'
        if ctype.startswith('text/') or ctype.endswith('javascript'):
            ctype += '; charset=utf-8'
        start_response('200 OK', [('Content-Type', ctype),
                                  ('Content-Length', str(len(body)))] +
                       _SECURITY_HEADERS)
        return [b''] if environ['REQUEST_METHOD'] == 'HEAD' else [body]

    return dispatch
