"""caas-api and caas-conductor processes against the real OpenStack services
of tools/openstack/local.sh, on MariaDB, configured as an operator would
configure them under devstack: keystone auth, the `caas` service user (role
`service`) for token validation and the cloud, the catalog for every
endpoint. No simulated cloud runs."""

import os
import subprocess

from tests.integration import deployment


class RealCloudDeployment(deployment.Deployment):
    """A Deployment whose Keystone, Nova and Heat are the real ones."""

    def __init__(self, workdir, env, db_url, api_port, act_as_trustee=True,
                 heat_environment=None, health_opts=None, **kwargs):
        """:param heat_environment: the conductors' ``[heat]
        environment_file`` (None: none).
        :param health_opts: more ``[health]`` options."""
        kwargs.setdefault('auth_strategy', 'keystone')
        self.act_as_trustee = act_as_trustee
        self.heat_environment = heat_environment
        self.health_opts = dict(health_opts or {})
        super().__init__(workdir, db_url, env['CAAS_OSTACK_TRANSPORT_URL'],
                         **kwargs)
        self.env = env
        # The port the catalog's container-infra endpoint names.
        self.api_port = api_port

    @property
    def auth_url(self):
        return self.env['CAAS_OSTACK_AUTH_URL']

    def write_config(self):
        password = self.env['CAAS_OSTACK_PASSWORD']
        service_auth = [
            'auth_url = %s' % self.auth_url,
            'username = caas',
            'password = %s' % password,
            'project_name = service',
            'user_domain_name = Default',
            'project_domain_name = Default',
        ]
        lines = [
            '[DEFAULT]',
            'transport_url = %s' % self.transport_url,
            'auth_strategy = %s' % self.auth_strategy,
            'debug = true',
            '[database]',
            'connection = %s' % self.db_url,
            '[api]',
            'host = 127.0.0.1',
            'port = %d' % self.api_port,
            '[cloud]',
        ] + service_auth + [
            'region_name = RegionOne',
            '[keystone_authtoken]',
            'www_authenticate_uri = %s' % self.auth_url,
            'auth_type = password',
            'region_name = RegionOne',
        ] + service_auth + [
            '[pki]',
            'encryption_keys = %s' % self.pki_key,
            # The trustee domain and its admin register.py made, as
            # Magnum's devstack plugin does; every Heat call of a cluster
            # goes through its trust.
            '[trust]',
            'trustee_domain_name = caas',
            'trustee_domain_admin_name = caas_trustee_domain_admin',
            'trustee_domain_admin_password = %s' % password,
            'act_as_trustee = %s' % self.act_as_trustee,
            '[health]',
            'probe_networks = 127.0.0.0/8',
        ] + ['%s = %s' % kv for kv in self.health_opts.items()] + [
            '[heat]',
            'environment_file = %s' % (self.heat_environment or ''),
            '[conductor]',
            'topic = %s' % self.topic,
        ] + ['%s = %s' % kv for kv in self.conductor_opts.items()]
        with open(self.conf, 'w') as f:
            f.write('\n'.join(lines) + '\n')

    def start(self):
        self.write_config()
        subprocess.run([os.path.join(deployment.BIN, 'caas-manage'),
                        '--config-file', self.conf, 'db', 'upgrade'],
                       check=True, capture_output=True)
        self._spawn('api', [os.path.join(deployment.BIN, 'caas-api'),
                            '--config-file', self.conf])
        for i in range(self.n_conductors):
            self.start_conductor(i)
        deployment.wait_http(self.api_url + '/', timeout=120)
        return self
