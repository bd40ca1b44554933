"""The one module that holds caas's state machine.

Public values are Magnum's (clients compare against them). Operations are
caas's own record of requested work, in the ``operations`` table.
"""

# Cluster and nodegroup statuses (Magnum's vocabulary).
CREATE_IN_PROGRESS = 'CREATE_IN_PROGRESS'
CREATE_FAILED = 'CREATE_FAILED'
CREATE_COMPLETE = 'CREATE_COMPLETE'
UPDATE_IN_PROGRESS = 'UPDATE_IN_PROGRESS'
UPDATE_FAILED = 'UPDATE_FAILED'
UPDATE_COMPLETE = 'UPDATE_COMPLETE'
DELETE_IN_PROGRESS = 'DELETE_IN_PROGRESS'
DELETE_FAILED = 'DELETE_FAILED'
DELETE_COMPLETE = 'DELETE_COMPLETE'
RESUME_COMPLETE = 'RESUME_COMPLETE'
RESUME_FAILED = 'RESUME_FAILED'
RESTORE_COMPLETE = 'RESTORE_COMPLETE'
ROLLBACK_IN_PROGRESS = 'ROLLBACK_IN_PROGRESS'
ROLLBACK_FAILED = 'ROLLBACK_FAILED'
ROLLBACK_COMPLETE = 'ROLLBACK_COMPLETE'
SNAPSHOT_COMPLETE = 'SNAPSHOT_COMPLETE'
CHECK_COMPLETE = 'CHECK_COMPLETE'
ADOPT_COMPLETE = 'ADOPT_COMPLETE'

CLUSTER_STATUSES = (
    CREATE_IN_PROGRESS, CREATE_FAILED, CREATE_COMPLETE,
    UPDATE_IN_PROGRESS, UPDATE_FAILED, UPDATE_COMPLETE,
    DELETE_IN_PROGRESS, DELETE_FAILED, DELETE_COMPLETE,
    RESUME_COMPLETE, RESUME_FAILED, RESTORE_COMPLETE,
    ROLLBACK_IN_PROGRESS, ROLLBACK_FAILED, ROLLBACK_COMPLETE,
    SNAPSHOT_COMPLETE, CHECK_COMPLETE, ADOPT_COMPLETE,
)

IN_PROGRESS = (CREATE_IN_PROGRESS, UPDATE_IN_PROGRESS, DELETE_IN_PROGRESS,
               ROLLBACK_IN_PROGRESS)

# Health (Magnum's health_status values).
HEALTHY = 'HEALTHY'
UNHEALTHY = 'UNHEALTHY'
UNKNOWN = 'UNKNOWN'

# Operation kinds: one name per concept, equal to the RPC method name.
OP_CLUSTER_CREATE = 'cluster_create'
OP_CLUSTER_UPDATE = 'cluster_update'
OP_CLUSTER_DELETE = 'cluster_delete'
# A nodegroup's own operations; ``params['nodegroup']`` names its UUID.
OP_NODEGROUP_CREATE = 'nodegroup_create'
OP_NODEGROUP_UPDATE = 'nodegroup_update'
OP_NODEGROUP_DELETE = 'nodegroup_delete'
NODEGROUP_KINDS = (OP_NODEGROUP_CREATE, OP_NODEGROUP_UPDATE,
                   OP_NODEGROUP_DELETE)
# Replace the nodes with a new template's image and versions, in batches.
OP_CLUSTER_UPGRADE = 'cluster_upgrade'
# Hand the CA certificates the API just rotated to the nodes.
OP_CLUSTER_CA_ROTATE = 'cluster_ca_rotate'
# A new trustee and trust for the nodes (PATCH /v1/credentials/{cluster}).
OP_CLUSTER_CREDENTIAL_ROTATE = 'cluster_credential_rotate'
# Replace unhealthy nodes (label auto_healing_enabled): started by the
# conductor that watches the cluster, never by a request.
OP_CLUSTER_HEAL = 'cluster_heal'
OPERATION_KINDS = (OP_CLUSTER_CREATE, OP_CLUSTER_UPDATE, OP_CLUSTER_DELETE,
                   OP_CLUSTER_UPGRADE, OP_CLUSTER_CA_ROTATE,
                   OP_CLUSTER_CREDENTIAL_ROTATE,
                   OP_CLUSTER_HEAL) + NODEGROUP_KINDS

# Operation states.
OP_PENDING = 'PENDING'      # recorded, cast sent (or lost), nobody owns it
OP_RUNNING = 'RUNNING'      # owned by a conductor (owner + epoch)
OP_SUCCEEDED = 'SUCCEEDED'
OP_FAILED = 'FAILED'
# Ended by a DELETE that won over it: fenced out (epoch bumped) in the
# transaction that recorded the delete. Its owner stays set until that
# conductor has stopped acting on it (or is dead), which the delete flow
# waits for before it looks for the stack.
OP_SUPERSEDED = 'SUPERSEDED'
OP_UNFINISHED = (OP_PENDING, OP_RUNNING)
OP_FINISHED = (OP_SUCCEEDED, OP_FAILED, OP_SUPERSEDED)

