"""A purge while flows run removes nothing they still need."""

from caas.common import states
from caas.db import api as db_api
from caas.db import purge
from tests.unit.conductor.conftest import make_cluster
from tests.unit.conductor.conftest import wait_for
from tests.unit.conductor.conftest import wait_operation


def test_a_purge_in_the_middle_of_a_flow_leaves_it_whole(make_runner, sim):
    runner = make_runner()
    old_cluster, old = make_cluster()
    assert runner.claim_and_run(old.id)
    assert wait_operation(old.id).state == states.OP_SUCCEEDED
    # Long enough that the flow still waits for its stack when the purge
    # runs, on a busy machine too (the fake driver's stack has no server:
    # its resources' own delay is what holds it).
    sim.cloud.knobs['resource_delay'] = 5
    cluster, op = make_cluster()
    assert runner.claim_and_run(op.id)
    flow_id = wait_for(lambda: db_api.get_operation(op.id).flow_id)
    wait_for(lambda: db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).stack_id)

    counts = purge.purge(0, batch_size=1)

    assert counts['operations'] == 1
    assert [o.id for o in db_api.list_operations()] == [op.id]
    # The running flow's book is intact, and the flow finishes from it.
    assert runner.persistence.get_flow_details(flow_id).uuid == flow_id
    assert wait_operation(op.id).state == states.OP_SUCCEEDED
    assert db_api.get_cluster(cluster.uuid, scope=db_api.ALL_PROJECTS).status == states.CREATE_COMPLETE
    assert purge.purge(0)['operations'] == 1
    assert db_api.list_operations() == []
