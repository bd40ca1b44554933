"""[conductor] options: flow workers, ownership, recovery and watching."""

from oslo_config import cfg

group = cfg.OptGroup('conductor', title='Conductor options')

opts = [
    cfg.StrOpt('topic', default='caas-conductor',
               help='RPC topic the conductors consume.'),
    cfg.IntOpt('workers', default=32, min=1,
               help='Flows one conductor runs at once.'),
    cfg.FloatOpt('heartbeat_interval', default=2.0, min=0.1,
                 help='Seconds between heartbeats into the conductors table.'),
    cfg.FloatOpt('heartbeat_timeout', default=10.0, min=0.5,
                 help='A conductor whose heartbeat count has not moved for '
                      'this many seconds, as timed by the conductor watching '
                      'it, is dead; its operations are taken over. No two '
                      "hosts' clocks are compared. /v1/mservices reports "
                      'a conductor down after the same time. It is also the '
                      'grace after an operation\'s deadline before the '
                      'sweeper fails it, so that a running flow can report '
                      'its own timeout first.'),
    cfg.FloatOpt('unclaimed_timeout', default=10.0, min=0.5,
                 help='An operation nobody claimed for this many seconds '
                      '(lost cast) is claimed by the sweeper.'),
    cfg.FloatOpt('sweep_interval', default=2.0, min=0.1,
                 help='Seconds between two sweeps for lost or orphaned '
                      'operations.'),
    cfg.FloatOpt('health_check_interval', default=30.0, min=1,
                 help='Seconds between health checks of a settled cluster. '
                      'Each cluster is checked by exactly one live conductor.'),
    cfg.FloatOpt('stack_poll_initial', default=0.2, min=0.01,
                 help='First wait, in seconds, before polling a Heat stack '
                      'again; the wait doubles up to stack_poll_max.'),
    cfg.FloatOpt('stack_poll_max', default=3.0, min=0.05,
                 help='Longest wait between two polls of a Heat stack.'),
    cfg.FloatOpt('cloud_retry_timeout', default=120.0, min=1,
                 help='Seconds a cloud call keeps being retried, with '
                      'backoff, while the cloud answers 5xx or cannot be '
                      'reached, before the task fails.'),
    cfg.FloatOpt('db_retry_timeout', default=30.0, min=0,
                 help='Seconds a conductor keeps repeating a database '
                      'statement while the database cannot be reached '
                      '(restart, failover) before the step fails. A '
                      'conductor that still cannot finish or release an '
                      'operation afterwards gives it up: its sweeper (or '
                      'another conductor) resumes it once the database is '
                      'back.'),
    cfg.IntOpt('default_create_timeout', default=60, min=1,
               help='Minutes a cluster may take to create when its request '
                    'names no create_timeout. Enforced by the sweeper for '
                    'every unfinished create, whether a flow runs it or not.'),
    cfg.IntOpt('update_timeout', default=60, min=1,
               help='Minutes an update or delete may take; enforced like '
                    'create_timeout.'),
    cfg.FloatOpt('drain_timeout', default=120.0, min=0,
                 help='Seconds the Swarm nodes named in a resize\'s '
                      'nodes_to_remove have, in all, to move their tasks '
                      'to other nodes (drain) before they are removed from '
                      'the swarm and their servers deleted anyway.'),
    cfg.IntOpt('upgrade_timeout', default=180, min=1,
               help='Minutes a cluster upgrade may take: it replaces every '
                    'node of the upgraded nodegroups, max_batch_size at a '
                    'time. Enforced like create_timeout.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)


def list_opts():
    return {group: opts}