# For each operation kind: the status set when it is accepted, on success
# and on failure.
TRANSITIONS = {
    OP_CLUSTER_CREATE: (CREATE_IN_PROGRESS, CREATE_COMPLETE, CREATE_FAILED),
    OP_CLUSTER_UPDATE: (UPDATE_IN_PROGRESS, UPDATE_COMPLETE, UPDATE_FAILED),
    OP_CLUSTER_DELETE: (DELETE_IN_PROGRESS, DELETE_COMPLETE, DELETE_FAILED),
    # The cluster is UPDATE_* while one of its nodegroups changes (as in
    # Magnum); the nodegroup's own status is in NODEGROUP_TRANSITIONS.
    OP_NODEGROUP_CREATE: (UPDATE_IN_PROGRESS, UPDATE_COMPLETE, UPDATE_FAILED),
    OP_NODEGROUP_UPDATE: (UPDATE_IN_PROGRESS, UPDATE_COMPLETE, UPDATE_FAILED),
    OP_NODEGROUP_DELETE: (UPDATE_IN_PROGRESS, UPDATE_COMPLETE, UPDATE_FAILED),
    # Magnum reports both as an update of the cluster.
    OP_CLUSTER_UPGRADE: (UPDATE_IN_PROGRESS, UPDATE_COMPLETE, UPDATE_FAILED),
    OP_CLUSTER_CA_ROTATE: (UPDATE_IN_PROGRESS, UPDATE_COMPLETE,
                           UPDATE_FAILED),
    OP_CLUSTER_CREDENTIAL_ROTATE: (UPDATE_IN_PROGRESS, UPDATE_COMPLETE,
                                   UPDATE_FAILED),
    # Magnum has no HEAL status; its auto-healer's stack update shows as an
    # update of the cluster too.
    OP_CLUSTER_HEAL: (UPDATE_IN_PROGRESS, UPDATE_COMPLETE, UPDATE_FAILED),
}

# The nodegroup's own status for each nodegroup operation: accepted,
# succeeded (a deleted nodegroup is gone instead), failed.
NODEGROUP_TRANSITIONS = {
    OP_NODEGROUP_CREATE: (CREATE_IN_PROGRESS, CREATE_COMPLETE, CREATE_FAILED),
    OP_NODEGROUP_UPDATE: (UPDATE_IN_PROGRESS, UPDATE_COMPLETE, UPDATE_FAILED),
    OP_NODEGROUP_DELETE: (DELETE_IN_PROGRESS, DELETE_COMPLETE, DELETE_FAILED),
}

# Settled, healthy statuses: what an upgrade starts from (Magnum refuses to
# upgrade a cluster that is not in a *_COMPLETE state).
COMPLETE = (CREATE_COMPLETE, UPDATE_COMPLETE, RESUME_COMPLETE,
            RESTORE_COMPLETE, ROLLBACK_COMPLETE, SNAPSHOT_COMPLETE,
            CHECK_COMPLETE, ADOPT_COMPLETE)

# Statuses from which an operation kind may start. A cluster with an
# operation in progress never matches: the API's compare-and-set also
# requires that the cluster has no current operation.
ALLOWED_FROM = {
    OP_CLUSTER_UPDATE: (CREATE_COMPLETE, UPDATE_COMPLETE, UPDATE_FAILED,
                        RESUME_COMPLETE, RESTORE_COMPLETE, ROLLBACK_COMPLETE,
                        SNAPSHOT_COMPLETE, CHECK_COMPLETE, ADOPT_COMPLETE),
    # A nodegroup changes only on a cluster that was built; an update that
    # failed may be tried again (as for the cluster's own update).
    OP_NODEGROUP_CREATE: (CREATE_COMPLETE, UPDATE_COMPLETE, UPDATE_FAILED,
                          RESUME_COMPLETE, RESTORE_COMPLETE, ROLLBACK_COMPLETE,
                          SNAPSHOT_COMPLETE, CHECK_COMPLETE, ADOPT_COMPLETE),
    OP_CLUSTER_UPGRADE: COMPLETE,
    # The nodes need a stack to be handed the CAs: not after a failed
    # create; after a failed update, yes (the stack is there).
    OP_CLUSTER_CA_ROTATE: COMPLETE + (UPDATE_FAILED,),
    # The stack is updated like for a resize.
    OP_CLUSTER_CREDENTIAL_ROTATE: (CREATE_COMPLETE, UPDATE_COMPLETE,
                                   UPDATE_FAILED, RESUME_COMPLETE,
                                   RESTORE_COMPLETE, ROLLBACK_COMPLETE,
                                   SNAPSHOT_COMPLETE, CHECK_COMPLETE,
                                   ADOPT_COMPLETE),
    # Only a settled cluster is healed (the watcher watches no other).
    OP_CLUSTER_HEAL: (CREATE_COMPLETE, UPDATE_COMPLETE),
    # Every settled status, failures included, can be deleted.
    OP_CLUSTER_DELETE: tuple(s for s in CLUSTER_STATUSES if s not in IN_PROGRESS),
}
ALLOWED_FROM[OP_NODEGROUP_UPDATE] = ALLOWED_FROM[OP_NODEGROUP_CREATE]
ALLOWED_FROM[OP_NODEGROUP_DELETE] = ALLOWED_FROM[OP_NODEGROUP_CREATE]

# Progress events: what happened to one step (task) of an operation's flow.
EV_STARTED = 'STARTED'        # the step began (or began again after a crash)
EV_PROGRESS = 'PROGRESS'      # news from inside a long step (servers ready)
EV_SUCCEEDED = 'SUCCEEDED'
EV_FAILED = 'FAILED'
EV_RETRYING = 'RETRYING'
EV_REVERTING = 'REVERTING'
EV_REVERTED = 'REVERTED'
EV_RESUMED = 'RESUMED'        # a conductor claimed the operation again
EVENT_STATES = (EV_STARTED, EV_PROGRESS, EV_SUCCEEDED, EV_FAILED, EV_RETRYING,
                EV_REVERTING, EV_REVERTED, EV_RESUMED)
