"""[database] options: the one SQL database that is also the coordination point."""

from oslo_config import cfg

group = cfg.OptGroup('database', title='Database options')

opts = [
    cfg.StrOpt('connection', secret=True,
               default='sqlite:////var/lib/caas/caas.sqlite',
               help='SQLAlchemy URL of the caas database (PostgreSQL or '
                    'MySQL in production; SQLite for the embedded mode). '
                    'TaskFlow flow state is kept in the same database.'),
    cfg.IntOpt('pool_size', min=1,
               help='Connections kept open per process (not SQLite). '
                    'Default: as many as the process has threads that use '
                    'the database at once: [conductor] workers + 8 in a '
                    'conductor, [api] threads + 2 in an API process; 10 '
                    'elsewhere. A smaller pool closes and opens a '
                    'connection for each transaction beyond it.'),
    cfg.IntOpt('max_overflow', default=10, min=0,
               help='Connections allowed beyond pool_size for a burst '
                    '(not SQLite), each closed when returned. A process '
                    'opens at most pool_size + max_overflow connections: '
                    'keep the sum over every conductor and API process '
                    'below the server\'s max_connections.'),
    cfg.IntOpt('connection_recycle_time', default=3600, min=-1,
               help='Seconds after which a pooled connection is replaced '
                    'before use (not SQLite; -1: never). Connections are '
                    'not pinged before each use: a connection the server '
                    'dropped fails one statement and the pool is renewed.'),
    cfg.IntOpt('sqlite_busy_timeout', default=30, min=1,
               help='Seconds SQLite waits for a lock before failing.'),
    cfg.BoolOpt('connection_debug', default=False,
                help='Log every SQL statement.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)


def list_opts():
    return {group: opts}
