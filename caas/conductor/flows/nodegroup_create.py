"""nodegroup_create: the nodegroup's own stack, wait, its addresses,
complete."""

from taskflow.patterns import linear_flow

from caas.common import states
from caas.conductor.tasks import nodegroup
from caas.conductor.tasks import stack


def get_flow():
    kind = states.OP_NODEGROUP_CREATE
    return linear_flow.Flow(kind).add(
        nodegroup.BeginNodeGroupOperation(kind),
        nodegroup.CreateNodeGroupStack(),
        stack.WaitForStack('CREATE'),
        nodegroup.CopyNodeGroupOutputs(),
        nodegroup.CompleteNodeGroupOperation(kind),
    )
