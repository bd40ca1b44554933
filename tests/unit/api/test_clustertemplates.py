"""/v1/clustertemplates: create, list, show, JSON-Patch, delete."""

from tests.unit.api.conftest import ADMIN
from tests.unit.api.conftest import PROJECT_A
from tests.unit.api.conftest import PROJECT_B
from tests.unit.api.conftest import template_body


def _title(resp):
    return resp.json_body['errors'][0]['title']


def test_create_returns_201_with_magnum_defaults(api, template):
    assert template['coe'] == 'kubernetes'
    assert template['server_type'] == 'vm'
    assert template['network_driver'] == 'flannel'
    assert template['tls_disabled'] is False
    assert template['public'] is False
    assert template['floating_ip_enabled'] is True
    assert template['master_lb_enabled'] is False
    assert template['registry_enabled'] is False
    assert template['project_id'] == 'project-a'
    assert template['links'][0]['href'].endswith(template['uuid'])
    assert 'id' not in template


def test_create_stores_image_os_distro_as_cluster_distro(template):
    assert template['cluster_distro'] == 'fedora-coreos'


def test_swarm_network_driver_defaults_to_docker(api, drivers):
    resp = api.post('/v1/clustertemplates', template_body(coe='swarm'),
                    headers=PROJECT_A)
    # No driver serves swarm here: the driver check answers 400.
    assert resp.status_code == 400
    assert 'swarm' in _title(resp)


def test_create_checks_the_driver(api, drivers, template):
    assert drivers.calls[-1] == ('vm', 'fedora-coreos', 'kubernetes', None)


def test_unknown_coe_is_400_naming_the_field(api):
    resp = api.post('/v1/clustertemplates', template_body(coe='nomad'),
                    headers=PROJECT_A)
    assert resp.status_code == 400
    assert 'coe' in _title(resp) and 'nomad' in _title(resp)


def test_missing_image_is_400_naming_the_field(api):
    body = template_body()
    del body['image_id']
    resp = api.post('/v1/clustertemplates', body, headers=PROJECT_A)
    assert resp.status_code == 400
    assert 'image_id' in _title(resp)


def test_unknown_image_is_400_naming_field_and_value(api):
    resp = api.post('/v1/clustertemplates', template_body(image_id='nope'),
                    headers=PROJECT_A)
    assert resp.status_code == 400
    assert 'image_id' in _title(resp) and 'nope' in _title(resp)


def test_unknown_flavor_and_network_are_400(api):
    for field in ('flavor_id', 'master_flavor_id', 'external_network_id'):
        resp = api.post('/v1/clustertemplates',
                        template_body(**{field: 'ghost'}), headers=PROJECT_A)
        assert resp.status_code == 400, field
        assert field in _title(resp) and 'ghost' in _title(resp)


def test_references_not_checked_when_disabled(api, conf):
    conf('validate_references', False, group='cloud')
    resp = api.post('/v1/clustertemplates', template_body(image_id='nope'),
                    headers=PROJECT_A)
    assert resp.status_code == 201


def test_cloud_failure_is_503(api, cloud):
    cloud.fail = True
    resp = api.post('/v1/clustertemplates', template_body(),
                    headers=PROJECT_A)
    assert resp.status_code == 503
    assert 'image_id' in _title(resp)


def test_unknown_field_is_400_naming_it(api):
    resp = api.post('/v1/clustertemplates', template_body(colour='blue'),
                    headers=PROJECT_A)
    assert resp.status_code == 400
    assert 'colour' in _title(resp)


def test_public_needs_admin(api):
    resp = api.post('/v1/clustertemplates', template_body(public=True),
                    headers=PROJECT_A)
    assert resp.status_code == 403
    resp = api.post('/v1/clustertemplates', template_body(public=True),
                    headers=ADMIN)
    assert resp.status_code == 201


def test_list_and_detail_both_return_whole_templates(api, template):
    # Magnum lists whole templates: clients find one by image and coe.
    shown = api.get('/v1/clustertemplates/%s' % template['uuid'],
                    headers=PROJECT_A).json_body
    for path in ('/v1/clustertemplates', '/v1/clustertemplates/detail'):
        items = api.get(path, headers=PROJECT_A).json_body['clustertemplates']
        assert items == [shown], path
        assert items[0]['image_id'] == 'fedora-coreos'
        assert items[0]['coe'] == 'kubernetes'


def test_show_by_uuid_or_name(api, template):
    for ident in (template['uuid'], 'k8s'):
        resp = api.get('/v1/clustertemplates/%s' % ident, headers=PROJECT_A)
        assert resp.status_code == 200
        assert resp.json_body['uuid'] == template['uuid']


def test_ambiguous_name_is_409(api, template):
    api.post('/v1/clustertemplates', template_body(), headers=PROJECT_A)
    resp = api.get('/v1/clustertemplates/k8s', headers=PROJECT_A)
    assert resp.status_code == 409


def test_other_project_sees_404_but_public_is_visible(api, template):
    assert api.get('/v1/clustertemplates/%s' % template['uuid'],
                   headers=PROJECT_B).status_code == 404
    public = api.post('/v1/clustertemplates',
                      template_body(name='shared', public=True),
                      headers=ADMIN).json_body
    resp = api.get('/v1/clustertemplates/%s' % public['uuid'],
                   headers=PROJECT_B)
    assert resp.status_code == 200
    names = [t['name'] for t in api.get(
        '/v1/clustertemplates', headers=PROJECT_B).json_body[
            'clustertemplates']]
    assert names == ['shared']


