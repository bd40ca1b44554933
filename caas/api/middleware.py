"""The WSGI middleware in front of the Flask app, outermost first.

0. :class:`caas.api.accesslog.AccessLogMiddleware` — one access-log line
   per request, refused ones included.
1. ``ParsableErrorMiddleware`` — every error body in Magnum's shape.
2. :class:`RequestId` — ``x-openstack-request-id`` on every response and
   ``openstack.request_id`` in the environ, as oslo.middleware's.
3. :class:`caas.api.inputs.InputGuardMiddleware` — 400 for a URL path,
   query parameter or header that is not storable text (NUL, bad UTF-8).
4. oslo.middleware ``HTTPProxyToWSGI`` — honours ``X-Forwarded-*`` when
   ``[oslo_middleware] enable_proxy_headers_parsing`` is true (requests go
   around it while it is not).
5. oslo.middleware ``RequestBodySizeLimiter`` — 413 beyond
   ``[api] max_request_body_size``, checked before the body is parsed
   (requests without a body, or with a length within the limit, go
   around it).
6. Authentication: keystonemiddleware ``auth_token`` when
   ``auth_strategy = keystone``, else :class:`NoAuthMiddleware`. In
   keystone mode the version documents (``GET /`` and ``GET /v1``) are
   served without a token, as Magnum serves them
   (:class:`PublicVersionDocuments`): clients discover the API before they
   authenticate.
7. :class:`ContextMiddleware` — the RequestContext in
   ``environ['caas.context']``.

noauth trusts the caller's headers. A request that names no project is
the operator poking at the service, so the defaults are admin's:
``X-Project-Id: admin``, ``X-User-Id: admin`` and ``X-Roles: admin``. A
request that names a project but no roles is an ordinary ``member``; an
empty ``X-Project-Id:`` header stands for a token without a project and is
refused like one (``caas.common.policy``).
"""

import re

from keystonemiddleware import auth_token
from oslo_config import cfg
from oslo_context import context as oslo_context
from oslo_middleware import http_proxy_to_wsgi
from oslo_middleware import request_id
from oslo_middleware import sizelimit
import webob.exc

from caas.api import accesslog
from caas.api import errors
from caas.api import inputs
from caas.common import context as caas_context

CONTEXT_KEY = 'caas.context'

NOAUTH_PROJECT = 'admin'
NOAUTH_USER = 'admin'


class NoAuthMiddleware:
    """Fills in the identity headers keystonemiddleware would have set."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        named_project = environ.get('HTTP_X_PROJECT_ID')
        environ.setdefault('HTTP_X_PROJECT_ID', NOAUTH_PROJECT)
        environ.setdefault('HTTP_X_USER_ID', NOAUTH_USER)
        environ.setdefault('HTTP_X_ROLES',
                           'member,reader' if named_project else 'admin')
        environ['HTTP_X_IDENTITY_STATUS'] = 'Confirmed'
        return self.app(environ, start_response)


class PublicVersionDocuments:
    """Sends ``GET``/``HEAD`` of ``/`` and ``/v1`` around authentication.

    Those requests reach the app with every identity header a client may
    have sent removed, so they carry no identity at all; everything else
    goes through ``authenticated``.
    """

    PATHS = ('/', '/v1', '/v1/')

    def __init__(self, authenticated, public):
        self.authenticated = authenticated
        self.public = public

    def __call__(self, environ, start_response):
        if environ.get('REQUEST_METHOD') in ('GET', 'HEAD') and \
                environ.get('PATH_INFO', '') in self.PATHS:
            for key in [k for k in environ if k.startswith(_IDENTITY)]:
                del environ[key]
            return self.public(environ, start_response)
        return self.authenticated(environ, start_response)


# Headers keystonemiddleware sets (and strips from clients) or reads.
_IDENTITY = ('HTTP_X_IDENTITY', 'HTTP_X_USER', 'HTTP_X_PROJECT',
             'HTTP_X_TENANT', 'HTTP_X_ROLE', 'HTTP_X_DOMAIN',
             'HTTP_X_SERVICE', 'HTTP_X_IS_ADMIN', 'HTTP_X_SYSTEM',
             'HTTP_OPENSTACK_SYSTEM', 'HTTP_X_AUTH', 'HTTP_X_TRUST',
             'HTTP_X_APP_CRED', 'HTTP_X_STORAGE_TOKEN')


class ContextMiddleware:
    """Builds the RequestContext from the (validated) identity headers."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        ctx = caas_context.RequestContext.from_environ(environ)
        # oslo.context reads X-Roles with spaces kept; normalise.
        ctx.roles = [r.strip() for r in ctx.roles if r.strip()]
        # For logs and oslo.context's users only: scoping and policy decide
        # with the rules in caas.common.policies, never with this flag.
        ctx.is_admin = 'admin' in ctx.roles
        environ[CONTEXT_KEY] = ctx
        return self.app(environ, start_response)


