"""Nodegroups as first-class resources (issue 7): node labels and taints,
one name per cluster.

Revision ID: 0003n
Revises: 0002w
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = '0003n'
down_revision = '0003q'
branch_labels = None
depends_on = None


def upgrade():
    # Batch mode: SQLite cannot add a constraint with ALTER TABLE.
    with op.batch_alter_table('nodegroups') as batch:
        batch.add_column(sa.Column('node_labels', sa.JSON))
        batch.add_column(sa.Column('node_taints', sa.JSON))
        batch.create_unique_constraint('uq_nodegroups_cluster_name',
                                       ['cluster_id', 'name'])


def downgrade():
    with op.batch_alter_table('nodegroups') as batch:
        batch.drop_constraint('uq_nodegroups_cluster_name', type_='unique')
        batch.drop_column('node_taints')
        batch.drop_column('node_labels')
