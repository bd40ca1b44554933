"""[api] options of the REST API service."""

from oslo_config import cfg

group = cfg.OptGroup('api', title='caas REST API options')

opts = [
    cfg.HostAddressOpt('host', default='127.0.0.1',
                       help='Address the API listens on.'),
    cfg.PortOpt('port', default=9511,
                help="Port the API listens on (Magnum's port by default)."),
    cfg.IntOpt('threads', default=8, min=1,
               help='Worker threads of the built-in WSGI server (in each '
                    'of its worker processes).'),
    cfg.IntOpt('workers', default=1, min=0,
               help='Processes of caas-api serving the one [api] port, '
                    'each with its own [api] threads (one Python process '
                    'runs Python code on one core at a time). 0 means one '
                    'per CPU. caas-all always serves from one process. '
                    'Limits counted per process (max_event_streams) and '
                    'the reference cache are per worker.'),
    cfg.IntOpt('max_limit', default=1000, min=1,
               help='Largest number of items a list request returns at once.'),
    cfg.StrOpt('public_endpoint',
               help='URL clients use to reach the API, used in links. '
                    'Defaults to the URL the request came in on.'),
    cfg.IntOpt('max_request_body_size', default=114688, min=1,
               help='Largest request body accepted, in bytes.'),
    cfg.IntOpt('max_event_streams', default=4, min=0,
               help='Live event streams (/v1/events/stream, the dashboard) '
                    'served at once by this process. Each holds one of the '
                    '[api] threads for its lifetime, so keep it below '
                    'threads; one more is refused with 503 and Retry-After.'),
    cfg.FloatOpt('event_stream_lifetime', default=120.0, min=0.1,
                 help='Seconds one event stream stays open; the browser '
                      'then reconnects where it left off (Last-Event-ID), '
                      'so a forgotten tab cannot hold a thread for ever.'),
    cfg.FloatOpt('event_stream_keepalive', default=15.0, min=0.5,
                 help='Seconds between keepalive comments on a quiet event '
                      'stream (also how soon a closed client is noticed).'),
    cfg.FloatOpt('event_poll_interval', default=0.5, min=0.05,
                 help='Seconds between two reads of new events by an event '
                      'stream (the conductors may run in other processes, '
                      'so the database is where new events are seen).'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)


def list_opts():
    return {group: opts}
