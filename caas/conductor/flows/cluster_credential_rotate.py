"""cluster_credential_rotate: a new trustee and trust, handed to the nodes
by a stack update of the cluster's stack, then of every added nodegroup's
stack; the old ones are deleted only once every update is complete, so
the nodes never hold a credential that no longer works."""

from taskflow.patterns import linear_flow

from caas.common import states
from caas.conductor.tasks import credential
from caas.conductor.tasks import nodegroup_stacks
from caas.conductor.tasks import status


def get_flow():
    kind = states.OP_CLUSTER_CREDENTIAL_ROTATE
    return linear_flow.Flow(kind).add(
        status.BeginOperation(kind),
        credential.MakeTrustee(),
        credential.ApplyCredential(),
        credential.WaitForCredential(),
        nodegroup_stacks.HandToNodeGroups('credential'),
        credential.RetireTrustees(),
        status.CompleteOperation(kind),
    )
