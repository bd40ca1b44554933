"""A flow thread compiles a factory's flow once
(``engine._reuse_compilation``): later new flows from that factory on the
same thread run on the same flow and compiled graph, also after one of
them failed and reverted; another kind gets its own, and so does another
factory of the same kind."""

import threading

from caas.clients import cloud
from caas.common import states
from caas.conductor import engine as flow_engine
from caas.conductor import flows
from caas.conductor.flows import cluster_create
from caas.db import api as db_api
from tests.unit.conductor.conftest import make_cluster
from tests.unit.conductor.conftest import wait_for
from tests.unit.conductor.conftest import wait_operation


def _recording(monkeypatch):
    """(thread, factory, flow, compiler, already compiled) per new flow."""
    seen = []
    real = flow_engine._reuse_compilation

    def record(engine, factory):
        real(engine, factory)
        seen.append((threading.current_thread().name, factory, engine._flow,
                     engine._compiler,
                     engine._compiler._compilation is not None))
    monkeypatch.setattr(flow_engine, '_reuse_compilation', record)
    return seen


def _run(runner, op, state=states.OP_SUCCEEDED):
    assert runner.claim_and_run(op.id)
    done = wait_operation(op.id)
    assert done.state == state, done.error
    wait_for(lambda: not runner.running())


def test_a_thread_compiles_a_kind_once_and_reuses_it(db, sim, monkeypatch):
    seen = _recording(monkeypatch)
    runner = flow_engine.FlowRunner('c1', cloud.CloudClients(), workers=1)
    try:
        # The first create fails in its wait and reverts; the next two
        # run on the same flow and graph and complete.
        sim.cloud.knobs['server_failure_rate'] = 1.0
        failed, op = make_cluster(driver=None)
        _run(runner, op, states.OP_FAILED)
        sim.cloud.knobs['server_failure_rate'] = 0.0
        clusters = []
        for _ in range(2):
            cluster, op = make_cluster(driver=None)
            _run(runner, op)
            clusters.append(cluster)
        _, delete = db_api.start_operation(clusters[0].uuid,
                                           states.OP_CLUSTER_DELETE, {})
        _run(runner, delete)
    finally:
        runner.shutdown(wait=True, timeout=10)
    assert db_api.get_cluster(failed.uuid, scope=db_api.ALL_PROJECTS) \
        .status == states.CREATE_FAILED
    assert db_api.get_cluster(clusters[1].uuid, scope=db_api.ALL_PROJECTS) \
        .status == states.CREATE_COMPLETE
    creates = [s for s in seen
               if s[1] is flows.FACTORIES[states.OP_CLUSTER_CREATE]]
    assert len({s[0] for s in seen}) == 1
    assert len(creates) == 3
    assert len({id(s[2]) for s in creates}) == 1
    assert len({id(s[3]) for s in creates}) == 1
    assert [s[4] for s in creates] == [False, True, True]
    [delete_seen] = [s for s in seen
                     if s[1] is flows.FACTORIES[states.OP_CLUSTER_DELETE]]
    assert delete_seen[2] is not creates[0][2]
    assert delete_seen[4] is False


def test_threads_do_not_share_a_flow(db, sim, monkeypatch):
    seen = _recording(monkeypatch)
    runner = flow_engine.FlowRunner('c1', cloud.CloudClients(), workers=2)
    gate = threading.Barrier(2, timeout=30)
    from caas.conductor.tasks import status
    real = status.BeginOperation.execute

    def begin(self, fence):
        # Two creates at once: each worker thread holds one.
        gate.wait()
        return real(self, fence)
    monkeypatch.setattr(status.BeginOperation, 'execute', begin)
    try:
        ops = [make_cluster(driver=None)[1] for _ in range(2)]
        for op in ops:
            assert runner.claim_and_run(op.id)
        for op in ops:
            assert wait_operation(op.id).state == states.OP_SUCCEEDED
        wait_for(lambda: not runner.running())
    finally:
        runner.shutdown(wait=True, timeout=10)
    assert len({s[0] for s in seen}) == 2
    assert len({id(s[2]) for s in seen}) == 2


def test_another_factory_of_a_kind_gets_its_own_flow(db, sim, monkeypatch):
    """A factory swapped for another (as the tests of earlier flows do)
    is never answered with the flow of the one before."""
    seen = _recording(monkeypatch)
    runner = flow_engine.FlowRunner('c1', cloud.CloudClients(), workers=1)
    real = flows.FACTORIES[states.OP_CLUSTER_CREATE]

    def other():
        return real()
    # TaskFlow saves a factory by its import path and checks it.
    other.__module__, other.__qualname__ = real.__module__, real.__qualname__
    try:
        _run(runner, make_cluster(driver=None)[1])
        monkeypatch.setitem(flows.FACTORIES, states.OP_CLUSTER_CREATE, other)
        monkeypatch.setattr(cluster_create, 'get_flow', other)
        _run(runner, make_cluster(driver=None)[1])
    finally:
        runner.shutdown(wait=True, timeout=10)
    assert [s[1] for s in seen] == [real, other]
    assert seen[0][2] is not seen[1][2]
    assert seen[1][4] is False