def test_patch_replace_add_remove(api, template):
    path = '/v1/clustertemplates/%s' % template['uuid']
    resp = api.patch(path, [
        {'op': 'replace', 'path': '/name', 'value': 'renamed'},
        {'op': 'add', 'path': '/labels/kube_tag', 'value': 'v1.30'},
        {'op': 'replace', 'path': '/tls_disabled', 'value': 'True'},
        {'op': 'remove', 'path': '/flavor_id'}], headers=PROJECT_A)
    assert resp.status_code == 200, resp.json_body
    body = resp.json_body
    assert body['name'] == 'renamed'
    assert body['labels'] == {'kube_tag': 'v1.30'}
    assert body['tls_disabled'] is True
    assert body['flavor_id'] is None


def test_patch_labels_as_magnumclient_sends_them(api, template):
    resp = api.patch('/v1/clustertemplates/%s' % template['uuid'], [
        {'op': 'add', 'path': '/labels', 'value': "{'a': 'b'}"}],
        headers=PROJECT_A)
    assert resp.status_code == 200, resp.json_body
    assert resp.json_body['labels'] == {'a': 'b'}


def test_patch_bad_path_is_400_naming_it(api, template):
    path = '/v1/clustertemplates/%s' % template['uuid']
    for bad in ('/uuid', '/project_id', '/bogus'):
        resp = api.patch(path, [{'op': 'replace', 'path': bad, 'value': 'x'}],
                         headers=PROJECT_A)
        assert resp.status_code == 400, bad
        assert bad in _title(resp)


def test_patch_bad_op_is_400(api, template):
    resp = api.patch('/v1/clustertemplates/%s' % template['uuid'],
                     [{'op': 'move', 'from': '/name', 'path': '/tags'}],
                     headers=PROJECT_A)
    assert resp.status_code == 400


def test_patch_bad_value_is_400_naming_field(api, template):
    resp = api.patch('/v1/clustertemplates/%s' % template['uuid'],
                     [{'op': 'replace', 'path': '/coe', 'value': 'nomad'}],
                     headers=PROJECT_A)
    assert resp.status_code == 400
    assert 'coe' in _title(resp)


def test_patch_image_rechecks_cloud_and_distro(api, template):
    path = '/v1/clustertemplates/%s' % template['uuid']
    resp = api.patch(path, [{'op': 'replace', 'path': '/image_id',
                             'value': 'ghost'}], headers=PROJECT_A)
    assert resp.status_code == 400
    resp = api.patch(path, [{'op': 'replace', 'path': '/image_id',
                             'value': 'ubuntu'}], headers=PROJECT_A)
    assert resp.status_code == 200
    assert resp.json_body['cluster_distro'] == 'ubuntu'


def test_patch_in_use_only_cosmetic_fields(api, template, make_cluster):
    make_cluster()
    path = '/v1/clustertemplates/%s' % template['uuid']
    resp = api.patch(path, [{'op': 'replace', 'path': '/flavor_id',
                             'value': 'm1.large'}], headers=PROJECT_A)
    assert resp.status_code == 409
    resp = api.patch(path, [{'op': 'replace', 'path': '/name',
                             'value': 'still-fine'}], headers=PROJECT_A)
    assert resp.status_code == 200


def test_delete_is_204_and_409_while_used(api, template, make_cluster):
    path = '/v1/clustertemplates/%s' % template['uuid']
    make_cluster()
    assert api.delete(path, headers=PROJECT_A).status_code == 409
    other = api.post('/v1/clustertemplates', template_body(name='spare'),
                     headers=PROJECT_A).json_body
    resp = api.delete('/v1/clustertemplates/%s' % other['uuid'],
                      headers=PROJECT_A)
    assert resp.status_code == 204
    assert api.get('/v1/clustertemplates/%s' % other['uuid'],
                   headers=PROJECT_A).status_code == 404


def test_other_project_cannot_delete(api, template):
    resp = api.delete('/v1/clustertemplates/%s' % template['uuid'],
                      headers=PROJECT_B)
    assert resp.status_code == 404


def test_hidden_templates_are_listed_for_admins_only(api):
    # Hiding a template is publishing's twin: admin only (Magnum's rule).
    resp = api.post('/v1/clustertemplates',
                    template_body(name='old', hidden=True), headers=PROJECT_A)
    assert resp.status_code == 403
    resp = api.post('/v1/clustertemplates',
                    template_body(name='old', hidden=True, public=True),
                    headers=ADMIN)
    assert resp.status_code == 201, resp.json_body
    uuid = resp.json_body['uuid']
    listed = api.get('/v1/clustertemplates',
                     headers=PROJECT_A).json_body['clustertemplates']
    assert uuid not in [t['uuid'] for t in listed]
    # Still usable by name or UUID, as in Magnum.
    assert api.get('/v1/clustertemplates/old',
                   headers=PROJECT_A).status_code == 200
    listed = api.get('/v1/clustertemplates',
                     headers=ADMIN).json_body['clustertemplates']
    assert uuid in [t['uuid'] for t in listed]


def test_a_flavor_named_twice_is_looked_up_once(api, cloud):
    resp = api.post('/v1/clustertemplates',
                    template_body(flavor_id='m1.small',
                                  master_flavor_id='m1.small'),
                    headers=PROJECT_A)
    assert resp.status_code == 201
    assert cloud.lookups.count('m1.small') == 1
