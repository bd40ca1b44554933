"""The casts benchmark's consumers count what the conductor's real RPC
endpoint hands its flow runner (the runner replaced by a count)."""

import multiprocessing
import os
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
    'benchmarks'))

import rpc_cast  # noqa: E402

from caas.conductor import manager  # noqa: E402


def test_the_endpoint_hands_the_count_this_runs_casts_only():
    counter = multiprocessing.Value('i', 0)
    prefix = uuid.uuid4().hex[:8]
    endpoint = manager.ConductorManager(rpc_cast._Recorder(prefix, counter))
    for _ in range(3):
        endpoint.cluster_create(None, cluster_uuid=str(uuid.uuid4()),
                                operation_id=rpc_cast._op_id(prefix),
                                request_id='req-%s' % uuid.uuid4())
    # Another run's cast (its queue may still hold some) is not counted.
    endpoint.cluster_create(None, cluster_uuid=str(uuid.uuid4()),
                            operation_id=str(uuid.uuid4()))
    assert counter.value == 3
