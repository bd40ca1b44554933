"""caas-all: the embedded all-in-one.

API, one conductor and the simulated cloud in one process: SQLite under the
data directory, the in-process ``kombu+memory`` transport, noauth. The
simulated cloud keeps its state under the data directory too, so a crashed
and restarted caas-all finds its clusters, stacks and servers again and the
conductor resumes what was in progress.
"""

import os
import sys

from oslo_config import cfg
from oslo_log import log as logging

from caas import cmd
from caas.clients import environment
from caas.common import rpc
from caas.conf import CONF

LOG = logging.getLogger(__name__)

CLI_OPTS = [
    cfg.StrOpt('bind-host', dest='all_host', default='127.0.0.1',
               help='Address the API listens on.'),
    cfg.PortOpt('bind-port', dest='all_port', default=9511,
                help='Port the API listens on.'),
    cfg.StrOpt('data-dir', dest='all_data_dir',
               default=os.path.join(os.path.expanduser('~'), '.local',
                                    'share', 'caas'),
               help='Directory for the SQLite database and the simulated '
                    "cloud's state."),
    cfg.PortOpt('sim-port', dest='all_sim_port', default=5999,
                help='Port of the simulated cloud (Keystone, Nova, Glance, '
                     'Heat).'),
    cfg.BoolOpt('real-nodes', dest='all_real_nodes', default=False,
                help='Servers of the debian-bookworm-docker image are real '
                     'nodes that boot their user data (Linux, root): the '
                     'same as [sim] real_nodes = auto. Builds the base root '
                     'filesystem on first use.'),
]

BANNER = """\
caas is running (embedded all-in-one)
  API:             %(api)s/v1   (OpenStack-API-Version: container-infra 1.1-%(max)s)
  live view:       %(api)s/dashboard/
  in a terminal:   caas-manage --config-file %(data)s/caas.conf watch
  simulated cloud: %(auth)s   (users admin, caas, demo; password %(pw)s)
  data:            %(data)s
%(real)s
python-magnumclient:
  from magnumclient import client
  mc = client.Client('1', endpoint_override='%(api)s/v1', auth_token='any')
  mc.cluster_templates.create(name='k8s', coe='kubernetes', image_id='ubuntu-jammy',
                              flavor_id='m1.small', keypair_id='default',
                              external_network_id='public')
  mc.clusters.create(name='demo', cluster_template_id='k8s', node_count=2)

openstack coe (python-openstackclient + python-magnumclient):
  export OS_AUTH_TYPE=none OS_ENDPOINT=%(api)s/v1
  openstack coe cluster template list
"""


def _parse_host_port(argv):
    """Accept --host/--port as the README documents, as aliases."""
    out = []
    for arg in argv:
        if arg.startswith('--host'):
            arg = arg.replace('--host', '--bind-host', 1)
        elif arg.startswith('--port'):
            arg = arg.replace('--port', '--bind-port', 1)
        out.append(arg)
    return out


def configure(data_dir, sim_auth_url):
    os.makedirs(data_dir, exist_ok=True)
    CONF.set_override('transport_url', rpc.IN_PROCESS_TRANSPORT_URL)
    CONF.set_override('auth_strategy', 'noauth')
    CONF.set_override('state_path', data_dir)
    CONF.set_override('connection', 'sqlite:///%s' % os.path.join(
        data_dir, 'caas.sqlite'), group='database')
    CONF.set_override('auth_url', sim_auth_url, group='cloud')
    CONF.set_override('username', 'caas', group='cloud')
    CONF.set_override('password', CONF.sim.admin_password, group='cloud')
    CONF.set_override('project_name', 'service', group='cloud')
    # Nothing answers at the API addresses the simulated cloud hands out,
    # so health comes from the stacks and Nova here (a config file may turn
    # probes on, e.g. with real nodes); a probe stays on loopback anyway.
    CONF.set_default('coe_probes', False, group='health')
    CONF.set_default('probe_networks', ['127.0.0.0/8'], group='health')
    _policy_file(data_dir)
    if not CONF.pki.encryption_keys:
        # Embedded mode only: a key of its own, kept beside the database
        # that it protects, so that a restart still reads the CA keys.
        from caas.pki import keystore
        CONF.set_override('encryption_keys',
                          [keystore.ensure_local_key(data_dir)], group='pki')


POLICY_FILE = 'policy.yaml'
POLICY_TEXT = """\
# Overrides of caas's default policy rules (oslo.policy YAML), read by
# caas-all. Empty: the defaults in the code apply.
"""


