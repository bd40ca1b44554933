"""Progress events of operations (issue 12).

Revision ID: 0002w
Revises: 0002c
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = '0002w'
down_revision = '0002c'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'events',
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        sa.Column('operation_id', sa.String(36),
                  sa.ForeignKey('operations.id', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('cluster_id', sa.String(36), nullable=False),
        sa.Column('project_id', sa.String(255)),
        sa.Column('kind', sa.String(64), nullable=False),
        sa.Column('step', sa.String(64)),
        sa.Column('step_index', sa.Integer, nullable=False),
        sa.Column('step_count', sa.Integer, nullable=False),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('message', sa.String(255)),
        sa.Column('data', sa.JSON),
        sa.Column('conductor', sa.String(255), nullable=False),
        sa.Column('epoch', sa.Integer, nullable=False),
        sa.Column('created_at', sa.DateTime, nullable=False),
    )
    op.create_index('ix_events_cluster', 'events', ['cluster_id', 'id'])
    op.create_index('ix_events_project', 'events', ['project_id', 'id'])
    op.create_index('ix_events_operation', 'events', ['operation_id'])


def downgrade():
    op.drop_table('events')
