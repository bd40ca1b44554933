"""The cluster's cloud credential as stack parameters (create and rotate).

Apart from ``caas.conductor.tasks.credential`` so that the stack tasks can
use it without importing the credential tasks (which use the stack tasks).
"""

from caas.conf import CONF
from caas.db import outage
from caas.db import trustees
from caas.pki import keystore


def credential_of(row, cluster_uuid):
    """The row as the driver's ``credential_parameters`` takes it."""
    return {'user_id': row.user_id, 'username': row.username,
            'domain_id': row.domain_id, 'trust_id': row.trust_id,
            'password': keystore.decrypt(row.encrypted_password,
                                         cluster_uuid).decode('utf-8'),
            'auth_url': CONF.cloud.auth_url,
            'region_name': CONF.cloud.region_name or '',
            'hand_trust': CONF.trust.cluster_user_trust}


def stack_parameters(driver, cluster_uuid, operation_id, declared,
                     known=None):
    """Credential parameters for a stack that declares ``declared``: the
    operation's own trustee, else the cluster's current one.

    :param known: the operation's own trustee as this claim wrote it
        (then not read).
    """
    row = known or \
        outage.call(trustees.of_operation, cluster_uuid, operation_id) or \
        outage.call(trustees.current, cluster_uuid)
    if row is None or row.user_id is None:
        return {}
    params = driver.credential_parameters(credential_of(row, cluster_uuid))
    return {k: v for k, v in params.items() if k in declared}
