"""caas-manage: operator commands (migrations, conductors, operations, watch)."""

import sys

from oslo_config import cfg

from caas import cmd
from caas.conf import CONF


def _db_upgrade():
    from caas.db import migration
    migration.upgrade(CONF.command.revision)
    print('Database is at revision %s' % migration.version())


def _db_version():
    from caas.db import migration
    print(migration.version())


def _conductor_list():
    from caas.db import operations as db_ops
    for c in db_ops.list_conductors():
        print('%-30s %-16s last heartbeat %s, %d reports' % (
            c.host, c.binary, c.heartbeat_at.isoformat(timespec='seconds'),
            c.report_count))


def _operation_list():
    from caas.common import states
    from caas.db import api as db_api
    only = None if CONF.command.all else states.OP_UNFINISHED
    for op in db_api.list_operations(states_in=only):
        print('%s %-15s %-9s cluster %s owner %s epoch %d' % (
            op.id, op.kind, op.state, op.cluster_id, op.owner or '-',
            op.epoch))


def _watch():
    from caas.cmd import watch
    sys.exit(watch.run(CONF.command.cluster, CONF.command.interval))


def _add_parsers(subparsers):
    db = subparsers.add_parser('db', help='Database schema.')
    dbsub = db.add_subparsers(dest='db_command')
    up = dbsub.add_parser('upgrade', help='Apply every migration.')
    up.add_argument('revision', nargs='?', default='head')
    up.set_defaults(func=_db_upgrade)
    ver = dbsub.add_parser('version', help='Print the schema revision.')
    ver.set_defaults(func=_db_version)

    cond = subparsers.add_parser('conductor', help='Conductors.')
    csub = cond.add_subparsers(dest='conductor_command')
    clist = csub.add_parser('list', help='Conductors and their heartbeats.')
    clist.set_defaults(func=_conductor_list)

    ops = subparsers.add_parser('operation', help='Operations.')
    osub = ops.add_subparsers(dest='operation_command')
    olist = osub.add_parser('list', help='Unfinished operations.')
    olist.add_argument('--all', action='store_true',
                       help='Finished operations too.')
    olist.set_defaults(func=_operation_list)

    watch = subparsers.add_parser(
        'watch', help='Operations in progress, live, with a progress bar '
                      'each; with a cluster, until its operation ends.')
    watch.add_argument('cluster', nargs='?', help='Cluster name or UUID.')
    watch.add_argument('--interval', type=float, default=0.5,
                       help='Seconds between two reads of the database.')
    watch.set_defaults(func=_watch)


def main(argv=None):
    command_opt = cfg.SubCommandOpt('command', title='Commands',
                                    handler=_add_parsers)
    cmd.prepare(argv, cli_opts=[command_opt])
    func = getattr(CONF.command, 'func', None)
    if func is None:
        print('caas-manage: give a command, e.g. "caas-manage db upgrade"',
              file=sys.stderr)
        return 2
    func()
    return 0


if __name__ == '__main__':
    sys.exit(main())
