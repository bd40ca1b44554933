"""Cluster trustees: the Keystone user and trust each cluster's nodes use.

Revision ID: 0003k
Revises: 0002w
Create Date: 2026-12-01

A new table only (no ALTER of an existing one), so SQLite needs no batch
mode. Rows go with their cluster (ON DELETE CASCADE), but the cluster
delete flow removes the Keystone user and trust of every row first.
"""

import sqlalchemy as sa
from alembic import op

revision = '0003k'
down_revision = '0003n'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'cluster_trustees',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('cluster_uuid', sa.String(36),
                  sa.ForeignKey('clusters.uuid', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('operation_id', sa.String(36), nullable=False),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('username', sa.String(255), nullable=False),
        sa.Column('domain_id', sa.String(255), nullable=False),
        sa.Column('user_id', sa.String(255)),
        sa.Column('trust_id', sa.String(255)),
        sa.Column('trustor_user_id', sa.String(255)),
        sa.Column('encrypted_password', sa.Text, nullable=False),
        sa.Column('created_at', sa.DateTime, nullable=False),
        sa.Column('updated_at', sa.DateTime),
        sa.UniqueConstraint('cluster_uuid', 'operation_id',
                            name='uq_cluster_trustees_operation'))


def downgrade():
    op.drop_table('cluster_trustees')
