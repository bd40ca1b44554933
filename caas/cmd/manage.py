"""caas-manage: operator commands (database migrations, purge, conductors,
operations, watch, CA key encryption)."""

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


def _db_purge():
    from caas.db import purge
    if CONF.command.older_than < 0 or CONF.command.batch_size < 1:
        print('caas-manage db purge: --older-than must be 0 or more and '
              '--batch-size 1 or more', file=sys.stderr)
        return 2
    counts = purge.purge(CONF.command.older_than, CONF.command.batch_size)
    for table in ('operations', 'logbooks', 'flowdetails', 'atomdetails'):
        print('%-12s %d rows removed' % (table, counts[table]))


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


def _pki_generate_key():
    from caas.pki import keystore
    print(keystore.generate_key())


def _pki_rekey():
    from caas.db import certificates
    from caas.db import trustees
    from caas.pki import keystore
    done = certificates.rekey(keystore.rotate)
    print('Re-encrypted %d CA keys with the first of [pki] encryption_keys'
          % done)
    done = trustees.rekey(keystore.rotate)
    print('Re-encrypted %d trustee passwords with the first of [pki] '
          'encryption_keys' % done)


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
    purge = dbsub.add_parser(
        'purge', help='Remove finished operations and their TaskFlow '
                      'logbooks older than --older-than days, in batches; '
                      'safe while the service runs (unfinished operations '
                      'are never touched).')
    purge.add_argument('--older-than', type=float, required=True,
                       metavar='DAYS',
                       help='Only what finished more than DAYS days ago '
                            '(fractions allowed; 0 means everything '
                            'finished).')
    purge.add_argument('--batch-size', type=int, default=1000, metavar='N',
                       help='Rows removed per transaction (default 1000).')
    purge.set_defaults(func=_db_purge)

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

    pki = subparsers.add_parser('pki', help="Clusters' CA keys.")
    psub = pki.add_subparsers(dest='pki_command')
    gen = psub.add_parser('generate-key',
                          help='Print a new key for [pki] encryption_keys.')
    gen.set_defaults(func=_pki_generate_key)
    rekey = psub.add_parser(
        'rekey', help='Re-encrypt every CA key and trustee password with '
                      'the first of [pki] encryption_keys (after putting a '
                      'new key first).')
    rekey.set_defaults(func=_pki_rekey)

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
    return func() or 0


if __name__ == '__main__':
    sys.exit(main())
