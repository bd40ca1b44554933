"""cluster_create: the cloud credential, the stack, wait for it, then one
step that copies its outputs, makes the credential current and completes
(``status.CompleteCreate``)."""

from taskflow.patterns import linear_flow

from caas.common import states
from caas.conductor.tasks import credential
from caas.conductor.tasks import stack
from caas.conductor.tasks import status


def get_flow():
    kind = states.OP_CLUSTER_CREATE
    return linear_flow.Flow(kind).add(
        status.BeginOperation(kind),
        credential.MakeTrustee(),
        stack.CreateStack(),
        stack.WaitForStack('CREATE'),
        status.CompleteCreate(kind),
    )
