"""One access-log line per API request, whatever answered it.

The outermost middleware, so that requests refused further in - by the
body-size limit (413), keystonemiddleware (401), the input guard (400) -
are logged too, with the request id the client got back in
``x-openstack-request-id``: a 4xx a user reports can be traced.

The line is written once, when the body has been sent (or the server
closed it: an event stream whose client went away), so the duration
covers the whole response:

  caas.api.access: GET /v1/clusters status=200 duration_ms=4.2
  request_id=req-... project=<project id or ->
"""

import logging as std_logging
import sys
import time

from oslo_log import log as logging

LOG = logging.getLogger('caas.api.access')

_INFO = std_logging.INFO
_FORMAT = ('%(method)s %(path)s status=%(status)d duration_ms=%(ms).1f '
           'request_id=%(rid)s project=%(project)s')

_REQUEST_ID_HEADER = 'x-openstack-request-id'


class AccessLogMiddleware:

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        started = time.monotonic()
        seen = {}

        def _start_response(status, headers, exc_info=None):
            seen['status'] = status
            seen['headers'] = headers
            return start_response(status, headers, exc_info)

        try:
            body = self.app(environ, _start_response)
        except Exception:
            seen.setdefault('status', '500 Internal Server Error')
            _write(environ, seen, started)
            raise
        return _LoggedBody(body, environ, seen, started)


class _LoggedBody:
    """The response body, logging its request once it ends."""

    def __init__(self, body, environ, seen, started):
        self._body = body
        self._iter = None
        self._environ = environ
        self._seen = seen
        self._started = started
        self._logged = False

    def __iter__(self):
        # One iterator however often the server asks for one.
        if self._iter is None:
            self._iter = iter(self._body)
        return self

    def __next__(self):
        try:
            return next(self._iter)
        except StopIteration:
            self._log()
            raise
        except Exception:
            self._seen.setdefault('status', '500 Internal Server Error')
            self._log()
            raise

    def close(self):
        try:
            close = getattr(self._body, 'close', None)
            if close is not None:
                close()
        finally:
            self._log()

    def _log(self):
        if not self._logged:
            self._logged = True
            _write(self._environ, self._seen, self._started)


def _request_id(environ, headers):
    for key, value in headers or ():
        if key.lower() == _REQUEST_ID_HEADER:
            return value
    return environ.get('openstack.request_id') or '-'


def _write(environ, seen, started):
    """``LOG.info`` of the line: the same record, handlers and filters,
    without its search of the stack for the caller (``findCaller`` walks
    every frame of the request's thread): the caller is this function,
    taken from its own frame."""
    ms = (time.monotonic() - started) * 1000.0
    logger = LOG.logger
    if not logger.isEnabledFor(_INFO):
        return
    try:
        status = int(str(seen.get('status', '500')).split(' ', 1)[0])
    except ValueError:
        status = 500
    args = {'method': environ.get('REQUEST_METHOD', '-'),
            'path': environ.get('SCRIPT_NAME', '') +
            environ.get('PATH_INFO', ''),
            'status': status,
            'ms': ms,
            'rid': _request_id(environ, seen.get('headers')),
            'project': _project(environ)}
    # oslo.log's adapter adds its extra values, as in LOG.info.
    msg, kwargs = LOG.process(_FORMAT, {})
    here = sys._getframe()
    logger.handle(logger.makeRecord(
        logger.name, _INFO, here.f_code.co_filename, here.f_lineno, msg,
        (args,), None, here.f_code.co_name, kwargs.get('extra'), None))


def _project(environ):
    # The context exists only once authentication passed (the headers of a
    # refused request are the client's word, not an identity).
    ctx = environ.get('caas.context')
    return getattr(ctx, 'project_id', None) or '-'