class _SizeLimit:
    """oslo.middleware's ``RequestBodySizeLimiter`` for every request that
    carries a body or may: one without ``Content-Length`` and without
    ``Transfer-Encoding`` has none (HTTP/1.1 knows no other way to send
    one), and one whose ``Content-Length`` is within the limit is passed
    on as it is by the limiter too. Those go straight on: the limiter
    builds a webob request and response around each request it sees."""

    def __init__(self, app, limiter, limits):
        self.app = app
        self.limiter = limiter
        self.limits = limits

    def __call__(self, environ, start_response):
        length = environ.get('CONTENT_LENGTH')
        if length is None:
            if 'HTTP_TRANSFER_ENCODING' not in environ:
                return self.app(environ, start_response)
        else:
            try:
                within = int(length) <= \
                    self.limits.oslo_middleware.max_request_body_size
            except ValueError:
                within = False
            if within:
                return self.app(environ, start_response)
        return self.limiter(environ, start_response)


def _size_limiter(app, conf):
    # A private ConfigOpts keeps the limit out of the global [oslo_middleware]
    # group, which other services in the same process may set differently.
    limits = cfg.ConfigOpts()
    limiter = sizelimit.RequestBodySizeLimiter(app, limits)
    limits.set_override('max_request_body_size',
                        conf.api.max_request_body_size,
                        group='oslo_middleware')
    return _SizeLimit(app, limiter, limits)


class RequestId:
    """oslo.middleware's ``RequestId`` as a plain WSGI layer.

    The same ids: ``openstack.request_id`` (a new ``req-<uuid>``) for every
    request, ``openstack.global_request_id`` from an inbound
    ``X-OpenStack-Request-ID`` of the right form, and the request id as
    ``x-openstack-request-id`` on the response unless the app set one.
    oslo.middleware's built a webob request and response around every
    request for that; what webob's response did besides (an absolute
    ``Location``, no body for a ``HEAD``) ``ParsableErrorMiddleware``
    around this layer does, through webob, for every such response; an
    ``exc_info`` is raised where it is given and a webob HTTP exception
    raised inside becomes its response, as under webob.
    """

    _GLOBAL_ID = re.compile(request_id.ID_FORMAT)
    _HEADER = request_id.HTTP_RESP_HEADER_REQUEST_ID

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        global_id = environ.get('HTTP_X_OPENSTACK_REQUEST_ID')
        if global_id and self._GLOBAL_ID.match(global_id):
            environ[request_id.GLOBAL_REQ_ID] = global_id
        req_id = oslo_context.generate_request_id()
        environ[request_id.ENV_REQUEST_ID] = req_id
        header = self._HEADER

        def _start_response(status, headers, exc_info=None):
            if exc_info is not None:
                raise exc_info[1].with_traceback(exc_info[2])
            if not any(name.lower() == header for name, _value in headers):
                headers = list(headers)
                headers.append((header, req_id))
            return start_response(status, headers)

        try:
            return self.app(environ, _start_response)
        except webob.exc.HTTPException as exc:
            # As webob's wsgify: the exception is the response (and, as
            # there, without the request id header).
            return exc(environ, start_response)


class _ProxyHeaders:
    """oslo.middleware's ``HTTPProxyToWSGI``, entered only while
    ``[oslo_middleware] enable_proxy_headers_parsing`` is set (read on
    every request, as it reads it): otherwise it does nothing to a request
    but build a webob request and response around it."""

    def __init__(self, app, conf):
        self.app = app
        self.proxy = http_proxy_to_wsgi.HTTPProxyToWSGI(app, conf)

    def __call__(self, environ, start_response):
        if self.proxy._conf_get('enable_proxy_headers_parsing'):
            return self.proxy(environ, start_response)
        return self.app(environ, start_response)


def wrap(app, conf):
    """Wrap the Flask app in the middleware stack described above."""
    app = ContextMiddleware(app)
    if conf.auth_strategy == 'keystone':
        app = PublicVersionDocuments(
            auth_token.AuthProtocol(app, {'oslo_config_config': conf}), app)
    else:
        app = NoAuthMiddleware(app)
    app = _size_limiter(app, conf)
    app = _ProxyHeaders(app, conf)
    app = inputs.InputGuardMiddleware(app)
    app = RequestId(app)
    app = errors.ParsableErrorMiddleware(
        app, body_limit=conf.api.max_request_body_size)
    return accesslog.AccessLogMiddleware(app)
