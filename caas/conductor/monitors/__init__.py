"""COE health monitors: what a cluster's own API says about it.

On the data path: the conductor that watches a cluster
(:mod:`caas.conductor.health`) has it probed once per interval, at a stable
offset (:mod:`.schedule`); a probe talks to the cluster's ``api_address``
only, over TLS, with a client certificate the cluster's CA signed and the
server's certificate checked against that CA (:mod:`.tls`). The monitor of
the cluster's COE turns the answers into Magnum's ``health_status`` and
``health_status_reason`` (``{"api": "ok", "<node>.Ready": "True"}``); the
watcher merges them with what Heat says and writes only changes.
"""

import dataclasses
import ipaddress
import urllib.parse

from caas.common import states
from caas.conductor.monitors import kubernetes
from caas.conductor.monitors import swarm
from caas.conductor.monitors import tls
from caas.conf import CONF

MONITORS = {
    'kubernetes': kubernetes.KubernetesMonitor(),
    'swarm-mode': swarm.SwarmMonitor(),
    'swarm': swarm.SwarmMonitor(),
}


@dataclasses.dataclass(frozen=True)
class ProbeResult:
    """One probe's verdict.

    :param nodes: names of the nodes the COE reports.
    :param unhealthy: names of those that are not ready (not Ready, down).
    """

    status: str
    reason: dict
    nodes: frozenset = frozenset()
    unhealthy: frozenset = frozenset()


def unknown(why):
    return ProbeResult(states.UNKNOWN, {'api': why})


def endpoint(api_address, default_port):
    """(host, port) of an ``api_address`` (``https://h:6443``,
    ``tcp://h:2376``, ``h``)."""
    if '://' not in api_address:
        api_address = 'tcp://' + api_address
    parsed = urllib.parse.urlsplit(api_address)
    if not parsed.hostname:
        raise ValueError('no host in %r' % api_address)
    return parsed.hostname, parsed.port or default_port


def allowed(host):
    """Whether [health] probe_networks lets a probe connect to ``host``
    (a name is never resolved when networks are set: that would send a
    packet too)."""
    networks = CONF.health.probe_networks
    if not networks:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False)
               for n in networks)


def probe(cluster_uuid, coe, api_address, timeout=None):
    """Probe a cluster's COE API; a ProbeResult, never an exception."""
    monitor = MONITORS.get(coe)
    if monitor is None:
        return None
    if not api_address:
        return unknown('not probed: the cluster has no API address')
    try:
        host, port = endpoint(api_address, monitor.default_port)
    except ValueError:
        return unknown('not probed: cannot parse API address %s'
                       % api_address)
    if not allowed(host):
        return unknown('not probed: %s is outside [health] probe_networks'
                       % host)
    timeout = CONF.health.probe_timeout if timeout is None else timeout
    try:
        context = tls.client_context(cluster_uuid, coe)
    except Exception as exc:
        return unknown('not probed: no client certificate from the '
                       'cluster CA (%s)' % exc)
    client = tls.Client(host, port, context, timeout)
    try:
        return monitor.check(client, ProbeResult)
    except tls.ProbeError as exc:
        return unknown('unreachable: %s' % exc)
