"""Keystone session, Heat and Nova clients, and reference look-ups.

Errors from the cloud become ``exceptions.NotFound`` (the thing is not
there), ``exceptions.CloudUnavailable`` (a service answered 5xx or could not
be reached: worth retrying; it names the service) or
``exceptions.CloudError`` (any other failure), so callers never see a client
library's exception types.

One keystoneauth session (one token) is shared by the process, but every
thread gets its own novaclient and heatclient: python-novaclient is not
thread-safe (its image and network look-ups switch the one HTTP client's
service type to "image" for the duration of the call, so a flavor looked up
meanwhile by another thread was sent to Glance and came back "not found").

A requesting user's look-ups (``CloudClients.for_user``) get a keystoneauth
session of their own per request (the user's token), but all of them send
over one HTTP session of the process (``user_http``): its pooled
connections, not a new TCP connection to Nova per create. That HTTP session
keeps no cookie, so nothing one user's answer set is ever sent for another.
"""

from http import cookiejar
import logging as std_logging
import os
import threading
import urllib.parse

import requests
from heatclient import client as heat_client
from heatclient import exc as heat_exc
from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from novaclient import client as nova_client
from novaclient import exceptions as nova_exc
from oslo_log import log as logging

from caas.common import exceptions
from caas.conf import CONF

LOG = logging.getLogger(__name__)

NOVA_API_VERSION = '2.1'

# keystoneauth logs whole request bodies at DEBUG. Requests that carry a
# secret (a trustee's password, as a stack parameter or a Keystone user's)
# go through clients that log with this logger, which emits nothing.
QUIET_LOGGER = std_logging.getLogger('caas.clients.secret')
QUIET_LOGGER.setLevel(std_logging.CRITICAL + 1)
QUIET_LOGGER.propagate = False


def pool_size():
    """Connections kept per cloud endpoint: one per thread that may call
    the cloud at once (flow workers, API threads, the periodic tasks), so
    that no caller queues behind a pool smaller than the workers or opens
    a connection only to throw it away ("Connection pool is full")."""
    return CONF.conductor.workers + CONF.api.threads + 4


class EnvironmentReadOnce(requests.Session):
    """A requests session that reads the proxy and CA bundle variables of
    the environment once per scheme and host, not on every request.

    requests looks them up before each request (``get_environ_proxies``
    walks the whole environment, twice): a few percent of a conductor's
    CPU per cluster. A process's environment does not change while it
    runs, so the answer for a host is the same every time.
    """

    def __init__(self):
        super().__init__()
        self._environment = {}

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        if not self.trust_env:
            return super().merge_environment_settings(url, proxies, stream,
                                                      verify, cert)
        proxies = dict(proxies or {})
        parts = urllib.parse.urlsplit(url)
        key = (parts.scheme, parts.netloc, proxies.get('no_proxy'))
        found = self._environment.get(key)
        if found is None:
            found = self._environment[key] = (
                requests.utils.get_environ_proxies(url, no_proxy=key[2]),
                os.environ.get('REQUESTS_CA_BUNDLE') or
                os.environ.get('CURL_CA_BUNDLE'))
        environ_proxies, ca_bundle = found
        for name, value in environ_proxies.items():
            proxies.setdefault(name, value)
        if verify is True or verify is None:
            verify = ca_bundle or verify
        return {'proxies': requests.sessions.merge_setting(proxies,
                                                           self.proxies),
                'stream': requests.sessions.merge_setting(stream,
                                                          self.stream),
                'verify': requests.sessions.merge_setting(verify,
                                                          self.verify),
                'cert': requests.sessions.merge_setting(cert, self.cert)}


class EndpointsPerToken(ks_session.Session):
    """A keystoneauth session that finds a service's endpoint in the
    token's catalog once per token, not on every request.

    keystoneauth looks up the endpoint of each request in the service
    catalog and normalises a deep copy of the whole catalog to do it (about
    6 % of a conductor's CPU per create). The answer for the same filters
    depends only on the token: it is kept with the token keystoneauth
    holds, and looked up again as soon as keystoneauth holds another one
    (renewed before it expires, or after a 401 invalidated it). Filters
    that cannot be a dictionary key, another auth plugin than an identity
    one, and an ``endpoint_override`` take keystoneauth's own path.
    """

    #: Kept answers (plugins, filter sets); all are dropped past this.
    LIMIT = 64

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # (plugin id, filters) -> (plugin, its AccessInfo, endpoint)
        self._endpoints = {}

    def get_endpoint(self, auth=None, *, endpoint_override=None, **kwargs):
        if endpoint_override:
            return endpoint_override
        plugin = self._auth_required(auth, 'determine endpoint URL')
        get_access = getattr(plugin, 'get_access', None)
        try:
            key = (id(plugin), frozenset(kwargs.items()))
        except TypeError:
            key = None
        if key is None or get_access is None:
            return plugin.get_endpoint(self, **kwargs)
        access = get_access(self)
        found = self._endpoints.get(key)
        if found is not None and found[0] is plugin and found[1] is access:
            return found[2]
        endpoint = plugin.get_endpoint(self, **kwargs)
        if endpoint is not None:
            if len(self._endpoints) >= self.LIMIT:
                self._endpoints.clear()
            self._endpoints[key] = (plugin, access, endpoint)
        return endpoint


