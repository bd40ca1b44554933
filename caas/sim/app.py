"""WSGI application of the simulated cloud: routing, auth, fault injection.

One port serves every service under a path prefix: ``/identity`` (Keystone
v3), ``/compute`` (Nova v2.1), ``/image`` (Glance v2), ``/heat`` (Heat v1)
and ``/sim`` (debug and fault-injection endpoints, not OpenStack).
Each service module exposes ``PREFIX``, ``ROUTES`` and ``error_body``.
"""

import collections
import logging
import re
import threading
import time

import webob

from caas.sim import glance
from caas.sim import heat
from caas.sim import keystone
from caas.sim import nova
from caas.sim import trusts
from caas.sim.web import ApiError, json_body, json_response

LOG = logging.getLogger(__name__)

FAULT_KNOBS = ('server_boot_delay', 'resource_delay', 'delete_delay',
               'server_failure_rate', 'api_error_rate', 'api_latency')


def _sim_state(app, req):
    return json_response(app.cloud.summary())


def _sim_faults(app, req):
    if req.method == 'POST':
        body = json_body(req)
        unknown = set(body) - set(FAULT_KNOBS)
        if unknown:
            raise ApiError(400, 'unknown knobs: %s' % ', '.join(
                sorted(unknown)))
        with app.cloud.lock:
            for key, value in body.items():
                app.cloud.knobs[key] = float(value)
    return json_response({k: app.cloud.knobs[k] for k in FAULT_KNOBS})


def _sim_requests(app, req):
    """Requests served so far, by method and service (the request log
    that benchmarks and tests count cloud calls with)."""
    return json_response(app.request_counts())


class _Sim(object):
    PREFIX = '/sim'
    ROUTES = [('GET', r'/state', _sim_state),
              ('GET|POST', r'/faults', _sim_faults),
              ('GET', r'/requests', _sim_requests)]
    PUBLIC = ('/state', '/faults', '/requests')

    @staticmethod
    def error_body(code, message, error_type=None):
        return {'error': {'code': code, 'message': message}}


SERVICES = [keystone, trusts, nova, glance, heat, _Sim]


class _Request(webob.Request):
    # webob copies a body longer than 10 kB into a temporary file before
    # it is read: a stack create (~80 kB of templates) paid a file's
    # create, write and read. Up to 1 MiB it stays in memory (waitress
    # holds it whole already); beyond, a temporary file as before.
    request_body_tempfile_limit = 1024 * 1024


class SimApp(object):
    """The WSGI callable; ``cloud`` is a ``caas.sim.state.Cloud``."""

    def __init__(self, cloud, container_infra_url=None):
        self.cloud = cloud
        self.container_infra_url = container_infra_url
        self._counts = collections.Counter()
        self._counts_lock = threading.Lock()
        # {(service prefix, token): (record, monotonic time validated)}:
        # what keystonemiddleware's token cache (token_cache_time, 300 s by
        # default) lets a real Nova or Heat accept after Keystone revoked a
        # token it had already validated.
        self._validated = {}
        self.routes = []
        for service in SERVICES:
            for method, pattern, func in service.ROUTES:
                regex = re.compile('^%s%s/?$' % (service.PREFIX, pattern))
                self.routes.append((service, method.split('|'), regex, func))

    def __call__(self, environ, start_response):
        req = _Request(environ)
        path = req.path_info.rstrip('/') or '/'
        service = next((s for s in SERVICES
                        if path == s.PREFIX or
                        path.startswith(s.PREFIX + '/')), _Sim)
        if service is not _Sim:
            with self._counts_lock:
                self._counts['%s %s' % (req.method, service.PREFIX)] += 1
        try:
            func, kwargs = self._match(req, path)
            resp = self._call(service, func, req, kwargs)
        except ApiError as exc:
            resp = self._error(service, exc.code, exc.message,
                               exc.error_type)
        except Exception:
            LOG.exception('Unexpected error serving %s %s', req.method,
                          req.path)
            resp = self._error(service, 500, 'Unexpected error in the '
                               'simulated cloud')
        return resp(environ, start_response)

    def request_counts(self):
        """{'GET /heat': n, ...} of the requests to the simulated services."""
        with self._counts_lock:
            return dict(self._counts)

    def _validate(self, service, token_id):
        with self.cloud.lock:
            token = self.cloud.token(token_id)
        if service.PREFIX == '/identity' or not token_id:
            return token
        key = (service.PREFIX, token_id)
        now = time.monotonic()
        if token is not None:
            self._validated[key] = (token, now)
            if len(self._validated) > 10000:
                self._validated.clear()
            return token
        cached = self._validated.get(key)
        if cached is not None and \
                now - cached[1] < self.cloud.knobs['token_cache_time']:
            return cached[0]
        return None

    def _match(self, req, path):
        allowed = False
        for service, methods, regex, func in self.routes:
            match = regex.match(path)
            if not match:
                continue
            if req.method not in methods and not (
                    req.method == 'HEAD' and 'GET' in methods):
                allowed = True
                continue
            return func, match.groupdict()
        if allowed:
            raise ApiError(405, 'Method %s not allowed' % req.method)
        raise ApiError(404, 'The resource could not be found.')

    def _call(self, service, func, req, kwargs):
        public = getattr(service, 'PUBLIC', ())
        suffix = req.path_info[len(service.PREFIX):].rstrip('/')
        is_public = suffix in public or suffix == '' or \
            any(re.match('^%s$' % p, suffix) for p in public)
        if not is_public:
            token = self._validate(service, req.headers.get('X-Auth-Token'))
            if token is None:
                raise ApiError(401, 'The request you have made requires '
                                    'authentication.', 'Unauthorized')
            req.environ['sim.token'] = token
            if service is not keystone and service is not _Sim:
                self._inject_faults()
        return func(self, req, **kwargs)

    def _inject_faults(self):
        knobs = self.cloud.knobs
        if knobs['api_latency'] > 0:
            time.sleep(knobs['api_latency'])
        if knobs['api_error_rate'] > 0:
            with self.cloud.lock:
                unlucky = self.cloud.rand.random() < knobs['api_error_rate']
            if unlucky:
                raise ApiError(503, 'The server is currently unavailable '
                                    '(injected fault).',
                               'ServiceUnavailable')

    def _error(self, service, code, message, error_type=None):
        if service is None:
            service = _Sim
        body = service.error_body(code, message, error_type)
        return json_response(body, status=code)
