"""The user guide's label page is what the drivers' schemas say today."""

import os

import caas.drivers
from caas.drivers import labeldoc

PAGE = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'doc',
                    'source', 'labels.rst')


def test_the_committed_label_page_is_current():
    # The drivers are setup.cfg's (conftest), as `make label-docs` sees
    # them once installed.
    with open(PAGE) as f:
        committed = f.read()
    assert labeldoc.render() == committed, (
        'doc/source/labels.rst is stale: run make label-docs')


def test_every_label_of_every_driver_is_on_the_page():
    page = labeldoc.render()
    for name, _provides in caas.drivers.list_drivers():
        assert '``%s``' % name in page
        for label in caas.drivers.get_driver(name).labels_schema.get(
                'properties', {}):
            assert '* - ``%s``' % label in page, (name, label)


def test_a_new_label_changes_the_page(monkeypatch):
    from caas.drivers.kubernetes import labels
    before = labeldoc.render()
    monkeypatch.setitem(labels.SCHEMA['properties'], 'zz_new', {
        'type': 'integer', 'default': 3, 'description': 'A new one.'})
    after = labeldoc.render()
    assert after != before and '``zz_new``' in after and 'A new one.' in after
