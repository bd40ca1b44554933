"""SQLAlchemy models. Column names are Magnum's public field names."""

import datetime

from sqlalchemy import JSON
from sqlalchemy import BigInteger
from sqlalchemy import Boolean
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import Integer
from sqlalchemy import String
from sqlalchemy import Text
from sqlalchemy import UniqueConstraint
from sqlalchemy import select
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import column_property
from sqlalchemy.orm import mapped_column


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):

    def as_dict(self):
        return {c.key: getattr(self, c.key) for c in self.__mapper__.column_attrs}


class TimestampMixin:
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime.datetime | None] = mapped_column(
        DateTime, onupdate=utcnow)


class ClusterTemplate(TimestampMixin, Base):
    __tablename__ = 'cluster_templates'
    __table_args__ = (Index('ix_cluster_templates_project', 'project_id'),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, nullable=False)
    name: Mapped[str | None] = mapped_column(String(255))
    project_id: Mapped[str | None] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(String(255))
    coe: Mapped[str] = mapped_column(String(64), nullable=False)
    image_id: Mapped[str] = mapped_column(String(255), nullable=False)
    flavor_id: Mapped[str | None] = mapped_column(String(255))
    master_flavor_id: Mapped[str | None] = mapped_column(String(255))
    keypair_id: Mapped[str | None] = mapped_column(String(255))
    external_network_id: Mapped[str | None] = mapped_column(String(255))
    fixed_network: Mapped[str | None] = mapped_column(String(255))
    fixed_subnet: Mapped[str | None] = mapped_column(String(255))
    network_driver: Mapped[str | None] = mapped_column(String(255))
    volume_driver: Mapped[str | None] = mapped_column(String(255))
    dns_nameserver: Mapped[str | None] = mapped_column(String(255))
    apiserver_port: Mapped[int | None] = mapped_column(Integer)
    docker_volume_size: Mapped[int | None] = mapped_column(Integer)
    docker_storage_driver: Mapped[str | None] = mapped_column(String(255))
    cluster_distro: Mapped[str | None] = mapped_column(String(255))
    http_proxy: Mapped[str | None] = mapped_column(String(255))
    https_proxy: Mapped[str | None] = mapped_column(String(255))
    no_proxy: Mapped[str | None] = mapped_column(String(255))
    registry_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    labels: Mapped[dict] = mapped_column(JSON, default=dict)
    tls_disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    server_type: Mapped[str] = mapped_column(String(255), default='vm')
    insecure_registry: Mapped[str | None] = mapped_column(String(255))
    master_lb_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    floating_ip_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[str | None] = mapped_column(String(255))
    driver: Mapped[str | None] = mapped_column(String(255))


class Cluster(TimestampMixin, Base):
    __tablename__ = 'clusters'
    __table_args__ = (Index('ix_clusters_project', 'project_id'),
                      Index('ix_clusters_template', 'cluster_template_id'))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, nullable=False)
    name: Mapped[str | None] = mapped_column(String(255))
    project_id: Mapped[str | None] = mapped_column(String(255))
    user_id: Mapped[str | None] = mapped_column(String(255))
    cluster_template_id: Mapped[str] = mapped_column(String(36), nullable=False)
    keypair: Mapped[str | None] = mapped_column(String(255))
    docker_volume_size: Mapped[int | None] = mapped_column(Integer)
    labels: Mapped[dict] = mapped_column(JSON, default=dict)
    # The template's labels, read in the cluster's own SELECT (a correlated
    # subquery), for Magnum's labels_overridden/added/skipped: a show or a
    # detailed list costs no extra statement. Not a column of the table.
    template_labels: Mapped[dict | None] = column_property(
        select(ClusterTemplate.labels)
        .where(ClusterTemplate.uuid == cluster_template_id)
        .correlate_except(ClusterTemplate).scalar_subquery())
    master_flavor_id: Mapped[str | None] = mapped_column(String(255))
    flavor_id: Mapped[str | None] = mapped_column(String(255))
    node_count: Mapped[int] = mapped_column(Integer, nullable=False)
    master_count: Mapped[int] = mapped_column(Integer, nullable=False)
    create_timeout: Mapped[int | None] = mapped_column(Integer)
    discovery_url: Mapped[str | None] = mapped_column(String(255))
    stack_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32), nullable=False)
    status_reason: Mapped[str | None] = mapped_column(Text)
    health_status: Mapped[str | None] = mapped_column(String(32))
    health_status_reason: Mapped[dict] = mapped_column(JSON, default=dict)
    coe_version: Mapped[str | None] = mapped_column(String(255))
    container_version: Mapped[str | None] = mapped_column(String(255))
    api_address: Mapped[str | None] = mapped_column(String(255))
    master_addresses: Mapped[list] = mapped_column(JSON, default=list)
    node_addresses: Mapped[list] = mapped_column(JSON, default=list)
    fixed_network: Mapped[str | None] = mapped_column(String(255))
    fixed_subnet: Mapped[str | None] = mapped_column(String(255))
    floating_ip_enabled: Mapped[bool | None] = mapped_column(Boolean)
    master_lb_enabled: Mapped[bool | None] = mapped_column(Boolean)
    ca_cert: Mapped[str | None] = mapped_column(Text)
    # The operation in progress, if any. The API's compare-and-set on this
    # column is what allows one operation per cluster at a time.
    operation_id: Mapped[str | None] = mapped_column(String(36))
    health_checked_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)


