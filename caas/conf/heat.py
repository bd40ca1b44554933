"""[heat] options: what the conductor sends Heat with every stack it makes."""

from oslo_config import cfg

group = cfg.OptGroup('heat', title='Heat stacks of the clusters')

opts = [
    cfg.StrOpt('environment_file',
               help='Path to a Heat environment file (YAML) the conductor '
                    'sends with every stack it creates, the cluster stacks '
                    "and the stacks of the nodegroups users add, as ``openstack "
                    'stack create -e`` does: its ``resource_registry`` maps '
                    'resource types to others, e.g. on a cloud without '
                    'Octavia or Cinder the load balancer and volume types to '
                    'provider templates of the operator\'s. A registry '
                    'value that is a relative path names a template file '
                    'next to the environment file; it is read and sent in '
                    "the stack's files. The file and the templates it names "
                    'are read once, when the conductor starts: a file that '
                    'is missing or not a valid environment stops the '
                    'conductor with an error naming it. Stack updates keep '
                    'the environment the stack was created with (Heat merges '
                    'PATCH updates into it). Unset: no environment is sent.'),
]


def register_opts(conf):
    conf.register_group(group)
    conf.register_opts(opts, group=group)


def list_opts():
    return {group: opts}
