"""oslo.messaging plumbing shared by the API (client) and conductors (server).

Uses the global ``cfg.CONF`` (oslo.messaging registers options there) and the
threading executor; nothing is monkey-patched.
"""

import threading

import oslo_messaging as messaging
from kombu import transport as kombu_transport
from kombu.transport import memory as kombu_memory

from caas.common import context as caas_context
from caas.conf import CONF

_lock = threading.Lock()
_transport = None

# The in-process transport of the embedded mode. oslo.messaging turns
# ``kombu+memory://`` into a consumer that polls without sleeping (a test
# kludge), which keeps a core busy while idle; this alias polls every 5 ms.
IN_PROCESS_TRANSPORT_URL = 'kombu+caas-memory:////'


class PollingMemoryTransport(kombu_memory.Transport):
    polling_interval = 0.005


kombu_transport.TRANSPORT_ALIASES.setdefault(
    'caas-memory', '%s:PollingMemoryTransport' % __name__)


class ContextSerializer(messaging.NoOpSerializer):
    """Carries the request context as a plain dict over the wire."""

    def serialize_context(self, ctxt):
        return ctxt.to_dict() if ctxt is not None else {}

    def deserialize_context(self, ctxt):
        return caas_context.RequestContext.from_dict(ctxt or {})


def get_transport():
    global _transport
    if _transport is None:
        with _lock:
            if _transport is None:
                _transport = messaging.get_rpc_transport(CONF)
    return _transport


def cleanup():
    global _transport
    with _lock:
        if _transport is not None:
            _transport.cleanup()
        _transport = None


def get_client(target, version_cap=None):
    return messaging.get_rpc_client(
        get_transport(), target, version_cap=version_cap,
        serializer=ContextSerializer())


def get_server(target, endpoints):
    return messaging.get_rpc_server(
        # The threading executor is oslo.messaging's default (and the only
        # one caas supports); nothing is monkey-patched.
        get_transport(), target, endpoints,
        serializer=ContextSerializer(),
        access_policy=messaging.DefaultRPCAccessPolicy)
