"""caas-all shares one interpreter between the API, the flows and the
simulated cloud: a request should not hand the GIL on needlessly."""

import os

import pytest

from caas.cmd import all as caas_all


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


def test_a_rule_written_into_that_file_applies(aio, mc):
    from magnumclient import exceptions as mc_exc
    from caas.common import policy
    policy.reset()
    assert mc.cluster_templates.list() == []
    with open(os.path.join(aio.data_dir, caas_all.POLICY_FILE), 'a') as f:
        f.write('"clustertemplate:get_all": "!"\n')
    # The file is read again when its mtime moves (on a coarse clock the
    # write may land in the same tick as the first read: force it).
    path = os.path.join(aio.data_dir, caas_all.POLICY_FILE)
    st = os.stat(path)
    os.utime(path, (st.st_atime, st.st_mtime + 5))
    try:
        with pytest.raises(mc_exc.Forbidden):
            mc.cluster_templates.list()
    finally:
        policy.reset()
