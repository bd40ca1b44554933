"""cluster_update: apply the new node count to the stack and wait."""

from taskflow.patterns import linear_flow

from caas.common import states
from caas.conductor.tasks import stack
from caas.conductor.tasks import status


def get_flow():
    kind = states.OP_CLUSTER_UPDATE
    return linear_flow.Flow(kind).add(
        status.BeginOperation(kind),
        stack.UpdateStack(),
        stack.WaitForStack('UPDATE'),
        status.CopyOutputs(),
        status.CompleteOperation(kind),
    )
