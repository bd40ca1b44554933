"""``/v1/certificates``: a cluster's CA certificate, CSR signing, CA rotation.

Reading and signing are served by the API itself: the CAs are rows in the
database (keys encrypted, see caas.pki), signing takes a millisecond and
touches no cloud. A cluster's CAs are made by its create in the conductor:
until then each of the three answers 409 naming the cluster. CA rotation
(``PATCH``, microversion 1.5) writes the new CAs in the same transaction
as a ``cluster_ca_rotate`` operation (refused with 409 while another
operation holds the cluster, the CAs unchanged), then casts it: the
conductor hands the new certificates to the nodes through a stack update.
Private keys never leave this module's callees: responses carry
certificates only.
"""

import flask
from oslo_log import log as logging

from caas import pki
from caas.api import microversions
from caas.api import request
from caas.api import schemas
from caas.api import scope
from caas.api import views
from caas.api.controllers.v1 import clusters
from caas.api.schemas import certificate as schema
from caas.common import exceptions
from caas.db import api as db
from caas.db import certificates as ca_db
from caas.pki import authority
from caas.pki import csr as csr_checks

LOG = logging.getLogger(__name__)


def _cluster(ident, rule):
    # Another project's cluster is a 404, as for the cluster itself.
    return scope.find(db.get_cluster, ident, rule,
                      'cluster:get_one_all_projects')


def _types(cluster):
    """The cluster's CA types; 409 before its create made them (or when it
    failed before it did)."""
    types = ca_db.list_ca_types(cluster.uuid)
    if not types:
        raise ca_db.CAsNotMade(cluster=cluster.uuid, status=cluster.status)
    return types


def _ca_type(cluster, asked):
    types = _types(cluster)
    ca_type = asked or pki.DEFAULT_CA_TYPE
    if ca_type not in types:
        raise exceptions.InvalidParameterValue(
            err='Invalid value for ca_cert_type: %s. Cluster %s has the CA '
                'types: %s.' % (ca_type, cluster.uuid,
                                ', '.join(types) or 'none'))
    return ca_type


def _body(cluster, pem, ca_type=None, csr=None):
    body = {'cluster_uuid': cluster.uuid, 'pem': pem,
            'links': views.links(request.base_url(), 'certificates',
                                 cluster.uuid)}
    if csr is not None:
        body['csr'] = csr
    if ca_type is not None:
        body['ca_cert_type'] = ca_type
    return body


def get_one(ident):
    cluster = _cluster(ident, 'certificate:get')
    asked = flask.request.args.get('ca_cert_type') or None
    ca = ca_db.get_ca(cluster.uuid, _ca_type(cluster, asked))
    return request.respond(_body(cluster, ca.cert_pem, asked))


def create():
    conf = request.services().conf
    sign = schema.sign(conf.pki.max_csr_bytes)
    body = schemas.validate(sign, schemas.drop_nulls(sign,
                                                     request.json_body()))
    try:
        cluster = _cluster(body['cluster_uuid'], 'certificate:create')
    except exceptions.ClusterNotFound as exc:
        # Magnum's answer: the cluster is a field of the body, so a 400.
        raise exceptions.InvalidParameterValue(err=str(exc))
    ca_type = _ca_type(cluster, body.get('ca_cert_type'))
    csr = csr_checks.check(body['csr'])
    pem = authority.sign(ca_db.get_ca(cluster.uuid, ca_type), csr)
    LOG.info('Cluster %s: signed a client certificate for %s with its %s CA',
             cluster.uuid, csr.subject.rfc4514_string(), ca_type)
    return request.respond(_body(cluster, pem, body.get('ca_cert_type'),
                                 csr=body['csr']), 201)


def rotate(ident):
    if request.version() < microversions.CA_ROTATION:
        raise exceptions.NotAcceptable(
            message='CA rotation needs microversion %s or later (requested '
                    '%s).' % (microversions.CA_ROTATION, request.version()))
    cluster = _cluster(ident, 'certificate:rotate_ca')
    # The cluster's own template, wherever it lives (public ones too).
    template = db.get_cluster_template(cluster.cluster_template_id,
                                       scope=db.ALL_PROJECTS)
    if template.tls_disabled:
        raise exceptions.InvalidParameterValue(
            err='Rotating the CA certificate on a non-TLS cluster is not '
                'supported (cluster %s).' % cluster.uuid)
    # A cluster whose create has not made its CAs has none to rotate (409):
    # its create makes them, and a create that failed first has no nodes.
    types = _types(cluster)
    # The new CAs and the operation that hands them to the nodes are one
    # transaction: while another operation runs, neither is written (409).
    cluster, operation = ca_db.rotate(
        cluster.uuid, authority.new_cas(cluster.uuid, types),
        timeout_minutes=request.services().conf.conductor.update_timeout,
        request_id=request.request_id())
    LOG.info('Cluster %s: CAs rotated (%s); operation %s hands them to the '
             'nodes', cluster.uuid, ', '.join(types), operation.id)
    clusters.cast('cluster_ca_rotate', cluster, operation)
    return request.respond({'uuid': cluster.uuid}, 202)


def register(app):
    base = '/v1/certificates'
    opts = {'strict_slashes': False}
    app.add_url_rule(base, 'certificates_create', create, methods=['POST'],
                     **opts)
    app.add_url_rule(base + '/<ident>', 'certificates_get_one', get_one,
                     methods=['GET'], **opts)
    app.add_url_rule(base + '/<ident>', 'certificates_rotate', rotate,
                     methods=['PATCH'], **opts)
