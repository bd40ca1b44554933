"""The committed configuration sample matches the options in code.

etc/caas/caas.conf.sample is what operators and the devstack plugin read; it
is regenerated here exactly as the README says, in a subprocess so that the
generator's default-setting hooks cannot touch this process's CONF.
"""

import pathlib
import subprocess
import sys

from caas.conf import opts

ROOT = pathlib.Path(__file__).resolve().parents[2]
GENERATOR_CONF = ROOT / 'etc' / 'caas' / 'caas-config-generator.conf'
SAMPLE = ROOT / 'etc' / 'caas' / 'caas.conf.sample'

_RUN_GENERATOR = (
    'import sys; from oslo_config import generator; sys.exit(generator.main())')


def test_config_sample_is_up_to_date(tmp_path):
    out = tmp_path / 'caas.conf.sample'
    subprocess.run(
        [sys.executable, '-W', 'ignore', '-c', _RUN_GENERATOR,
         '--config-file', str(GENERATOR_CONF), '--output-file', str(out)],
        check=True, cwd=ROOT, capture_output=True, timeout=120)
    assert out.read_text() == SAMPLE.read_text(), (
        'etc/caas/caas.conf.sample is stale; regenerate it with '
        'oslo-config-generator --config-file '
        'etc/caas/caas-config-generator.conf')


def test_every_caas_option_has_help():
    missing = [
        '%s.%s' % (getattr(group, 'name', group), opt.name)
        for group, group_opts in opts.list_opts()
        for opt in group_opts
        if not (opt.help or '').strip()]
    assert missing == []


def test_every_caas_group_is_in_the_sample():
    text = SAMPLE.read_text()
    for group, _ in opts.list_opts():
        assert '[%s]' % getattr(group, 'name', group) in text
