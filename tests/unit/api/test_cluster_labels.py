"""Labels and the Kubernetes driver's own refusals at the API, with the
real Kubernetes drivers: typed labels (a 400 naming the label at template
and cluster create), Magnum's labels_overridden / labels_added /
labels_skipped in a cluster's full view, three masters without a load
balancer, Cinder volumes on bare metal."""

import pytest

from caas.common import exceptions
from caas.drivers.kubernetes import driver as k8s
from tests.unit.api.conftest import PROJECT_A
from tests.unit.api.conftest import template_body

DRIVERS = {'ubuntu': k8s.UbuntuKubernetesDriver,
           'fedora-coreos': k8s.FedoraCoreOSKubernetesDriver}


@pytest.fixture
def drivers():
    def find_driver(server_type, os_distro, coe, explicit=None):
        if coe != 'kubernetes' or os_distro not in DRIVERS:
            raise exceptions.DriverNotFound(server_type=server_type,
                                            os=os_distro, coe=coe)
        return DRIVERS[os_distro]()
    return find_driver


def _error(resp):
    return resp.json_body['errors'][0]['detail'] + \
        resp.json_body['errors'][0]['title']


def _template(api, **kw):
    resp = api.post('/v1/clustertemplates', template_body(**kw),
                    headers=PROJECT_A)
    assert resp.status_code == 201, resp.json_body
    return resp.json_body['uuid']


def _cluster(api, template_uuid, **kw):
    body = dict({'name': 'c1', 'cluster_template_id': template_uuid}, **kw)
    return api.post('/v1/clusters', body, headers=PROJECT_A)


def test_labels_diff_is_magnums(api):
    template = _template(api, labels={'kube_tag': 'v1.28.4',
                                      'calico_tag': 'v3.27.3',
                                      'extra': 'x'})
    resp = _cluster(api, template, labels={'kube_tag': 'v1.29.6',
                                           'mine': 'y'})
    assert resp.status_code == 202, resp.json_body
    body = api.get('/v1/clusters/%s' % resp.json_body['uuid'],
                   headers=PROJECT_A).json_body
    # Overridden: the template's value of a label the cluster changed.
    assert body['labels_overridden'] == {'kube_tag': 'v1.28.4'}
    assert body['labels_added'] == {'mine': 'y'}
    assert body['labels_skipped'] == {'calico_tag': 'v3.27.3', 'extra': 'x'}


def test_merged_labels_skip_nothing(api):
    template = _template(api, labels={'kube_tag': 'v1.28.4', 'extra': 'x'})
    resp = _cluster(api, template, labels={'kube_tag': 'v1.29.6'},
                    merge_labels=True)
    body = api.get('/v1/clusters/%s' % resp.json_body['uuid'],
                   headers=PROJECT_A).json_body
    assert body['labels'] == {'kube_tag': 'v1.29.6', 'extra': 'x'}
    assert (body['labels_overridden'], body['labels_added'],
            body['labels_skipped']) == ({'kube_tag': 'v1.28.4'}, {}, {})


def test_a_cluster_with_the_templates_labels_differs_in_nothing(api):
    template = _template(api, labels={'kube_tag': 'v1.28.4'})
    uuid = _cluster(api, template).json_body['uuid']
    listed = api.get('/v1/clusters/detail', headers=PROJECT_A).json_body
    (body,) = [c for c in listed['clusters'] if c['uuid'] == uuid]
    assert (body['labels_overridden'], body['labels_added'],
            body['labels_skipped']) == ({}, {}, {})
    summary = api.get('/v1/clusters', headers=PROJECT_A).json_body
    assert 'labels_overridden' not in summary['clusters'][0]


@pytest.mark.parametrize('label,value', [
    ('cinder_csi_enabled', 'maybe'), ('etcd_volume_size', 'big'),
    ('kube_tag', 'latest'), ('calico_ipv4pool', '10.0.0.0')])
def test_an_ill_typed_label_is_a_400_naming_it(api, label, value):
    resp = api.post('/v1/clustertemplates',
                    template_body(labels={label: value}), headers=PROJECT_A)
    assert resp.status_code == 400
    assert label in _error(resp)
    template = _template(api)
    resp = _cluster(api, template, labels={label: value})
    assert resp.status_code == 400
    assert label in _error(resp)


def test_several_masters_without_a_load_balancer_are_refused(api):
    template = _template(api)
    resp = _cluster(api, template, master_count=3)
    assert resp.status_code == 400
    assert 'master_count must be 1 when master_lb_enabled is False' in \
        _error(resp)
    assert _cluster(api, template, name='c2', master_count=3,
                    master_lb_enabled=True).status_code == 202


def test_bare_metal_refuses_volumes(api):
    resp = api.post('/v1/clustertemplates',
                    template_body(server_type='bm', docker_volume_size=10),
                    headers=PROJECT_A)
    assert resp.status_code == 400
    assert 'docker_volume_size' in _error(resp)
    template = _template(api, server_type='bm')
    resp = _cluster(api, template, docker_volume_size=10)
    assert resp.status_code == 400
    assert 'docker_volume_size' in _error(resp)
    resp = _cluster(api, template, labels={'etcd_volume_size': '5'})
    assert resp.status_code == 400
    assert 'etcd_volume_size' in _error(resp)
    assert _cluster(api, template).status_code == 202
    vm = _template(api, name='vm')
    assert _cluster(api, vm, name='c3',
                    docker_volume_size=10).status_code == 202
