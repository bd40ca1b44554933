"""Project quotas (Magnum's quotas table) and the per-project row that
serializes cluster creates against them.

Revision ID: 0003q
Revises: 0002w
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = '0003q'
down_revision = '0002w'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'quotas',
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        sa.Column('project_id', sa.String(255), nullable=False),
        sa.Column('resource', sa.String(255), nullable=False),
        sa.Column('hard_limit', sa.Integer, nullable=False),
        sa.Column('created_at', sa.DateTime, nullable=False),
        sa.Column('updated_at', sa.DateTime),
        sa.UniqueConstraint('project_id', 'resource',
                            name='uq_quotas_project_resource'),
    )
    op.create_table(
        'quota_locks',
        sa.Column('project_id', sa.String(255), primary_key=True),
        sa.Column('resource', sa.String(255), primary_key=True),
        sa.Column('locked_at', sa.DateTime, nullable=False),
    )


def downgrade():
    op.drop_table('quota_locks')
    op.drop_table('quotas')