class NodeGroup(TimestampMixin, Base):
    __tablename__ = 'nodegroups'
    __table_args__ = (Index('ix_nodegroups_cluster', 'cluster_id'),
                      # A name is the nodegroup's handle in its cluster.
                      UniqueConstraint('cluster_id', 'name',
                                       name='uq_nodegroups_cluster_name'))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(255), nullable=False)
    cluster_id: Mapped[str] = mapped_column(
        String(36), ForeignKey('clusters.uuid', ondelete='CASCADE'),
        nullable=False)
    project_id: Mapped[str | None] = mapped_column(String(255))
    docker_volume_size: Mapped[int | None] = mapped_column(Integer)
    labels: Mapped[dict] = mapped_column(JSON, default=dict)
    flavor_id: Mapped[str | None] = mapped_column(String(255))
    image_id: Mapped[str | None] = mapped_column(String(255))
    node_addresses: Mapped[list] = mapped_column(JSON, default=list)
    node_count: Mapped[int] = mapped_column(Integer, nullable=False)
    role: Mapped[str] = mapped_column(String(255), nullable=False)
    max_node_count: Mapped[int | None] = mapped_column(Integer)
    min_node_count: Mapped[int] = mapped_column(Integer, default=0)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    stack_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str | None] = mapped_column(String(32))
    status_reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[str | None] = mapped_column(String(255))
    # Microversion 1.14: Kubernetes labels ({key: value}) and taints
    # ([{key, value, effect}]) the driver gives the group's nodes.
    node_labels: Mapped[dict | None] = mapped_column(JSON, default=dict)
    node_taints: Mapped[list | None] = mapped_column(JSON, default=list)


class ClusterCA(TimestampMixin, Base):
    """One of a cluster's certificate authorities (see caas.pki)."""
    __tablename__ = 'cluster_cas'
    __table_args__ = (UniqueConstraint('cluster_uuid', 'ca_type',
                                       name='uq_cluster_cas_cluster_type'),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cluster_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey('clusters.uuid', ondelete='CASCADE'),
        nullable=False)
    ca_type: Mapped[str] = mapped_column(String(32), nullable=False)
    cert_pem: Mapped[str] = mapped_column(Text, nullable=False)
    # A Fernet token ([pki] encryption_keys), never the plaintext key.
    encrypted_key: Mapped[str] = mapped_column(Text, nullable=False)
    rotated_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)


class ClusterTrustee(TimestampMixin, Base):
    """A Keystone user and trust a cluster's nodes authenticate with.

    ``current`` is what the nodes use; a rotation adds a ``pending`` row
    (named after its operation, so a re-run finds it) and retires the
    others only once the stack carries the new one.
    """
    __tablename__ = 'cluster_trustees'
    __table_args__ = (UniqueConstraint('cluster_uuid', 'operation_id',
                                       name='uq_cluster_trustees_operation'),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cluster_uuid: Mapped[str] = mapped_column(
        String(36), ForeignKey('clusters.uuid', ondelete='CASCADE'),
        nullable=False)
    operation_id: Mapped[str] = mapped_column(String(36), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    username: Mapped[str] = mapped_column(String(255), nullable=False)
    domain_id: Mapped[str] = mapped_column(String(255), nullable=False)
    user_id: Mapped[str | None] = mapped_column(String(255))
    trust_id: Mapped[str | None] = mapped_column(String(255))
    trustor_user_id: Mapped[str | None] = mapped_column(String(255))
    # A Fernet token ([pki] encryption_keys), never the plaintext password.
    encrypted_password: Mapped[str] = mapped_column(Text, nullable=False)


class Operation(TimestampMixin, Base):
    """One requested operation on a cluster and who is carrying it out."""
    __tablename__ = 'operations'
    __table_args__ = (Index('ix_operations_state', 'state'),
                      Index('ix_operations_cluster', 'cluster_id'))

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    cluster_id: Mapped[str] = mapped_column(String(36), nullable=False)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    state: Mapped[str] = mapped_column(String(32), nullable=False)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    owner: Mapped[str | None] = mapped_column(String(255))
    # Incremented by every claim: the fencing token of the current owner.
    epoch: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    flow_id: Mapped[str | None] = mapped_column(String(36))
    deadline: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    claimed_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime.datetime | None] = mapped_column(DateTime)
    claims: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(255))


