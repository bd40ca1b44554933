"""[pki] options: the clusters' certificate authorities and their keys."""

from oslo_config import cfg

group = cfg.OptGroup('pki', title='Cluster certificate authorities')

opts = [
    cfg.ListOpt('encryption_keys', default=[], secret=True,
                help='Fernet keys (url-safe base64 of 32 bytes, e.g. from '
                     '"caas-manage pki generate-key") that encrypt the '
                     "clusters' CA private keys in the database. The first "
                     'key encrypts; every key decrypts, so a key is rotated '
                     'by putting a new key first and keeping the old one '
                     'after it until every row was rotated. Without a key '
                     'caas-api refuses to create clusters (caas-all makes '
                     'one under its data directory).'),
    cfg.IntOpt('ca_validity_days', default=3650, min=1, max=36500,
               help='Lifetime of a cluster CA certificate, in days.'),
    cfg.IntOpt('cert_validity_days', default=365, min=1, max=3650,
               help='Lifetime of a certificate signed through POST '
                    '/v1/certificates, in days (never past its CA).'),
    cfg.IntOpt('max_csr_bytes', default=16384, min=512, max=1048576,
               help='Largest CSR (PEM text) POST /v1/certificates accepts.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)


def list_opts():
    return {group: opts}
