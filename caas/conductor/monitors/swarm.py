"""Docker Swarm mode: ``GET /_ping`` and ``GET /nodes`` on the TLS Docker
API of a manager.

The reason has the Kubernetes monitor's shape so that one reader serves
both: ``{"api": "ok", "<hostname>.Ready": "True"}``, a node being Ready
when Swarm reports its state ``ready`` (``down``, ``unknown`` and
``disconnected`` are not).
"""

import json

from caas.common import states


def _text(body, limit=200):
    return body.decode('utf-8', 'replace').strip()[:limit]


class SwarmMonitor:
    default_port = 2376

    def check(self, client, result):
        status, body = client.get('/_ping')
        if status != 200 or _text(body) != 'OK':
            return result(states.UNHEALTHY, {'api': 'HTTP %d: %s' % (
                status, _text(body) or '-')})
        status, body = client.get('/nodes')
        if status != 200:
            return result(states.UNHEALTHY, {
                'api': 'ok', 'nodes': 'HTTP %d: %s' % (status, _text(body))})
        try:
            items = json.loads(body)
            if not isinstance(items, list):
                raise ValueError()
        except ValueError:
            return result(states.UNKNOWN, {
                'api': 'ok', 'nodes': 'the node list is not a JSON list'})
        reason, nodes, unhealthy = {'api': 'ok'}, set(), set()
        for node in items:
            name = ((node or {}).get('Description') or {}).get('Hostname') \
                or (node or {}).get('ID')
            if not name:
                continue
            state = ((node.get('Status') or {}).get('State') or 'unknown')
            nodes.add(name)
            reason['%s.Ready' % name] = 'True' if state == 'ready' \
                else 'False'
            if state != 'ready':
                unhealthy.add(name)
        verdict = states.UNHEALTHY if unhealthy else states.HEALTHY
        return result(verdict, reason, frozenset(nodes),
                      frozenset(unhealthy))