class Event(Base):
    """One step of an operation started, progressed, ended or was resumed.

    Kept compact (no foreign key to the cluster, which a delete removes;
    the project is copied so a listing names its scope without a join);
    removed with its operation.
    """
    __tablename__ = 'events'
    __table_args__ = (Index('ix_events_cluster', 'cluster_id', 'id'),
                      Index('ix_events_project', 'project_id', 'id'),
                      Index('ix_events_operation', 'operation_id'))

    id: Mapped[int] = mapped_column(Integer, primary_key=True,
                                    autoincrement=True)
    operation_id: Mapped[str] = mapped_column(
        String(36), ForeignKey('operations.id', ondelete='CASCADE'),
        nullable=False)
    cluster_id: Mapped[str] = mapped_column(String(36), nullable=False)
    project_id: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    step: Mapped[str | None] = mapped_column(String(64))
    step_index: Mapped[int] = mapped_column(Integer, default=0,
                                            nullable=False)
    step_count: Mapped[int] = mapped_column(Integer, default=0,
                                            nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    message: Mapped[str | None] = mapped_column(String(255))
    # Small structured extras: {"done": 3, "total": 5} while servers come
    # up, {"from": host, "after": seconds} on a takeover.
    data: Mapped[dict | None] = mapped_column(JSON)
    conductor: Mapped[str] = mapped_column(String(255), nullable=False)
    epoch: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime.datetime] = mapped_column(
        DateTime, default=utcnow, nullable=False)


class Conductor(TimestampMixin, Base):
    __tablename__ = 'conductors'

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    host: Mapped[str] = mapped_column(String(255), unique=True, nullable=False)
    binary: Mapped[str] = mapped_column(String(255), nullable=False)
    started_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    heartbeat_at: Mapped[datetime.datetime] = mapped_column(DateTime, default=utcnow)
    report_count: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_reason: Mapped[str | None] = mapped_column(String(255))


class Quota(TimestampMixin, Base):
    """A project's limit on a resource (Magnum's quotas: ``Cluster``)."""
    __tablename__ = 'quotas'
    __table_args__ = (UniqueConstraint('project_id', 'resource',
                                       name='uq_quotas_project_resource'),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[str] = mapped_column(String(255), nullable=False)
    resource: Mapped[str] = mapped_column(String(255), nullable=False)
    hard_limit: Mapped[int] = mapped_column(Integer, nullable=False)


class QuotaLock(Base):
    """One row per (project, resource) that every create of that resource
    updates first: the row lock makes concurrent creates of one project
    count one after the other (see caas.db.quotas). On PostgreSQL the row
    also holds the project's count (``in_use``)."""
    __tablename__ = 'quota_locks'

    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    resource: Mapped[str] = mapped_column(String(255), primary_key=True)
    locked_at: Mapped[datetime.datetime] = mapped_column(
        DateTime, default=utcnow, nullable=False)
    #: The project's count of that resource, kept by triggers on PostgreSQL
    #: (migration 0004d: clusters); 0 on other databases.
    in_use: Mapped[int] = mapped_column(BigInteger, nullable=False,
                                        server_default='0')


class ClusterChange(Base):
    """A project's count of committed cluster writes, kept by triggers on
    ``clusters`` (PostgreSQL, migration 0004a): a cached cluster list made
    at counter N is current while the counter is still N."""
    __tablename__ = 'cluster_changes'

    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    counter: Mapped[int] = mapped_column(BigInteger, nullable=False)


class ClusterTemplateChange(Base):
    """One row: the count of committed writes of ``cluster_templates``,
    kept by triggers (SQLite and PostgreSQL, migration 0004b), so that a
    remembered template list or show made at counter N is current while
    the counter is still N (``caas.db.template_pages``)."""
    __tablename__ = 'cluster_template_changes'

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    counter: Mapped[int] = mapped_column(BigInteger, nullable=False)
