"""cluster_heal: replace the nodes that stayed unhealthy (label
auto_healing_enabled), started by the conductor that watches the cluster.

Mark each node's server resource unhealthy in Heat, update the stacks that
hold them so that Heat replaces exactly those, wait, copy the new
addresses, complete. The cluster is UPDATE_IN_PROGRESS meanwhile (Magnum
has no status of its own for a repair).
"""

from taskflow.patterns import linear_flow

from caas.common import states
from caas.conductor.tasks import heal
from caas.conductor.tasks import status


def get_flow():
    kind = states.OP_CLUSTER_HEAL
    return linear_flow.Flow(kind).add(
        status.BeginOperation(kind),
        heal.MarkUnhealthy(),
        heal.ReplaceMarked(),
        status.CopyOutputs(),
        status.CompleteOperation(kind),
    )
