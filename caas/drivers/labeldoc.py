"""The user guide's label page, generated from the drivers' label schemas.

Every installed driver (the ``caas.drivers`` entry points) is listed with
every label its schema declares: type, allowed values, default and help.
Drivers sharing one schema share one table. ``make label-docs`` writes
``doc/source/labels.rst``; a unit test fails when the committed page is
not what this module renders, so the page cannot drift from the code.
"""

import json
import sys

import caas.drivers

TITLE = 'Cluster labels by driver'

INTRO = """\
Labels are key/value strings on a cluster template, a cluster or a
nodegroup (``--labels key=value,...``). A cluster takes its template's
labels unless it is given its own (with ``--merge-labels`` they override
the template's); ``openstack coe cluster show`` reports the difference in
``labels_overridden`` (the template's value of each label the cluster
changed), ``labels_added`` and ``labels_skipped``, as Magnum does.

Each driver declares the labels it understands. A known label with a value
of the wrong type is refused with a 400 naming it when the template or the
cluster is created; a label the driver does not know is stored and ignored
(or refused, with ``[drivers] strict_labels = true``). Booleans accept
``true``/``false`` (and Magnum's other spellings: ``1``, ``yes``, ...).

This page is generated from the drivers' schemas (``make label-docs``);
do not edit it by hand.
"""


def _type(schema):
    text = schema.get('type', 'string')
    if isinstance(text, list):
        text = ' or '.join(text)
    if 'enum' in schema:
        text += ', one of: %s' % ', '.join(
            '``%s``' % json.dumps(v) for v in schema['enum'])
    if 'pattern' in schema:
        text += ', matching ``%s``' % schema['pattern']
    bounds = [('>= %s' % schema['minimum']) if 'minimum' in schema else '',
              ('<= %s' % schema['maximum']) if 'maximum' in schema else '']
    bounds = [b for b in bounds if b]
    if bounds:
        text += ', %s' % ' and '.join(bounds)
    return text


def _default(schema):
    if 'default' not in schema:
        return '(none)'
    value = schema['default']
    if isinstance(value, bool):
        return '``%s``' % ('true' if value else 'false')
    if value == '':
        return '(empty)'
    return '``%s``' % value


def _table(schema):
    props = schema.get('properties') or {}
    if not props:
        extra = schema.get('additionalProperties')
        return ['Takes any label and builds nothing from labels.' if extra
                else 'Takes no labels.', '']
    lines = ['.. list-table::', '   :header-rows: 1',
             '   :widths: 20 25 15 40', '',
             '   * - Label', '     - Type', '     - Default', '     - Help']
    for name in sorted(props):
        entry = props[name]
        lines += ['   * - ``%s``' % name,
                  '     - %s' % _type(entry),
                  '     - %s' % _default(entry),
                  '     - %s' % ' '.join((entry.get('description') or
                                          '').split())]
    return lines + ['']


def _serves(provides):
    return ', '.join('%s / %s / %s' % (p['coe'], p['os'], p['server_type'])
                     for p in provides) or 'selected explicitly only'


def render():
    """The page (reStructuredText) for the installed drivers."""
    groups = {}
    for name, provides in caas.drivers.list_drivers():
        schema = caas.drivers.get_driver(name).labels_schema
        key = json.dumps(schema, sort_keys=True)
        groups.setdefault(key, {'schema': schema, 'drivers': []})
        groups[key]['drivers'].append((name, provides))
    lines = [TITLE, '=' * len(TITLE), '', INTRO]
    for group in sorted(groups.values(), key=lambda g: g['drivers'][0][0]):
        names = ', '.join(n for n, _p in group['drivers'])
        heading = 'Driver%s %s' % ('s' if len(group['drivers']) > 1 else '',
                                   names)
        lines += [heading, '-' * len(heading), '']
        for name, provides in group['drivers']:
            lines.append('* ``%s``: %s' % (name, _serves(provides)))
        lines.append('')
        description = ' '.join((group['schema'].get('description') or
                                '').split())
        if description:
            lines += [description, '']
        lines += _table(group['schema'])
    return '\n'.join(lines).rstrip('\n') + '\n'


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    text = render()
    if argv:
        with open(argv[0], 'w') as out:
            out.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
