"""Kubernetes: ``GET /healthz`` and the nodes' ``Ready`` condition.

Magnum's shape of ``health_status_reason``: ``{"api": "ok",
"<node>.Ready": "True"}``; HEALTHY when the API says ok and every node is
Ready.
"""

import json

from caas.common import states


def _text(body, limit=200):
    return body.decode('utf-8', 'replace').strip()[:limit]


class KubernetesMonitor:
    default_port = 6443

    def check(self, client, result):
        status, body = client.get('/healthz')
        if status != 200 or _text(body) != 'ok':
            return result(states.UNHEALTHY, {'api': 'HTTP %d: %s' % (
                status, _text(body) or '-')})
        status, body = client.get('/api/v1/nodes')
        if status != 200:
            return result(states.UNHEALTHY, {
                'api': 'ok', 'nodes': 'HTTP %d: %s' % (status, _text(body))})
        try:
            items = json.loads(body).get('items') or []
        except (ValueError, AttributeError):
            return result(states.UNKNOWN, {
                'api': 'ok', 'nodes': 'the node list is not JSON'})
        reason, nodes, unhealthy = {'api': 'ok'}, set(), set()
        for node in items:
            name = ((node or {}).get('metadata') or {}).get('name')
            if not name:
                continue
            ready = 'Unknown'
            for cond in ((node.get('status') or {}).get('conditions')
                         or []):
                if cond.get('type') == 'Ready':
                    ready = str(cond.get('status'))
            nodes.add(name)
            reason['%s.Ready' % name] = ready
            if ready != 'True':
                unhealthy.add(name)
        verdict = states.UNHEALTHY if unhealthy else states.HEALTHY
        return result(verdict, reason, frozenset(nodes),
                      frozenset(unhealthy))
