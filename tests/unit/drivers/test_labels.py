import pytest

from caas.common import exceptions
from caas.drivers.fake import driver as fake
from caas.drivers.kubernetes import driver as k8s


@pytest.fixture
def driver():
    return k8s.UbuntuKubernetesDriver()


def test_magnum_string_labels_are_coerced(driver):
    labels = driver.validate_labels({
        'kube_tag': 'v1.27.3', 'master_lb_floating_ip_enabled': 'True',
        'kube_dashboard_enabled': 'false'})
    assert labels == {'kube_tag': 'v1.27.3',
                      'master_lb_floating_ip_enabled': True,
                      'kube_dashboard_enabled': False}


def test_bad_kube_tag_names_the_label(driver):
    with pytest.raises(exceptions.InvalidParameterValue) as exc:
        driver.validate_labels({'kube_tag': 'latest'})
    assert 'kube_tag' in str(exc.value)
    assert 'latest' in str(exc.value)
    assert exc.value.code == 400


def test_unknown_label_is_rejected_by_name_when_strict(driver, conf):
    with pytest.raises(exceptions.InvalidParameterValue) as exc:
        driver.validate_labels({'kube_tga': 'v1.27.3'}, strict=True)
    assert 'kube_tga' in str(exc.value)
    conf('strict_labels', True, group='drivers')
    with pytest.raises(exceptions.InvalidParameterValue) as exc:
        driver.validate_labels({'kube_tga': 'v1.27.3'})
    assert 'kube_tga' in str(exc.value)


def test_unknown_label_is_kept_as_is_by_default(driver):
    # Magnum stores labels no driver knows; known ones stay typed.
    assert driver.validate_labels({'kube_tga': 'v1.27.3',
                                   'master_lb_floating_ip_enabled': 'true'}) \
        == {'kube_tga': 'v1.27.3', 'master_lb_floating_ip_enabled': True}


def test_unknown_labels_never_reach_the_stack(driver):
    labels = driver.effective_labels(
        {'labels': {'kube_tga': 'v1.27.3', 'kube_tag': 'v1.28.0'}}, {})
    assert 'kube_tga' not in labels
    assert labels['kube_tag'] == 'v1.28.0'


def test_a_known_label_with_a_bad_value_is_refused_even_if_lenient(driver):
    with pytest.raises(exceptions.InvalidParameterValue) as exc:
        driver.validate_labels({'kube_tga': 'x', 'kube_tag': 'latest'})
    assert 'kube_tag' in str(exc.value) and 'kube_tga' not in str(exc.value)


def test_non_boolean_value_names_the_label(driver):
    with pytest.raises(exceptions.InvalidParameterValue) as exc:
        driver.validate_labels({'master_lb_floating_ip_enabled': 'maybe'})
    assert 'master_lb_floating_ip_enabled' in str(exc.value)


def test_unsupported_feature_accepts_false_refuses_true(driver):
    driver.validate_labels({'monitoring_enabled': 'false'})
    with pytest.raises(exceptions.InvalidParameterValue) as exc:
        driver.validate_labels({'monitoring_enabled': 'true'})
    assert 'monitoring_enabled' in str(exc.value)


@pytest.mark.parametrize('label', ['auto_healing_enabled',
                                   'cloud_provider_enabled',
                                   'cinder_csi_enabled'])
def test_supported_switches_are_booleans_defaulting_to_false(driver, label):
    assert driver.validate_labels({label: 'true'}) == {label: True}
    assert driver.effective_labels({'labels': {}}, {})[label] is False
    with pytest.raises(exceptions.InvalidParameterValue) as exc:
        driver.validate_labels({label: 'sometimes'})
    assert label in str(exc.value)


def test_integer_labels_refuse_words_and_negatives(driver):
    assert driver.validate_labels({'etcd_volume_size': '5'}) == {
        'etcd_volume_size': 5}
    for bad in ('five', '-1'):
        with pytest.raises(exceptions.InvalidParameterValue) as exc:
            driver.validate_labels({'etcd_volume_size': bad})
        assert 'etcd_volume_size' in str(exc.value)


def test_bad_cidr_names_the_label(driver):
    with pytest.raises(exceptions.InvalidParameterValue) as exc:
        driver.validate_labels({'service_cluster_ip_range': '10.0.0.0'})
    assert 'service_cluster_ip_range' in str(exc.value)


def test_every_error_is_reported_at_once(driver):
    with pytest.raises(exceptions.InvalidParameterValue) as exc:
        driver.validate_labels({'kube_tag': 'x', 'container_runtime': 'rkt'})
    assert 'kube_tag' in str(exc.value)
    assert 'container_runtime' in str(exc.value)


def test_every_label_has_a_type_and_description(driver):
    for name, schema in driver.labels_schema['properties'].items():
        assert 'type' in schema, name
        assert schema.get('description'), name
    assert driver.labels_schema['additionalProperties'] is False


def test_coe_version_comes_from_kube_tag(driver):
    assert driver.coe_version({'kube_tag': '1.28.2'}) == 'v1.28.2'
    assert driver.coe_version({}) == k8s.DEFAULT_KUBE_TAG


def test_cluster_labels_override_template_labels(driver):
    labels = driver.effective_labels({'labels': {'kube_tag': 'v1.28.0'}},
                                     {'labels': {'kube_tag': 'v1.27.0'}})
    assert labels['kube_tag'] == 'v1.28.0'
    assert labels['service_cluster_ip_range'] == '10.254.0.0/16'


def test_cluster_labels_replace_template_labels_as_in_magnum(driver):
    # The API copied (or merged, merge_labels) the template's labels into
    # the cluster when it was created without its own.
    labels = driver.effective_labels(
        {'labels': {'kube_tag': 'v1.28.0'}},
        {'labels': {'service_cluster_ip_range': '10.100.0.0/16'}})
    assert labels['service_cluster_ip_range'] == '10.254.0.0/16'
    labels = driver.effective_labels(
        {'labels': {}},
        {'labels': {'service_cluster_ip_range': '10.100.0.0/16'}})
    assert labels['service_cluster_ip_range'] == '10.100.0.0/16'


def test_fake_driver_takes_any_string_label():
    assert fake.FakeDriver().validate_labels({'anything': 'x'}) == {
        'anything': 'x'}
