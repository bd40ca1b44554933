"""Cluster PKI: each cluster's certificate authorities.

On the data path: the conductor's cluster create makes the CAs in its
stack step, before the stack that hands them to the nodes: it calls
:func:`authority.new_cas` and writes them (certificate PEM, private key
encrypted by :mod:`caas.pki.keystore`) once, under the operation's claim
(``caas.db.certificates.make_for_create``; a re-run after a crash gets the
first run's). ``POST /v1/clusters`` makes none (it only checks that a key
to encrypt them is configured), so a cluster has no CAs until its create
got that far: ``/v1/certificates`` answers 409 then. Otherwise it serves a
CA certificate, signs a client CSR after :mod:`caas.pki.csr` checked it,
and rotates the CAs. Nothing here talks to the cloud.
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
