"""The conductor's side of notifications: an operation's outcome.

Called only by whoever committed the outcome (see
``caas.common.notifications``), after the commit.
"""

from oslo_log import log as logging

from caas.common import exceptions
from caas.common import notifications
from caas.db import api as db_api

LOG = logging.getLogger(__name__)


def cluster_row(cluster_uuid):
    """The cluster as a dict, or None once it is gone (read before a
    delete removes it, to describe it)."""
    if not notifications.enabled():
        return None
    try:
        return db_api.get_cluster_by_uuid(
            cluster_uuid, scope=db_api.ALL_PROJECTS).as_dict()
    except exceptions.ClusterNotFound:
        return None


def operation_ended(cluster_uuid, operation_id, kind, outcome, cluster=None):
    """Send the success or failure of an operation; never raises."""
    if not notifications.enabled():
        return
    try:
        if cluster is None:
            cluster = cluster_row(cluster_uuid) or {'uuid': cluster_uuid}
        request_id = db_api.get_operation(operation_id).request_id
    except Exception:
        LOG.exception('Cluster %s: cannot describe operation %s for its '
                      'notification', cluster_uuid, operation_id)
        cluster, request_id = {'uuid': cluster_uuid}, None
    notifications.notify_cluster(
        notifications.context_for(cluster, request_id), kind, outcome,
        cluster)
