"""The WSGI application: Flask routes wrapped in the middleware stack.

``build_app()`` is the one way to get it (``caas-api``, ``caas-all``, the
uwsgi entry point in ``caas.api.wsgi`` and the tests all call it). The
conductor client and the cloud are collaborators passed in, or built
lazily on first use so that importing or building the app touches neither
the broker nor the cloud.
"""

import threading

import flask
from oslo_log import log as logging
import webob.exc
from werkzeug import exceptions as wz_exceptions

from caas import drivers
from caas.api import dashboard
from caas.api import errors
from caas.api import microversions
from caas.api import middleware
from caas.api import openapi
from caas.api import refcache
from caas.api import references
from caas.api.controllers import root
from caas.api.controllers import v1
from caas.common import exceptions
from caas.conf import CONF
from caas.db import outage

LOG = logging.getLogger(__name__)


class Services:
    """The app's collaborators; rpcapi and cloud are built on first use."""

    def __init__(self, conf, rpcapi=None, cloud=None, find_driver=None):
        self.conf = conf
        self._rpcapi = rpcapi
        self._cloud = cloud
        self.find_driver = find_driver or drivers.find_driver
        self._lock = threading.Lock()
        self.references = refcache.ReferenceCache(
            lambda: conf.cloud.reference_cache_time)

    @property
    def rpcapi(self):
        if self._rpcapi is None:
            with self._lock:
                if self._rpcapi is None:
                    from caas.conductor import rpcapi
                    self._rpcapi = rpcapi.ConductorAPI()
        return self._rpcapi

    @property
    def cloud(self):
        if self._cloud is None:
            with self._lock:
                if self._cloud is None:
                    from caas.clients import cloud
                    self._cloud = cloud.CloudClients()
        return self._cloud

    def user_cloud(self):
        """The cloud as the requesting user sees it: keypairs are per user,
        so a cluster's keypair is looked up with the user's own token (as
        Magnum does). Without one (noauth) it is the service's view."""
        plugin = flask.request.environ.get('keystone.token_auth')
        if plugin is None or not getattr(plugin, 'has_user_token', False):
            return self.cloud
        from caas.clients import cloud
        return cloud.CloudClients.for_user(plugin)

    def check_references(self, values, fields, as_user=False):
        """:func:`caas.api.references.check` of ``fields`` against the
        service's view of the cloud or (``as_user``) the requesting
        user's, answered from the app's cache of recent finds, per view
        (:mod:`caas.api.refcache`)."""
        if as_user:
            context = flask.request.environ[middleware.CONTEXT_KEY]
            return references.check(
                self.user_cloud(), values, fields, cache=self.references,
                view=references.user_view(context),
                caller=references.user_caller(context))
        return references.check(self.cloud, values, fields,
                                cache=self.references, view='service')


def _error_response(status, message, headers=None):
    rid = flask.request.environ.get('openstack.request_id')
    resp = flask.Response(errors.error_json(status, message, rid),
                          status=status, mimetype='application/json')
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def _handle_error(exc):
    if isinstance(exc, exceptions.CaasException):
        if exc.code >= 500:
            LOG.warning('%s %s failed: %s', flask.request.method,
                        flask.request.path, exc)
        return _error_response(exc.code, str(exc),
                               getattr(exc, 'headers', None))
    if isinstance(exc, wz_exceptions.HTTPException):
        headers = {k: v for k, v in exc.get_headers() if k == 'Allow'}
        message = exc.description
        if isinstance(exc, wz_exceptions.NotFound):
            message = 'The resource %s could not be found.' % (
                flask.request.path)
        elif isinstance(exc, wz_exceptions.MethodNotAllowed):
            message = 'Method %s is not allowed on %s.' % (
                flask.request.method, flask.request.path)
        return _error_response(exc.code, message, headers)
    if isinstance(exc, webob.exc.HTTPException):
        # The body size limiter raises while the body is read.
        return _error_response(exc.code, exc.explanation or exc.title)
    if outage.is_outage(exc):
        # The engine's pre-ping replaces the broken connections once the
        # database is back; nothing to reset here.
        LOG.warning('%s %s: database unavailable: %s', flask.request.method,
                    flask.request.path, exc)
        return _error_response(503, errors.DB_UNAVAILABLE,
                               {'Retry-After': errors.DB_RETRY_AFTER})
    LOG.exception('Unexpected error serving %s %s', flask.request.method,
                  flask.request.path)
    return _error_response(500, errors.GENERIC_500)


def _negotiate():
    flask.g.version = None
    path = flask.request.path
    if path == '/v1' or path.startswith('/v1/'):
        flask.g.version = microversions.negotiate_environ(
            flask.request.environ)


def _add_version_headers(resp):
    for key, value in microversions.response_headers(
            flask.g.get('version')).items():
        resp.headers[key] = value
    return resp


def build_flask_app(services):
    app = flask.Flask('caas.api')
    app.extensions['caas'] = services
    app.before_request(_negotiate)
    app.after_request(_add_version_headers)
    app.register_error_handler(Exception, _handle_error)
    root.register(app)
    v1.register(app)
    openapi.register(app)
    return app


def build_app(conf=CONF, rpcapi=None, cloud=None, find_driver=None):
    """Return the caas API as a WSGI callable, wrapped in its middleware.

    :param conf: the oslo.config ConfigOpts to read ([api], [cloud], ...).
    :param rpcapi: a ``ConductorAPI``-like object; built lazily if None.
    :param cloud: an object with find_image/find_flavor/find_keypair/
        find_network; ``caas.clients.cloud.CloudClients()`` lazily if None.
    :param find_driver: ``find_driver(server_type, os_distro, coe,
        explicit=None)``; ``caas.drivers.find_driver`` if None.
    """
    services = Services(conf, rpcapi=rpcapi, cloud=cloud,
                        find_driver=find_driver)
    # The dashboard's files hold no data and are public (the browser loads
    # them before it has a token); every request they make for data goes
    # through the same authentication and policy as any client's.
    return dashboard.mount(middleware.wrap(build_flask_app(services), conf))
