"""[cloud] options: how caas reaches Keystone, Nova, Glance and Heat."""

from oslo_config import cfg

group = cfg.OptGroup('cloud', title='OpenStack cloud credentials of caas')

opts = [
    cfg.URIOpt('auth_url', default='http://127.0.0.1:5000/v3',
               help='Keystone v3 URL.'),
    cfg.StrOpt('username', default='caas', help='Service user name.'),
    cfg.StrOpt('password', secret=True, default='caas',
               help='Service user password.'),
    cfg.StrOpt('project_name', default='service',
               help='Project the service user scopes its token to.'),
    cfg.StrOpt('user_domain_name', default='Default',
               help='Domain of the service user.'),
    cfg.StrOpt('project_domain_name', default='Default',
               help='Domain of the project.'),
    cfg.StrOpt('region_name', help='Region to pick endpoints from.'),
    cfg.StrOpt('interface', default='public',
               choices=['public', 'internal', 'admin'],
               help='Endpoint interface to use from the catalog.'),
    cfg.FloatOpt('timeout', default=30.0,
                 help='Seconds before an HTTP call to the cloud gives up.'),
    cfg.BoolOpt('validate_references', default=True,
                help='Check image, flavor and keypair references against '
                     'the cloud when a template or cluster is created.'),
    cfg.FloatOpt('reference_retry_timeout', default=3.0, min=0.0,
                 help='Seconds the API keeps retrying a reference check '
                      '(image, flavor, keypair, network) that failed with a '
                      '5xx answer or a connection error, with exponential '
                      'backoff, before it answers 503 naming the service '
                      'that is unavailable. 0 tries once.'),
    cfg.FloatOpt('reference_cache_time', default=10.0, min=0.0,
                 help='Seconds an API server remembers a reference it '
                      'found in the cloud (image, flavor, network; a '
                      "user's keypair for that user in that project only), "
                      'so that a burst of creates does not ask the cloud '
                      'the same question each time. A reference that was '
                      'not found is never remembered. 0 asks the cloud on '
                      'every request.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)


def list_opts():
    return {group: opts}
