"""cluster_ca_rotate: hand the CAs the API rotated to the cluster's nodes.

The API committed the new CAs with this operation; the flow updates the
stack with their certificates (the driver decides how nodes get them),
then the stack of every nodegroup users added, and waits until every node
has been updated.
"""

from taskflow.patterns import linear_flow

from caas.common import states
from caas.conductor.tasks import nodegroup_stacks
from caas.conductor.tasks import stack
from caas.conductor.tasks import status
from caas.conductor.tasks import upgrade


def get_flow():
    kind = states.OP_CLUSTER_CA_ROTATE
    return linear_flow.Flow(kind).add(
        status.BeginOperation(kind),
        upgrade.HandOverCAs(),
        stack.WaitForStack('UPDATE'),
        nodegroup_stacks.HandToNodeGroups('cas'),
        status.CompleteOperation(kind),
    )