class NoCookies(cookiejar.DefaultCookiePolicy):
    """Accepts no cookie and sends none."""

    def set_ok(self, cookie, request):
        return False

    def return_ok(self, cookie, request):
        return False


def pooled_http():
    """An HTTP session with keystoneauth's adapter (TCP keep-alive) and a
    pool of ``pool_size()`` connections per host."""
    http = EnvironmentReadOnce()
    adapter = ks_session.TCPKeepAliveAdapter(pool_connections=4,
                                             pool_maxsize=pool_size())
    http.mount('http://', adapter)
    http.mount('https://', adapter)
    return http


_USER_HTTP = []
_USER_HTTP_LOCK = threading.Lock()


def user_http():
    """The process's HTTP session for requests made with users' tokens
    (see the module docstring); it holds no cookie."""
    if not _USER_HTTP:
        with _USER_HTTP_LOCK:
            if not _USER_HTTP:
                http = pooled_http()
                http.cookies.set_policy(NoCookies())
                _USER_HTTP.append(http)
    return _USER_HTTP[0]


def session_for(auth, timeout=None, http=None):
    """A session for ``auth`` (see ``EndpointsPerToken``)."""
    return EndpointsPerToken(auth=auth, timeout=timeout, session=http)


def make_session(conf=None):
    conf = conf or CONF.cloud
    auth = v3.Password(auth_url=conf.auth_url, username=conf.username,
                       password=conf.password,
                       project_name=conf.project_name,
                       user_domain_name=conf.user_domain_name,
                       project_domain_name=conf.project_domain_name)
    return session_for(auth, timeout=conf.timeout, http=pooled_http())


IDENTITY = 'identity service (Keystone)'
COMPUTE = 'compute service (Nova)'
IMAGE = 'image service (Glance)'
NETWORK = 'network service (Neutron)'

_UNREACHABLE = (ks_exc.RetriableConnectionFailure, ks_exc.ConnectionError,
                requests.ConnectionError, requests.Timeout)


def transient(exc):
    """True for a 5xx answer or a failure to reach the service."""
    if isinstance(exc, _UNREACHABLE):
        return True
    code = getattr(exc, 'code', None) or getattr(exc, 'http_status', None)
    if isinstance(exc, (nova_exc.ClientException, heat_exc.HTTPException,
                        ks_exc.HttpError)):
        return isinstance(code, int) and code >= 500
    return False


def _translate(what, exc, service):
    if isinstance(exc, (nova_exc.NotFound, heat_exc.HTTPNotFound,
                        ks_exc.NotFound)):
        return exceptions.NotFound(message='%s was not found.' % what)
    if isinstance(exc, (nova_exc.Unauthorized, heat_exc.HTTPUnauthorized,
                        ks_exc.Unauthorized)):
        return exceptions.CloudUnauthorized(service=service,
                                            err='%s: %s' % (what, exc))
    if transient(exc):
        return exceptions.CloudUnavailable(service=service,
                                           err='%s: %s' % (what, exc))
    return exceptions.CloudError(err='%s: %s (%s)' % (what, exc, service))


