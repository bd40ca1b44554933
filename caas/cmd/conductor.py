"""caas-conductor: RPC consumer, flow engine, heartbeat, takeover, watcher."""

import sys

from oslo_log import log as logging

from caas import cmd
from caas.clients import environment
from caas.conductor import service

LOG = logging.getLogger(__name__)


def main(argv=None):
    cmd.prepare(argv)
    try:
        conductor = service.ConductorService()
    except environment.EnvironmentFileError as exc:
        LOG.error('%s', exc)
        print('caas-conductor: %s' % exc, file=sys.stderr)
        return 2
    conductor.start()
    cmd.settle_heap()
    cmd.wait_for_stop_signal('the conductor')
    conductor.stop()
    return 0
