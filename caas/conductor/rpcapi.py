"""Client side of the conductor's RPC API.

API version history:

* 1.0 - Initial version: cluster_create, cluster_update, cluster_delete,
        each carrying cluster_uuid and operation_id.
* 1.1 - Each method takes an optional request_id, the API request that
        asked for the operation, so conductor logs can be correlated.
* 1.2 - nodegroup_create, nodegroup_update, nodegroup_delete (each with
        cluster_uuid, operation_id and request_id; the operation's params
        name the nodegroup).
* 1.2 - cluster_upgrade (a rolling upgrade to another template) and
        cluster_ca_rotate (hand rotated CAs to the nodes).
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


class ConductorTooOld(exceptions.CaasException):
    message = ('The conductors understand RPC API %(cap)s at most; %(method)s '
               'needs %(version)s.')


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

    def _cast(self, context, method, version, added='1.0', **kwargs):
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        if not self.client.can_send_version(version):
            if not self.client.can_send_version(added):
                # The operation stays recorded; the sweeper casts it again
                # once the conductors are upgraded.
                raise ConductorTooOld(cap=getattr(self.client, 'version_cap', None),
                                      method=method, version=added)
            # An older server does not know the newer, optional arguments.
            kwargs.pop('request_id', None)
            version = added
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

    def nodegroup_create(self, context, cluster_uuid, operation_id,
                         request_id=None):
        """Build the nodegroup named by the operation (its own stack).

        :raises: RPCSchemaError, ConductorTooOld (the version cap is below
            1.2), oslo_messaging.MessageDeliveryFailure
        """
        self._cast(context, 'nodegroup_create', '1.2', added='1.2',
                   cluster_uuid=cluster_uuid, operation_id=operation_id,
                   request_id=request_id)

    def nodegroup_update(self, context, cluster_uuid, operation_id,
                         request_id=None):
        """Apply the recorded change of a nodegroup to its stack.

        :raises: RPCSchemaError, ConductorTooOld,
            oslo_messaging.MessageDeliveryFailure
        """
        self._cast(context, 'nodegroup_update', '1.2', added='1.2',
                   cluster_uuid=cluster_uuid, operation_id=operation_id,
                   request_id=request_id)

    def nodegroup_delete(self, context, cluster_uuid, operation_id,
                         request_id=None):
        """Delete a nodegroup's stack (only its servers), then its row.

        :raises: RPCSchemaError, ConductorTooOld,
            oslo_messaging.MessageDeliveryFailure
        """
        self._cast(context, 'nodegroup_delete', '1.2', added='1.2',
                   cluster_uuid=cluster_uuid, operation_id=operation_id,
                   request_id=request_id)

    def cluster_upgrade(self, context, cluster_uuid, operation_id,
                        request_id=None):
        """Replace the nodes with the recorded template's, in batches.

        :raises: RPCSchemaError, ConductorTooOld (version cap below 1.2),
            oslo_messaging.MessageDeliveryFailure
        """
        self._cast(context, 'cluster_upgrade', '1.2', added='1.2',
                   cluster_uuid=cluster_uuid, operation_id=operation_id,
                   request_id=request_id)

    def cluster_ca_rotate(self, context, cluster_uuid, operation_id,
                          request_id=None):
        """Hand the cluster's newly rotated CA certificates to its nodes.

        :raises: RPCSchemaError, ConductorTooOld (version cap below 1.2),
            oslo_messaging.MessageDeliveryFailure
        """
        self._cast(context, 'cluster_ca_rotate', '1.2', added='1.2',
                   cluster_uuid=cluster_uuid, operation_id=operation_id,
                   request_id=request_id)

    def cluster_credential_rotate(self, context, cluster_uuid, operation_id,
                                  request_id=None):
        """Rotate the cluster's cloud credential (trustee and trust).

        :raises: RPCSchemaError, ConductorTooOld (version cap below 1.2),
            oslo_messaging.MessageDeliveryFailure
        """
        self._cast(context, 'cluster_credential_rotate', '1.2', added='1.2',
                   cluster_uuid=cluster_uuid, operation_id=operation_id,
                   request_id=request_id)

    def cast_operation(self, context, kind, cluster_uuid, operation_id,
                       request_id=None):
        """Cast the method named by an operation's kind."""
        getattr(self, kind)(context, cluster_uuid=cluster_uuid,
                            operation_id=operation_id, request_id=request_id)
