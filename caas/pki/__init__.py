"""Cluster PKI: each cluster's certificate authorities.

On the data path: ``POST /v1/clusters`` calls :func:`authority.new_cas` and
writes the CAs (certificate PEM, private key encrypted by
:mod:`caas.pki.keystore`) in the same transaction as the cluster row, so a
cluster never exists without its CAs and commit-before-cast still holds.
``/v1/certificates`` serves a CA certificate, signs a client CSR after
:mod:`caas.pki.csr` checked it, and rotates the CAs. The drivers hand CAs to
the nodes (a later step); nothing here talks to the cloud.
"""

# The CAs each COE gets; the first is the default of ``ca_cert_type``.
# Swarm has one CA, served under the default type like Magnum's.
CA_TYPES = {
    'kubernetes': ('kubernetes', 'etcd', 'front_proxy'),
}
SINGLE_CA = ('kubernetes',)
DEFAULT_CA_TYPE = 'kubernetes'
ALL_CA_TYPES = ('kubernetes', 'etcd', 'front_proxy')


def ca_types(coe):
    """The CA types a cluster of ``coe`` has."""
    return CA_TYPES.get(coe, SINGLE_CA)
