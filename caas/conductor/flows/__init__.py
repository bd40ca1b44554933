"""Flow factories, one module per operation, named like the operation.

Each factory is a module-level function returning an unexecuted flow, so a
conductor that takes over an operation can rebuild the same flow from the
name TaskFlow saved with it. A factory builds the same flow every time (it
takes no argument and branches on nothing): a flow thread compiles a
factory's flow once and reuses it (``engine._reuse_compilation``).
"""

from caas.common import states
from caas.conductor.flows import cluster_ca_rotate
from caas.conductor.flows import cluster_create
from caas.conductor.flows import cluster_credential_rotate
from caas.conductor.flows import cluster_delete
from caas.conductor.flows import cluster_heal
from caas.conductor.flows import cluster_update
from caas.conductor.flows import nodegroup_create
from caas.conductor.flows import nodegroup_delete
from caas.conductor.flows import nodegroup_update
from caas.conductor.flows import cluster_upgrade

FACTORIES = {
    states.OP_CLUSTER_CREATE: cluster_create.get_flow,
    states.OP_CLUSTER_UPDATE: cluster_update.get_flow,
    states.OP_CLUSTER_DELETE: cluster_delete.get_flow,
    states.OP_NODEGROUP_CREATE: nodegroup_create.get_flow,
    states.OP_NODEGROUP_UPDATE: nodegroup_update.get_flow,
    states.OP_NODEGROUP_DELETE: nodegroup_delete.get_flow,
    states.OP_CLUSTER_UPGRADE: cluster_upgrade.get_flow,
    states.OP_CLUSTER_CA_ROTATE: cluster_ca_rotate.get_flow,
    states.OP_CLUSTER_CREDENTIAL_ROTATE: cluster_credential_rotate.get_flow,
    states.OP_CLUSTER_HEAL: cluster_heal.get_flow,
}
