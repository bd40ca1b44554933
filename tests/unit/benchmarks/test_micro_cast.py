"""micro.py's cast parts: every part measured, the cast sent through
caas's own ConductorAPI, and the configuration left as it was."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
    'benchmarks'))

import micro  # noqa: E402

from caas.common import rpc  # noqa: E402
from caas.conductor import rpcapi  # noqa: E402
from caas.conf import CONF  # noqa: E402


def test_cast_parts_cast_through_the_api_and_restore_the_options(
        monkeypatch):
    sent = []
    real = rpcapi.ConductorAPI._cast

    def counting(self, context, method, version, **kwargs):
        sent.append((method, version, self.topic))
        return real(self, context, method, version, **kwargs)
    monkeypatch.setattr(rpcapi.ConductorAPI, '_cast', counting)
    topic, url = CONF.conductor.topic, CONF.transport_url
    parts = micro.cast_parts(rpc.IN_PROCESS_TRANSPORT_URL, casts=5)
    assert set(parts) == {'cast_us', 'cast_wall_us', 'schema_check_us',
                          'prepare_us', 'version_check_us'}
    assert all(value > 0 for value in parts.values())
    # 20 untimed casts, then the 5 timed; to a topic of its own.
    assert len(sent) == 25
    assert {s[:2] for s in sent} == {('cluster_create', '1.1')}
    assert {s[2] for s in sent} == {'bench-micro-%d' % os.getpid()}
    assert (CONF.conductor.topic, CONF.transport_url) == (topic, url)
