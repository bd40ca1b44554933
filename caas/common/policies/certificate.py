"""``certificate:*`` and ``credential:*`` rules (Magnum's names)."""

from caas.common.policies import base

rules = [
    base.operation('certificate:get', base.ADMIN_OR_PROJECT_READER,
                   "Show a cluster's CA certificate.",
                   [('GET', '/v1/certificates/{cluster_uuid}')]),
    base.operation('certificate:create', base.ADMIN_OR_PROJECT_MEMBER,
                   "Sign a certificate signing request with a cluster's CA.",
                   [('POST', '/v1/certificates')]),
    base.operation('certificate:rotate_ca', base.ADMIN_OR_PROJECT_MEMBER,
                   "Rotate a cluster's CA.",
                   [('PATCH', '/v1/certificates/{cluster_uuid}')]),
    base.operation('credential:rotate', base.ADMIN_OR_PROJECT_MEMBER,
                   'Rotate the cloud credential the cluster nodes use.',
                   [('PATCH', '/v1/credentials/{cluster_uuid}')]),
]


def list_rules():
    return rules
