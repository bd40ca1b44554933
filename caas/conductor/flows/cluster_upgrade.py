"""cluster_upgrade: roll the nodes onto a new template's image and versions.

The stack update carries the whole new definition; Heat replaces at most
``max_batch_size`` nodes of a group at a time. The records change only
after the stack completed: a failed upgrade leaves the cluster
UPDATE_FAILED on its old template.
"""

from taskflow.patterns import linear_flow

from caas.common import states
from caas.conductor.tasks import stack
from caas.conductor.tasks import status
from caas.conductor.tasks import upgrade


def get_flow():
    kind = states.OP_CLUSTER_UPGRADE
    return linear_flow.Flow(kind).add(
        status.BeginOperation(kind),
        upgrade.UpgradeStack(),
        stack.WaitForStack('UPDATE'),
        status.CopyOutputs(),
        upgrade.RecordUpgrade(),
        status.CompleteOperation(kind),
    )
