"""nodegroup_update: the recorded node count to the nodegroup's own stack,
wait, its addresses and counts, complete."""

from taskflow.patterns import linear_flow

from caas.common import states
from caas.conductor.tasks import nodegroup
from caas.conductor.tasks import stack


def get_flow():
    kind = states.OP_NODEGROUP_UPDATE
    return linear_flow.Flow(kind).add(
        nodegroup.BeginNodeGroupOperation(kind),
        nodegroup.UpdateNodeGroupStack(),
        stack.WaitForStack('UPDATE'),
        nodegroup.CopyNodeGroupOutputs(),
        nodegroup.CompleteNodeGroupOperation(kind),
    )