class CloudClients:
    """Clients sharing one session (one token) per process, built lazily,
    one novaclient and heatclient per thread (see the module docstring)."""

    #: True when the clients act with a requesting user's own token.
    as_user = False

    def __init__(self, session=None):
        self._session = session
        self._lock = threading.Lock()
        self._local = threading.local()

    @property
    def session(self):
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._session = make_session()
        return self._session

    @classmethod
    def for_user(cls, auth_plugin):
        """Clients acting as a user (the auth plugin keystonemiddleware
        leaves in the request), for one request's look-ups, over the
        process's pooled connections (``user_http``)."""
        clients = cls(session=ks_session.Session(
            auth=auth_plugin, timeout=CONF.cloud.timeout,
            session=user_http()))
        clients.as_user = True
        return clients

    def _endpoint_kwargs(self):
        return {'region_name': CONF.cloud.region_name,
                'interface': CONF.cloud.interface}

    @property
    def heat(self):
        if getattr(self._local, 'heat', None) is None:
            self._local.heat = heat_client.Client(
                '1', session=self.session, **self._endpoint_kwargs())
        return self._local.heat

    @property
    def quiet_heat(self):
        """A heatclient for calls whose parameters hold a secret: it logs
        neither their requests nor their answers."""
        if getattr(self._local, 'quiet_heat', None) is None:
            self._local.quiet_heat = heat_client.Client(
                '1', session=self.session, logger=QUIET_LOGGER,
                **self._endpoint_kwargs())
        return self._local.quiet_heat

    def stack_creator(self, quiet=False):
        """The heatclient a new stack is created with (see
        ``caas.clients.trusted`` for why it may differ from ``heat``)."""
        return self.quiet_heat if quiet else self.heat

    @property
    def identity(self):
        """Keystone through the service session (``caas.clients.identity``),
        one per thread: building a keystoneclient costs more CPU than the
        request it then makes."""
        if getattr(self._local, 'identity', None) is None:
            # identity imports this module for its quiet logger.
            from caas.clients import identity
            self._local.identity = identity.Identity(self.session)
        return self._local.identity

    @property
    def nova(self):
        if getattr(self._local, 'nova', None) is None:
            kwargs = self._endpoint_kwargs()
            self._local.nova = nova_client.Client(
                NOVA_API_VERSION, session=self.session,
                region_name=kwargs['region_name'],
                endpoint_type=kwargs['interface'])
        return self._local.nova

    def _authenticate(self, what):
        """The token, before a look-up: a failure is Keystone's, not the
        looked-up service's."""
        try:
            self.session.get_auth_headers()
        except Exception as exc:
            raise _translate(what, exc, IDENTITY)

    # -- reference look-ups (API validation and driver selection) ----------

    def find_image(self, name_or_id):
        self._authenticate('Image %s' % name_or_id)
        try:
            image = self.nova.glance.find_image(name_or_id)
        except nova_exc.NoUniqueMatch:
            raise exceptions.InvalidParameterValue(
                err='More than one image is named %s; use its ID.' % name_or_id)
        except Exception as exc:
            raise _translate('Image %s' % name_or_id, exc, IMAGE)
        info = image.to_dict()
        return {'id': info.get('id'), 'name': info.get('name'),
                'os_distro': info.get('os_distro')}

    def find_flavor(self, name_or_id):
        what = 'Flavor %s' % name_or_id
        self._authenticate(what)
        try:
            flavor = self.nova.flavors.find(name=name_or_id)
        except nova_exc.NotFound:
            try:
                flavor = self.nova.flavors.get(name_or_id)
            except Exception as exc:
                raise _translate(what, exc, COMPUTE)
        except Exception as exc:
            raise _translate(what, exc, COMPUTE)
        return {'id': flavor.id, 'name': flavor.name}

    def find_keypair(self, name):
        self._authenticate('Keypair %s' % name)
        try:
            # Quoted: novaclient puts the name in the path as it is, and
            # "x/../<a keypair>" was found as that keypair.
            keypair = self.nova.keypairs.get(
                urllib.parse.quote(name, safe=''))
        except Exception as exc:
            raise _translate('Keypair %s' % name, exc, COMPUTE)
        return {'name': keypair.name}

    def find_network(self, name_or_id):
        """Networks are checked only where the cloud offers a network API."""
        what = 'Network %s' % name_or_id
        try:
            self.session.get_endpoint(service_type='network',
                                      **self._endpoint_kwargs())
        except ks_exc.EndpointNotFound:
            return {'id': name_or_id, 'name': name_or_id}
        except Exception as exc:
            raise _translate(what, exc, IDENTITY)
        try:
            resp = self.session.get(
                '/v2.0/networks', endpoint_filter={
                    'service_type': 'network', **self._endpoint_kwargs()},
                raise_exc=False)
        except Exception as exc:
            raise _translate(what, exc, NETWORK)
        if resp.status_code >= 500:
            raise exceptions.CloudUnavailable(
                service=NETWORK, err='%s: HTTP %s' % (what, resp.status_code))
        if resp.status_code >= 400:
            raise exceptions.CloudError(
                err='%s: the %s answered HTTP %s' % (what, NETWORK,
                                                     resp.status_code))
        for net in resp.json().get('networks', []):
            if name_or_id in (net.get('id'), net.get('name')):
                return {'id': net['id'], 'name': net.get('name')}
        raise exceptions.NotFound(message='Network %s was not found.' % name_or_id)
