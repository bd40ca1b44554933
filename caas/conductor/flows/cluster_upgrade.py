"""cluster_upgrade: roll the nodes onto a new template's image and versions.

The stack update carries the whole new definition; Heat replaces at most
``max_batch_size`` nodes of a group at a time. The stack is the cluster's
(its default nodegroups) or, for an upgrade naming a nodegroup users
added, that nodegroup's own. The records change only after the stack
completed: a failed upgrade leaves the cluster UPDATE_FAILED on its old
template (the nodegroup on its old image and version).
"""

from taskflow.patterns import linear_flow

from caas.common import states
from caas.conductor.tasks import stack
from caas.conductor.tasks import upgrade


def get_flow():
    return linear_flow.Flow(states.OP_CLUSTER_UPGRADE).add(
        upgrade.BeginUpgrade(),
        upgrade.UpgradeStack(),
        stack.WaitForStack('UPDATE'),
        upgrade.CopyUpgradeOutputs(),
        upgrade.RecordUpgrade(),
        upgrade.CompleteUpgrade(),
    )
