"""[DEFAULT] options shared by every caas process."""

import socket

from oslo_config import cfg

opts = [
    cfg.StrOpt('host', default=socket.gethostname(), sample_default='<hostname>',
               help='Name of this process in the conductors table and in '
                    '/v1/mservices. Must be unique per conductor process.'),
    cfg.StrOpt('auth_strategy', default='keystone', choices=['keystone', 'noauth'],
               help='How the API authenticates requests: keystone validates '
                    'tokens with keystonemiddleware; noauth trusts the '
                    'X-Project-Id / X-User-Id / X-Roles headers (tests, '
                    'embedded mode).'),
    cfg.StrOpt('state_path', default='/var/lib/caas',
               help='Top-level directory for state kept on local disk.'),
]


def register_opts(conf):
    conf.register_opts(opts)


def list_opts():
    return {'DEFAULT': opts}
