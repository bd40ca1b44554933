"""Body of ``POST /v1/certificates`` (sign a CSR with a cluster's CA)."""

from caas import pki


def sign(max_csr_bytes):
    return {
        'type': 'object',
        'properties': {
            'cluster_uuid': {'type': 'string', 'minLength': 1,
                             'maxLength': 255},
            'csr': {'type': 'string', 'minLength': 1,
                    'maxLength': max_csr_bytes},
            'ca_cert_type': {'type': ['string', 'null'],
                             'enum': list(pki.ALL_CA_TYPES) + [None]},
        },
        'required': ['cluster_uuid', 'csr'],
        'additionalProperties': False,
    }
