"""The OpenAPI description: served, complete, and made of the very schemas
the API validates with."""

import flask
import schemathesis

from caas.api import app as api_app
from caas.api import openapi
from caas.api import patching
from caas.api.schemas import cluster as cluster_schema
from caas.api.schemas import clustertemplate as template_schema
from caas.conf import CONF


def _flask_app():
    return api_app.build_flask_app(api_app.Services(CONF))


def test_it_is_served_at_its_documented_path(api):
    resp = api.get(openapi.PATH)
    assert resp.status_code == 200
    assert resp.mimetype == 'application/json'
    assert resp.json_body['openapi'].startswith('3.1')
    assert resp.json_body['servers'][0]['url'].startswith('http://')


def test_every_route_and_method_is_described():
    app = _flask_app()
    doc = openapi.document(app)
    assert openapi.undescribed(app) == []
    seen = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint == 'static':
            continue
        path = openapi._openapi_path(rule.rule)
        for method in rule.methods - {'HEAD', 'OPTIONS'}:
            assert method.lower() in doc['paths'][path], (path, method)
            seen += 1
    assert seen == sum(len(item) for item in doc['paths'].values())
    assert seen >= 19


def test_a_route_without_a_description_is_reported():
    app = _flask_app()
    app.add_url_rule('/v1/federations', 'federations_get_all', lambda: '',
                     methods=['GET'])
    assert openapi.undescribed(app) == [('/v1/federations', 'GET')]


def _body(doc, path, method):
    return doc['paths'][path][method]['requestBody']['content'][
        'application/json']['schema']


def test_bodies_are_the_schemas_the_api_validates_with():
    doc = openapi.document(_flask_app())
    assert _body(doc, '/v1/clustertemplates', 'post') == \
        template_schema.CREATE
    assert _body(doc, '/v1/clusters', 'post') == cluster_schema.create(0)
    assert _body(doc, '/v1/clusters/{ident}/actions/resize', 'post') == \
        cluster_schema.resize(0)
    assert _body(doc, '/v1/clustertemplates/{ident}', 'patch') == \
        patching.schema(template_schema.PROPERTIES)
    assert _body(doc, '/v1/clusters/{ident}', 'patch') == \
        patching.schema(cluster_schema.UPDATABLE)


def test_a_schema_change_shows_in_the_description(monkeypatch):
    monkeypatch.setitem(template_schema.PROPERTIES, 'brand_new',
                        {'type': 'string'})
    doc = openapi.document(_flask_app())
    assert 'brand_new' in _body(doc, '/v1/clustertemplates',
                                'post')['properties']


def test_sort_keys_are_the_ones_lists_accept():
    from caas.api.controllers.v1 import clusters
    doc = openapi.document(_flask_app())
    params = {p['name']: p for p in doc['paths']['/v1/clusters']['get'][
        'parameters']}
    assert params['sort_key']['schema']['enum'] == list(clusters.SORT_KEYS)
    assert {'limit', 'marker', 'sort_dir',
            'OpenStack-API-Version'} <= set(params)


def test_schemathesis_loads_every_operation():
    schema = schemathesis.openapi.from_dict(openapi.document(_flask_app()))
    results = list(schema.get_all_operations())
    assert all(r.ok() for r in results)
    assert len(results) == sum(
        len(item) for item in openapi.document(_flask_app())['paths'].values())


def test_the_description_needs_no_request_context():
    # Built from the app object alone (the fuzz tests load it this way).
    assert not flask.has_request_context()
    assert openapi.document(_flask_app())['paths']


def test_the_microversion_header_pattern_is_what_negotiation_accepts():
    import re

    from caas.api import microversions
    pattern = re.compile(openapi._version_pattern())
    for minor in range(0, 30):
        value = 'container-infra 1.%d' % minor
        headers = {'OpenStack-API-Version': value}
        try:
            microversions.negotiate(headers)
            accepted = True
        except Exception:
            accepted = False
        assert bool(pattern.fullmatch(value)) is accepted, value
    assert pattern.fullmatch('container-infra latest')
