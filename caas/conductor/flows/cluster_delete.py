"""cluster_delete: let a superseded operation stop, delete the nodegroups'
stacks, then the cluster's stack, wait until it is gone, delete the cloud
credential (trusts and trustee users), drop the rows."""

from taskflow.patterns import linear_flow

from caas.common import states
from caas.conductor.tasks import credential
from caas.conductor.tasks import nodegroup
from caas.conductor.tasks import stack
from caas.conductor.tasks import status
from caas.conductor.tasks import supersede


def get_flow():
    kind = states.OP_CLUSTER_DELETE
    return linear_flow.Flow(kind).add(
        status.BeginOperation(kind),
        supersede.WaitForSupersededToStop(),
        nodegroup.DeleteNodeGroupStacks(),
        stack.DeleteStack(),
        stack.WaitForStackGone(),
        credential.DeleteTrustees(),
        status.DeleteClusterRecords(),
    )
