"""Every caas option the documentation names as ``[group] option`` is one
caas registers: a renamed or removed option fails here, not in an
operator's configuration file."""

import glob
import os
import re

from caas.conf import opts

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
NAMED = re.compile(r'\[([a-z_]+)\]`*\s+`*([a-z_]+)')
# Groups of the oslo libraries and keystonemiddleware, not caas's.
FOREIGN = ('oslo_', 'keystone_authtoken')


def _docs():
    return [os.path.join(ROOT, 'README.md')] + sorted(
        glob.glob(os.path.join(ROOT, 'doc', 'source', '*.rst')))


def _named(text):
    return {(g, o) for g, o in NAMED.findall(text)
            if not g.startswith(FOREIGN)}


def _registered():
    out = set()
    for group, group_opts in opts.list_opts():
        name = getattr(group, 'name', group) or 'DEFAULT'
        out.update((name, o.dest) for o in group_opts)
    return out


def test_the_pattern_finds_what_the_docs_write():
    assert _named('``[conductor] workers`` and [api] `threads` and '
                  '[oslo_policy] policy_file') == {
        ('conductor', 'workers'), ('api', 'threads')}


def test_every_option_the_docs_name_exists():
    registered = _registered()
    named = {}
    for path in _docs():
        with open(path) as f:
            for pair in _named(f.read()):
                named.setdefault(pair, os.path.relpath(path, ROOT))
    assert len(named) > 30
    missing = sorted('[%s] %s (%s)' % (g, o, where)
                     for (g, o), where in named.items()
                     if (g, o) not in registered)
    assert not missing, missing
