"""[trust] options: the cloud credential each cluster's nodes use.

caas makes one Keystone user per cluster (the trustee) in a domain of its
own and a trust from the cluster's owner to it; the nodes' OpenStack cloud
provider authenticates with them (see doc/source/credentials.rst).
"""

from oslo_config import cfg

group = cfg.OptGroup('trust', title='Per-cluster trustees and trusts')

opts = [
    cfg.StrOpt('trustee_domain_id',
               help='ID of the Keystone domain the per-cluster trustee '
                    'users are created in. Takes precedence over '
                    'trustee_domain_name. When neither is set the service '
                    "user's own domain (\"default\") is used."),
    cfg.StrOpt('trustee_domain_name',
               help='Name of the Keystone domain of the trustee users, '
                    'used when trustee_domain_id is not set.'),
    cfg.ListOpt('roles', default=[],
                help="Roles the trust delegates from the cluster's owner on "
                     "the cluster's project. Empty delegates every role the "
                     'owner has there when the trust is made.'),
    cfg.BoolOpt('cluster_user_trust', default=True,
                help="Hand the trust to the cluster's nodes, so that their "
                     'OpenStack cloud provider can act on the cloud as the '
                     "cluster's owner (load balancers, volumes). When false "
                     'the trustee and the trust are still made (and rotated '
                     'and deleted with the cluster) but the nodes get an '
                     'empty trust id, as Magnum does.'),
    cfg.StrOpt('trustee_domain_admin_id',
               help='ID of the user caas manages the trustee users with '
                    '(an admin of the trustee domain only, as Magnum\'s '
                    'trustee_domain_admin). Takes precedence over '
                    'trustee_domain_admin_name. When neither is set caas\'s '
                    '[cloud] service user does it, which then needs a role '
                    'that may create and list users and list and delete '
                    'trusts.'),
    cfg.StrOpt('trustee_domain_admin_name',
               help='Name of that user, in the trustee domain, used when '
                    'trustee_domain_admin_id is not set.'),
    cfg.StrOpt('trustee_domain_admin_password', secret=True,
               help="The trustee domain admin's password."),
    cfg.BoolOpt('act_as_trustee', default=False,
                help="Make every Heat and Nova call of a cluster's "
                     "operations after its credential exists with a token "
                     "of the cluster's trust (the trustee user's password, "
                     "scoped to the trust), as Magnum does: the stack lives "
                     "in the cluster owner's project and later operations "
                     "need no token of theirs. A delete whose trust no "
                     "longer gives a token (its owner lost their role) "
                     "acts with the token of whoever asked for it. When "
                     "false (the simulated cloud's default) caas's service "
                     "session makes every call and the stacks live in "
                     "caas's service project."),
    cfg.IntOpt('password_length', default=32, min=16, max=128,
               help='Length of the random password of each trustee user.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)


def list_opts():
    return {group: opts}
