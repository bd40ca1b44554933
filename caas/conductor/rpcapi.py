"""Client side of the conductor's RPC API.

API version history:

* 1.0 - Initial version: cluster_create, cluster_update, cluster_delete,
        each carrying cluster_uuid and operation_id.
* 1.1 - Each method takes an optional request_id, the API request that
        asked for the operation, so conductor logs can be correlated.
* 1.2 - cluster_credential_rotate: a new cloud credential for the
        cluster's nodes (API microversion 1.12).

Messages carry IDs and primitives only; the conductor re-reads the rows.
Every message is checked against ``rpc_schemas/<method>.json`` before it is
sent, and again by the server on receipt.
"""

import oslo_messaging as messaging

import rpc_schemas
from caas.common import exceptions
from caas.common import rpc
from caas.conf import CONF

RPC_API_VERSION = '1.2'

# Reconnection attempts of one cast before it gives up.
CAST_RETRIES = 1


class ConductorAPI:
    """Casts to the conductors' topic.

    :param version_cap: highest version this client may send (rolling
        upgrades pin it to what the oldest conductor understands).
    """

    RPC_API_VERSION = RPC_API_VERSION

    def __init__(self, topic=None, version_cap=None):
        self.topic = topic or CONF.conductor.topic
        target = messaging.Target(topic=self.topic, version='1.0')
        self.client = rpc.get_client(target, version_cap=version_cap)

    def _cast(self, context, method, version, **kwargs):
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        if not self.client.can_send_version(version):
            # An older server does not know the newer, optional arguments.
            kwargs.pop('request_id', None)
            version = '1.0'
        try:
            rpc_schemas.validate(method, kwargs)
        except Exception as exc:
            raise exceptions.RPCSchemaError(method=method, err=exc)
        # A bounded retry: if the broker is down the API still answers (the
        # operation is recorded; the sweeper re-drives it).
        cctxt = self.client.prepare(version=version, retry=CAST_RETRIES)
        cctxt.cast(context, method, **kwargs)

    def cluster_create(self, context, cluster_uuid, operation_id,
                       request_id=None):
        """Start creating a cluster.

        :raises: RPCSchemaError if the arguments do not match the schema.
        :raises: oslo_messaging.MessageDeliveryFailure if the broker is
            unreachable (the operation is re-driven by the sweeper).
        """
        self._cast(context, 'cluster_create', '1.1',
                   cluster_uuid=cluster_uuid, operation_id=operation_id,
                   request_id=request_id)

    def cluster_update(self, context, cluster_uuid, operation_id,
                       request_id=None):
        """Apply the recorded node-count change.

        :raises: RPCSchemaError, oslo_messaging.MessageDeliveryFailure
        """
        self._cast(context, 'cluster_update', '1.1',
                   cluster_uuid=cluster_uuid, operation_id=operation_id,
                   request_id=request_id)

    def cluster_delete(self, context, cluster_uuid, operation_id,
                       request_id=None):
        """Delete the cluster's stack and then its records.

        :raises: RPCSchemaError, oslo_messaging.MessageDeliveryFailure
        """
        self._cast(context, 'cluster_delete', '1.1',
                   cluster_uuid=cluster_uuid, operation_id=operation_id,
                   request_id=request_id)

    def cluster_credential_rotate(self, context, cluster_uuid, operation_id,
                                  request_id=None):
        """Rotate the cluster's cloud credential (trustee and trust).

        :raises: RPCSchemaError, oslo_messaging.MessageDeliveryFailure
        :raises: CaasException if the version cap predates 1.2 (no
            conductor would understand it; the sweeper of an upgraded
            conductor re-drives the recorded operation).
        """
        if not self.client.can_send_version('1.2'):
            raise exceptions.CaasException(
                message='The conductors do not support credential rotation '
                        '(RPC API 1.2) yet.')
        self._cast(context, 'cluster_credential_rotate', '1.2',
                   cluster_uuid=cluster_uuid, operation_id=operation_id,
                   request_id=request_id)

    def cast_operation(self, context, kind, cluster_uuid, operation_id,
                       request_id=None):
        """Cast the method named by an operation's kind."""
        getattr(self, kind)(context, cluster_uuid=cluster_uuid,
                            operation_id=operation_id, request_id=request_id)
