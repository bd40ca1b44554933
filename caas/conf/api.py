"""[api] options of the REST API service."""

from oslo_config import cfg

group = cfg.OptGroup('api', title='caas REST API options')

opts = [
    cfg.HostAddressOpt('host', default='127.0.0.1',
                       help='Address the API listens on.'),
    cfg.PortOpt('port', default=9511,
                help="Port the API listens on (Magnum's port by default)."),
    cfg.IntOpt('threads', default=8, min=1,
               help='Worker threads of the built-in WSGI server.'),
    cfg.IntOpt('max_limit', default=1000, min=1,
               help='Largest number of items a list request returns at once.'),
    cfg.StrOpt('public_endpoint',
               help='URL clients use to reach the API, used in links. '
                    'Defaults to the URL the request came in on.'),
    cfg.IntOpt('max_request_body_size', default=114688, min=1,
               help='Largest request body accepted, in bytes.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)


def list_opts():
    return {group: opts}
