"""caas's database contracts on MariaDB, the database most clouds run.

The same tests that prove them on SQLite (``db``) and PostgreSQL (``pg``),
collected here again with both fixtures bound to a fresh MariaDB database
(conftest.py): migrations; compare-and-set claims and fencing (MariaDB has
no UPDATE ... RETURNING: caas reads the row back under the UPDATE's lock);
a DELETE superseding what runs; quota row locks with racing creates; an
event racing a claim; purge; project scope; and whole flows on a real
TaskFlow engine with its SQL persistence in MariaDB, including takeover.
"""

import pytest
import sqlalchemy as sa
from alembic import script as alembic_script

from caas.db import migration
from caas.db.sqlalchemy import models
from tests.integration.test_events_postgresql import *  # noqa: F401,F403
from tests.integration.test_quota_postgresql import *  # noqa: F401,F403
from tests.unit.conductor.test_flows import *  # noqa: F401,F403
from tests.unit.db.test_make_cas import *  # noqa: F401,F403
from tests.unit.db.test_operations import *  # noqa: F401,F403
from tests.unit.db.test_purge import *  # noqa: F401,F403
from tests.unit.db.test_scope import *  # noqa: F401,F403
from tests.unit.db.test_start_delete import *  # noqa: F401,F403
from tests.unit.conductor.conftest import PKI_KEY
from tests.unit.conductor.conftest import make_runner, sim  # noqa: F401

pytestmark = pytest.mark.openstack


# The star imports brought the PostgreSQL tests' own ``pg`` fixture: this
# module's definition replaces it.
@pytest.fixture
def pg(maria_db):  # noqa: F811
    return maria_db


# test_make_cas's ``store`` (SQLite and PostgreSQL): the conductor's CA
# insert on MariaDB (INSERT ... ON DUPLICATE KEY UPDATE a no-op).
@pytest.fixture
def store(maria_db, conf):  # noqa: F811
    conf('encryption_keys', [PKI_KEY], group='pki')
    return 'mysql'


def test_migrations_reach_head_and_the_tables_are_innodb(maria_db):
    script = alembic_script.ScriptDirectory(migration._SCRIPT_LOCATION)
    assert migration.version() == script.get_current_head()
    with maria_db.connect() as conn:
        engines = dict(conn.execute(sa.text(
            'SELECT table_name, engine FROM information_schema.tables '
            'WHERE table_schema = DATABASE()')).all())
    # Row locks and transactions need InnoDB, on every caas table.
    for table in models.Base.metadata.tables:
        assert engines.get(table) == 'InnoDB', table
