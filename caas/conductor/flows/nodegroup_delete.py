"""nodegroup_delete: delete the nodegroup's own stack (only its servers),
wait until it is gone, drop its row."""

from taskflow.patterns import linear_flow

from caas.common import states
from caas.conductor.tasks import nodegroup
from caas.conductor.tasks import stack


def get_flow():
    kind = states.OP_NODEGROUP_DELETE
    return linear_flow.Flow(kind).add(
        nodegroup.BeginNodeGroupOperation(kind),
        nodegroup.DeleteNodeGroupStack(),
        stack.WaitForStackGone(),
        nodegroup.DeleteNodeGroupRecord(),
    )
