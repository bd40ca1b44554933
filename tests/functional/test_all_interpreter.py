"""caas-all shares one interpreter between the API, the flows and the
simulated cloud: what keeps a request from waiting on the GIL."""

import os
import sys

from caas.cmd import all as caas_all


def test_the_gil_changes_hands_every_millisecond_while_it_runs(aio):
    assert sys.getswitchinterval() <= caas_all.SWITCH_INTERVAL < 0.005


def test_policy_is_read_from_a_file_of_the_data_dir(aio, mc):
    # Found once: a missing policy file is looked for at every check.
    from caas.common import policy
    from caas.conf import CONF
    path = os.path.join(aio.data_dir, caas_all.POLICY_FILE)
    assert CONF.oslo_policy.policy_file == path
    assert CONF.oslo_policy.policy_dirs == []
    policy.reset()
    assert mc.cluster_templates.list() == []
    assert policy.get_enforcer().policy_path == path