def _policy_file(data_dir):
    """A policy file in the data directory, unless a configuration file
    names one. oslo.policy looks for a missing policy file (and policy.d)
    in every configuration directory at each check: some twenty stat calls
    per request, each of which hands the GIL to a busy flow and waits to get
    it back (a third of a template list's time during a fill). A file that
    exists is found once, then only its mtime is read."""
    path = os.path.join(data_dir, POLICY_FILE)
    if not os.path.exists(path):
        with open(path, 'w') as f:
            f.write(POLICY_TEXT)
    from oslo_policy import opts as policy_opts
    policy_opts.set_defaults(CONF)     # registers [oslo_policy]
    CONF.set_default('policy_file', path, group='oslo_policy')
    CONF.set_default('policy_dirs', [], group='oslo_policy')


class AllInOne:
    """The three parts, started and stopped together (also used by tests)."""

    def __init__(self, host, port, data_dir, sim_port=0, sim_knobs=None,
                 real_nodes=None):
        self.host, self.port, self.data_dir = host, port, data_dir
        self.sim_port = sim_port
        self.sim_knobs = sim_knobs or {}
        # The base root filesystem of real nodes, already checked (main);
        # None: [sim] real_nodes as it is.
        self.real_nodes = real_nodes
        self.sim = self.api_server = self.conductor = None

    @property
    def api_url(self):
        return 'http://%s:%d' % (self.host, self.api_server.port)

    def start(self):
        from caas.api import app as api_app
        from caas.api import server as api_server
        from caas.conductor import service
        from caas.db import migration
        from caas.db.sqlalchemy import engine
        from caas.cmd import cloudsim
        from caas.sim import server as sim_server

        knobs = {k: getattr(CONF.sim, k) for k in cloudsim.KNOBS}
        knobs.update(self.sim_knobs)
        self.sim = sim_server.SimServer(
            host='127.0.0.1', port=self.sim_port,
            state_dir=os.path.join(self.data_dir, 'cloudsim'),
            container_infra_url='http://%s:%d/v1' % (self.host, self.port),
            real_nodes=self.real_nodes or CONF.sim.real_nodes or None,
            floating_ip_range=CONF.sim.floating_ip_range, **knobs)
        self.sim.start()
        configure(self.data_dir, self.sim.auth_url)
        # What caas-manage needs to read this database (watch, operation
        # list) from another shell.
        with open(os.path.join(self.data_dir, 'caas.conf'), 'w') as f:
            f.write('[database]\nconnection = %s\n' %
                    CONF.database.connection)
        engine.dispose()
        rpc.cleanup()
        migration.upgrade()
        self.conductor = service.ConductorService(
            host='%s-all' % CONF.host, binary='caas-all')
        self.conductor.start()
        self.api_server = api_server.serve(
            api_app.build_app(), self.host, self.port, CONF.api.threads)
        return self

    def stop(self):
        if self.api_server is not None:
            self.api_server.stop()
        if self.conductor is not None:
            self.conductor.stop(graceful_timeout=2)
        if self.sim is not None:
            self.sim.stop()
        rpc.cleanup()


def _real_banner(aio):
    backend = aio.sim.cloud.realnodes
    if backend is None:
        return ''
    return ('  real nodes:      servers of debian-bookworm-docker; base %s\n'
            '                   floating IPs %s, nodes in %s\n' % (
                backend.base, backend.floating_range, backend.workdir))


def main(argv=None):
    argv = _parse_host_port(sys.argv[1:] if argv is None else argv)
    cmd.prepare(argv, cli_opts=CLI_OPTS, default_config_files=[])
    from caas.api import microversions
    setting = CONF.sim.real_nodes or ('auto' if CONF.all_real_nodes else '')
    real_nodes = cmd.real_nodes_base(
        'caas-all', setting,
        build_missing=CONF.all_real_nodes or setting == 'auto')
    aio = AllInOne(CONF.all_host, CONF.all_port,
                   os.path.abspath(CONF.all_data_dir),
                   sim_port=CONF.all_sim_port, real_nodes=real_nodes)
    from caas.sim.realnodes import base
    try:
        aio.start()
    except base.Unavailable as exc:
        aio.stop()
        print('caas-all: no real nodes: %s' % exc, file=sys.stderr)
        return 2
    except environment.EnvironmentFileError as exc:
        aio.stop()
        print('caas-all: %s' % exc, file=sys.stderr)
        return 2
    except OSError as exc:
        aio.stop()
        print('caas-all: cannot listen (%s). Is another caas-all running? '
              'Choose other ports with --port and --sim-port.' % exc,
              file=sys.stderr)
        return 1
    cmd.settle_heap()
    print(BANNER % {'api': aio.api_url, 'auth': aio.sim.auth_url,
                    'pw': CONF.sim.admin_password, 'data': aio.data_dir,
                    'max': microversions.MAX_VERSION,
                    'real': _real_banner(aio)}, flush=True)
    cmd.wait_for_stop_signal('caas-all')
    aio.stop()
    return 0
