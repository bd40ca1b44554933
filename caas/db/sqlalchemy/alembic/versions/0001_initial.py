"""Initial schema: cluster templates, clusters, nodegroups, operations, conductors.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def _timestamps():
    return [sa.Column('created_at', sa.DateTime, nullable=False),
            sa.Column('updated_at', sa.DateTime)]


def upgrade():
    op.create_table(
        'cluster_templates',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('uuid', sa.String(36), nullable=False, unique=True),
        sa.Column('name', sa.String(255)),
        sa.Column('project_id', sa.String(255)),
        sa.Column('user_id', sa.String(255)),
        sa.Column('coe', sa.String(64), nullable=False),
        sa.Column('image_id', sa.String(255), nullable=False),
        sa.Column('flavor_id', sa.String(255)),
        sa.Column('master_flavor_id', sa.String(255)),
        sa.Column('keypair_id', sa.String(255)),
        sa.Column('external_network_id', sa.String(255)),
        sa.Column('fixed_network', sa.String(255)),
        sa.Column('fixed_subnet', sa.String(255)),
        sa.Column('network_driver', sa.String(255)),
        sa.Column('volume_driver', sa.String(255)),
        sa.Column('dns_nameserver', sa.String(255)),
        sa.Column('apiserver_port', sa.Integer),
        sa.Column('docker_volume_size', sa.Integer),
        sa.Column('docker_storage_driver', sa.String(255)),
        sa.Column('cluster_distro', sa.String(255)),
        sa.Column('http_proxy', sa.String(255)),
        sa.Column('https_proxy', sa.String(255)),
        sa.Column('no_proxy', sa.String(255)),
        sa.Column('registry_enabled', sa.Boolean),
        sa.Column('labels', sa.JSON),
        sa.Column('tls_disabled', sa.Boolean),
        sa.Column('public', sa.Boolean),
        sa.Column('server_type', sa.String(255)),
        sa.Column('insecure_registry', sa.String(255)),
        sa.Column('master_lb_enabled', sa.Boolean),
        sa.Column('floating_ip_enabled', sa.Boolean),
        sa.Column('hidden', sa.Boolean),
        sa.Column('tags', sa.String(255)),
        sa.Column('driver', sa.String(255)),
        *_timestamps())
    op.create_index('ix_cluster_templates_project', 'cluster_templates',
                    ['project_id'])

    op.create_table(
        'clusters',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('uuid', sa.String(36), nullable=False, unique=True),
        sa.Column('name', sa.String(255)),
        sa.Column('project_id', sa.String(255)),
        sa.Column('user_id', sa.String(255)),
        sa.Column('cluster_template_id', sa.String(36), nullable=False),
        sa.Column('keypair', sa.String(255)),
        sa.Column('docker_volume_size', sa.Integer),
        sa.Column('labels', sa.JSON),
        sa.Column('master_flavor_id', sa.String(255)),
        sa.Column('flavor_id', sa.String(255)),
        sa.Column('node_count', sa.Integer, nullable=False),
        sa.Column('master_count', sa.Integer, nullable=False),
        sa.Column('create_timeout', sa.Integer),
        sa.Column('discovery_url', sa.String(255)),
        sa.Column('stack_id', sa.String(255)),
        sa.Column('status', sa.String(32), nullable=False),
        sa.Column('status_reason', sa.Text),
        sa.Column('health_status', sa.String(32)),
        sa.Column('health_status_reason', sa.JSON),
        sa.Column('coe_version', sa.String(255)),
        sa.Column('container_version', sa.String(255)),
        sa.Column('api_address', sa.String(255)),
        sa.Column('master_addresses', sa.JSON),
        sa.Column('node_addresses', sa.JSON),
        sa.Column('fixed_network', sa.String(255)),
        sa.Column('fixed_subnet', sa.String(255)),
        sa.Column('floating_ip_enabled', sa.Boolean),
        sa.Column('master_lb_enabled', sa.Boolean),
        sa.Column('ca_cert', sa.Text),
        sa.Column('operation_id', sa.String(36)),
        sa.Column('health_checked_at', sa.DateTime),
        *_timestamps())
    op.create_index('ix_clusters_project', 'clusters', ['project_id'])
    op.create_index('ix_clusters_template', 'clusters',
                    ['cluster_template_id'])

    op.create_table(
        'nodegroups',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('uuid', sa.String(36), nullable=False, unique=True),
        sa.Column('name', sa.String(255), nullable=False),
        sa.Column('cluster_id', sa.String(36),
                  sa.ForeignKey('clusters.uuid', ondelete='CASCADE'),
                  nullable=False),
        sa.Column('project_id', sa.String(255)),
        sa.Column('docker_volume_size', sa.Integer),
        sa.Column('labels', sa.JSON),
        sa.Column('flavor_id', sa.String(255)),
        sa.Column('image_id', sa.String(255)),
        sa.Column('node_addresses', sa.JSON),
        sa.Column('node_count', sa.Integer, nullable=False),
        sa.Column('role', sa.String(255), nullable=False),
        sa.Column('max_node_count', sa.Integer),
        sa.Column('min_node_count', sa.Integer),
        sa.Column('is_default', sa.Boolean),
        sa.Column('stack_id', sa.String(255)),
        sa.Column('status', sa.String(32)),
        sa.Column('status_reason', sa.Text),
        sa.Column('version', sa.String(255)),
        *_timestamps())
    op.create_index('ix_nodegroups_cluster', 'nodegroups', ['cluster_id'])

    op.create_table(
        'operations',
        sa.Column('id', sa.String(36), primary_key=True),
        sa.Column('cluster_id', sa.String(36), nullable=False),
        sa.Column('kind', sa.String(64), nullable=False),
        sa.Column('state', sa.String(32), nullable=False),
        sa.Column('params', sa.JSON),
        sa.Column('owner', sa.String(255)),
        sa.Column('epoch', sa.Integer, nullable=False),
        sa.Column('flow_id', sa.String(36)),
        sa.Column('deadline', sa.DateTime),
        sa.Column('claimed_at', sa.DateTime),
        sa.Column('finished_at', sa.DateTime),
        sa.Column('claims', sa.Integer, nullable=False),
        sa.Column('error', sa.Text),
        sa.Column('request_id', sa.String(255)),
        *_timestamps())
    op.create_index('ix_operations_state', 'operations', ['state'])
    op.create_index('ix_operations_cluster', 'operations', ['cluster_id'])

    op.create_table(
        'conductors',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('host', sa.String(255), nullable=False, unique=True),
        sa.Column('binary', sa.String(255), nullable=False),
        sa.Column('started_at', sa.DateTime),
        sa.Column('heartbeat_at', sa.DateTime),
        sa.Column('report_count', sa.Integer, nullable=False),
        sa.Column('disabled', sa.Boolean),
        sa.Column('disabled_reason', sa.String(255)),
        *_timestamps())
