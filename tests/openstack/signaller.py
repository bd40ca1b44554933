"""The tier's stand-in for what a node's bootstrap does at its end.

Servers of the fake virt driver run nothing, so no bootstrap ever signals
its wait condition. This signaller does it for them, as caas/sim/signals.py
does for simulated servers: it reads each ACTIVE server's user data from
the real Nova (as the cloud's admin, microversion 2.3), unwraps it with the
simulator's own reader (MIME, gzip, base64, cloud-config, Ignition), finds
every Heat wait-handle endpoint in it with the token next to it, and sends
the SUCCESS signal a node would send, once per (server, endpoint).
"""

import base64
import re
import threading

import requests
from keystoneauth1 import exceptions as ks_exc
from novaclient import client as nova_client

from caas.sim import userdata

ENDPOINT = re.compile(r'https?://127\.0\.0\.1:\d+/v1/[0-9a-f]+/stacks/'
                      r'[^/\s\'"]+/[0-9a-f-]{36}/resources/[^/\s\'"?]+/signal')
# Heat hands a wait handle a Fernet token of its stack domain user.
TOKEN = re.compile(r'gAAAAA[A-Za-z0-9_=-]{40,}')


def signals_in(text):
    """[(endpoint, token)]: each endpoint with the token nearest to it."""
    tokens = [(m.start(), m.group()) for m in TOKEN.finditer(text)]
    found = []
    for match in ENDPOINT.finditer(text):
        if not tokens:
            break
        _pos, token = min(tokens, key=lambda t: abs(t[0] - match.start()))
        if (match.group(), token) not in found:
            found.append((match.group(), token))
    return found


class Signaller:
    """Polls Nova in a thread; ``sent`` lists what it signalled."""

    def __init__(self, admin_session, interval=1.0):
        self.nova = nova_client.Client('2.3', session=admin_session)
        self.interval = interval
        self.sent = []
        self._done = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.errors = []
        self.retried = []

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self):
        while not self._stop.wait(self.interval):
            try:
                self.once()
            except (ks_exc.ConnectFailure, requests.ConnectionError) as exc:
                # A loaded nova-api or heat-api resetting a kept-alive
                # connection: the next round asks again (counted, as the
                # cloud's own clients would retry).
                self.retried.append(repr(exc))
            except Exception as exc:     # reported, never hidden
                self.errors.append(repr(exc))

    def once(self):
        for server in self.nova.servers.list(search_opts={'all_tenants': 1}):
            if server.status != 'ACTIVE':
                continue
            raw = getattr(server, 'OS-EXT-SRV-ATTR:user_data', None)
            if not raw:
                continue
            text = '\n'.join(part.text for part in userdata.parts(
                base64.b64decode(raw)))
            for endpoint, token in signals_in(text):
                if (server.id, endpoint) in self._done:
                    continue
                resp = requests.post(endpoint, timeout=30, json={
                    'status': 'SUCCESS', 'id': server.name,
                    'reason': 'Signal from the tier signaller for %s'
                              % server.name, 'data': server.name},
                    headers={'X-Auth-Token': token})
                resp.raise_for_status()
                self._done.add((server.id, endpoint))
                self.sent.append((server.name, endpoint))
