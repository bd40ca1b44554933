"""A caas process names itself to PostgreSQL (``application_name``), so an
operator sees in ``pg_stat_activity`` which service holds a connection."""

import sqlalchemy as sa

from caas.db.sqlalchemy import engine


def _names(url):
    eng = engine.create_engine(url)
    try:
        with eng.connect() as conn:
            return conn.execute(sa.text(
                "SELECT current_setting('application_name'), "
                "current_setting('transaction_isolation')")).one()
    finally:
        eng.dispose()


def _url(eng):
    return eng.url.render_as_string(hide_password=False)


def test_the_program_name_is_the_application_name(pg_db, monkeypatch):
    monkeypatch.setattr('sys.argv', ['/usr/bin/caas-conductor', '--x'])
    name, isolation = _names(_url(pg_db))
    assert name == 'caas-conductor'
    # The other startup option is kept.
    assert isolation == 'read committed'


def test_a_name_in_the_url_wins(pg_db, monkeypatch):
    monkeypatch.setattr('sys.argv', ['/usr/bin/caas-api'])
    url = pg_db.url.update_query_dict(
        {'application_name': 'site-name'})
    assert _names(url.render_as_string(hide_password=False))[0] == \
        'site-name'


def test_a_long_or_missing_program_name():
    import sys
    saved = sys.argv
    try:
        sys.argv = ['/x/' + 'c' * 100]
        assert engine.application_name() == 'c' * 63
        sys.argv = ['']
        assert engine.application_name() == 'caas'
    finally:
        sys.argv = saved
