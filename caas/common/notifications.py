"""Notifications as Magnum emits them: CADF activity events on
oslo.messaging's notifier.

Off unless configured, with Magnum's convention: ``[oslo_messaging_notifications]
driver`` (oslo.messaging's option, empty = noop), ``topics`` and
``transport_url`` (default: the RPC transport). Event types are Magnum's,
``magnum.cluster.<action>`` for ``create``, ``update`` and ``delete``; the
payload is a CADF event whose outcome is ``pending`` (the API accepted the
operation, sent after the commit), ``success`` or ``failure`` (the conductor
finished it). Failures go out at ERROR priority, the rest at INFO, and the
publisher is ``container-infra.<host>``.

An outcome is sent by whoever committed it (the conductor whose fenced
``finish`` succeeded, the sweeper that expired the operation, the API that
superseded it with a DELETE), after the commit, so it is sent once even when
another conductor resumed the flow. A process that dies between that commit
and the send loses the notification (at most once, never twice).
"""

import threading

import oslo_messaging as messaging
from oslo_log import log as logging
from pycadf import attachment
from pycadf import cadftaxonomy as taxonomy
from pycadf import cadftype
from pycadf import eventfactory
from pycadf import resource

from caas.common import context as caas_context
from caas.common import rpc
from caas.common import states
from caas.conf import CONF

LOG = logging.getLogger(__name__)

PUBLISHER = 'container-infra'
SERVICE = 'magnum'
CLUSTER_TYPE_URI = 'service/magnum/cluster'

PENDING = taxonomy.OUTCOME_PENDING
SUCCESS = taxonomy.OUTCOME_SUCCESS
FAILURE = taxonomy.OUTCOME_FAILURE

#: CADF action of each operation kind (Magnum's).
ACTIONS = {
    states.OP_CLUSTER_CREATE: taxonomy.ACTION_CREATE,
    states.OP_CLUSTER_UPDATE: taxonomy.ACTION_UPDATE,
    states.OP_CLUSTER_DELETE: taxonomy.ACTION_DELETE,
    # Magnum's conductor reports an upgrade as an update of the cluster.
    states.OP_CLUSTER_UPGRADE: taxonomy.ACTION_UPDATE,
}

# The cluster fields Magnum attaches to the event's target.
_CLUSTER_DATA = (
    'status', 'status_reason', 'project_id', 'created_at', 'updated_at',
    'cluster_template_id', 'keypair', 'docker_volume_size', 'labels',
    'master_flavor_id', 'flavor_id', 'stack_id', 'health_status',
    'create_timeout', 'api_address', 'discovery_url', 'node_addresses',
    'master_addresses', 'node_count', 'master_count')

_lock = threading.Lock()
_notifier = None


def get_notifier():
    """The process's notifier (built on first use; noop unless a driver is
    configured)."""
    global _notifier
    if _notifier is None:
        with _lock:
            if _notifier is None:
                transport = messaging.get_notification_transport(CONF)
                _notifier = messaging.Notifier(
                    transport, serializer=rpc.ContextSerializer(),
                    publisher_id='%s.%s' % (PUBLISHER, CONF.host))
    return _notifier


def reset():
    """Forget the notifier (tests, and processes that change the config)."""
    global _notifier
    with _lock:
        _notifier = None


def enabled():
    """True when a notification driver is configured."""
    try:
        notifier = get_notifier()
        # oslo.messaging calls a notifier with no driver at all "enabled"
        # (it is not only noop); it sends nothing, so it is off here.
        drivers = [d for d in CONF.oslo_messaging_notifications.driver
                   if d != 'noop']
        return bool(drivers) and notifier.is_enabled()
    except Exception:
        LOG.exception('The notifier cannot be built; not notifying')
        return False


def _initiator(context):
    initiator = resource.Resource(typeURI=taxonomy.ACCOUNT_USER)
    for field in ('user_id', 'project_id', 'domain_id'):
        value = getattr(context, field, None)
        if value:
            setattr(initiator, field, value)
    return initiator


def _value(cluster, field):
    value = cluster.get(field) if isinstance(cluster, dict) else \
        getattr(cluster, field, None)
    if hasattr(value, 'isoformat'):
        return value.isoformat()
    return value


def _target(cluster):
    if cluster is None:
        return resource.Resource(typeURI=CLUSTER_TYPE_URI)
    target = resource.Resource(id=_value(cluster, 'uuid'),
                               name=_value(cluster, 'name'),
                               typeURI=CLUSTER_TYPE_URI)
    target.add_attachment(attach_val=attachment.Attachment(
        typeURI=CLUSTER_TYPE_URI, name='cluster_data',
        content={field: _value(cluster, field) for field in _CLUSTER_DATA}))
    return target


def payload(context, action, outcome, cluster=None):
    """The CADF event (a dict) for ``action`` with ``outcome``."""
    event = eventfactory.EventFactory().new_event(
        eventType=cadftype.EVENTTYPE_ACTIVITY, outcome=outcome,
        action=action, initiator=_initiator(context),
        target=_target(cluster),
        observer=resource.Resource(typeURI=CLUSTER_TYPE_URI))
    return event.as_dict()


def event_type(action):
    return '%s.cluster.%s' % (SERVICE, action)


def context_for(cluster, request_id=None):
    """The context a conductor notifies with: the cluster's owner (the
    request's own context is not kept across a takeover)."""
    ctx = caas_context.RequestContext(
        user_id=_value(cluster, 'user_id'),
        project_id=_value(cluster, 'project_id'), overwrite=False)
    if request_id:
        ctx.request_id = request_id
    return ctx


def notify_cluster(context, kind, outcome, cluster=None):
    """Send ``magnum.cluster.<action>`` for an operation ``kind``.

    Never raises: a notification is not worth failing an operation for.
    """
    action = ACTIONS.get(kind)
    if action is None:
        return
    uuid = _value(cluster, 'uuid') if cluster is not None else '-'
    try:
        if not enabled():
            return
        notifier = get_notifier()
        body = payload(context, action, outcome, cluster)
        send = notifier.error if outcome == FAILURE else notifier.info
        send(context, event_type(action), body)
    except Exception:
        LOG.exception('Cluster %s: could not send the %s %s notification',
                      uuid, event_type(action), outcome)
