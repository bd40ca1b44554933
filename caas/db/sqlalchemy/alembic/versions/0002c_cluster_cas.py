"""Cluster certificate authorities: one row per cluster and CA type.

Revision ID: 0002c
Revises: 0001
Create Date: 2026-12-01

A new table only (no ALTER of an existing one), so SQLite needs no batch
mode. Rows go with their cluster (ON DELETE CASCADE; caas turns SQLite's
foreign keys on for every connection).
"""

import sqlalchemy as sa
from alembic import op

revision = '0002c'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'cluster_cas',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('cluster_uuid', sa.String(36),
                  sa.ForeignKey('clusters.uuid', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('ca_type', sa.String(32), nullable=False),
        sa.Column('cert_pem', sa.Text, nullable=False),
        sa.Column('encrypted_key', sa.Text, nullable=False),
        sa.Column('rotated_at', sa.DateTime),
        sa.Column('created_at', sa.DateTime, nullable=False),
        sa.Column('updated_at', sa.DateTime),
        sa.UniqueConstraint('cluster_uuid', 'ca_type',
                            name='uq_cluster_cas_cluster_type'))


def downgrade():
    op.drop_table('cluster_cas')
