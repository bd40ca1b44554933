"""The COE driver contract.

A driver turns a cluster, its template and its nodegroups (plain dicts with
Magnum's field names) into what the conductor's flow tasks hand to Heat: a
stack name, a stack definition, update parameters, and back from a stack's
outputs into cluster fields.  Drivers are pure: no database, no RPC, no
network.  That keeps every flow task idempotent and lets a driver be tested
without a cloud.
"""

import abc
import copy

from caas.common import coercion
from caas.common import exceptions
from caas.common import validator as caas_validator

def _describe(error):
    """One readable sentence for a jsonschema error on a labels dict."""
    if error.validator == 'additionalProperties':
        extra = sorted(set(error.instance) -
                       set(error.schema.get('properties', {})))
        return ('label %s is not supported by this driver'
                % ', '.join(extra))
    path = list(error.absolute_path)
    name = path[0] if path else '?'
    if error.validator == 'enum':
        return 'label %s: %r is not one of %s' % (
            name, error.instance, ', '.join(map(str, error.validator_value)))
    if error.validator == 'pattern':
        return 'label %s: %r does not match %s' % (
            name, error.instance, error.validator_value)
    if error.validator == 'type':
        return 'label %s: %r is not a valid %s' % (
            name, error.instance, error.validator_value)
    if error.validator in ('minimum', 'maximum'):
        return 'label %s: %r is out of range (%s %s)' % (
            name, error.instance, error.validator, error.validator_value)
    return 'label %s: %s' % (name, error.message)


class Driver(abc.ABC):
    """Base of every COE driver; subclasses are loaded by stevedore."""

    #: Entry point name in the ``caas.drivers`` group.
    name = None
    #: Combinations served: dicts with ``server_type``, ``os`` and ``coe``.
    provides = []
    #: JSON Schema of the labels this driver understands (typed values).
    labels_schema = {'type': 'object', 'additionalProperties': False}

    # labels ---------------------------------------------------------------
    def validate_labels(self, labels):
        """Typed labels, or InvalidParameterValue naming the bad label."""
        labels = dict(labels or {})
        props = self.labels_schema.get('properties', {})
        extra = self.labels_schema.get('additionalProperties', False)
        coerced = {}
        for key, value in labels.items():
            schema = props.get(key, extra if isinstance(extra, dict) else {})
            coerced[key] = coercion.from_string(value, schema)
        validator = caas_validator.Validator(self.labels_schema)
        errors = sorted(validator.iter_errors(coerced),
                        key=lambda e: list(e.absolute_path))
        if errors:
            raise exceptions.InvalidParameterValue(
                err='; '.join(_describe(e) for e in errors))
        return coerced

    def effective_labels(self, cluster, template):
        """Template labels overridden by cluster labels, typed, defaulted."""
        merged = dict(template.get('labels') or {})
        merged.update(cluster.get('labels') or {})
        labels = self.validate_labels(merged)
        for key, schema in self.labels_schema.get('properties', {}).items():
            if key not in labels and 'default' in schema:
                labels[key] = copy.deepcopy(schema['default'])
        return labels

    def coe_version(self, labels):
        """The COE version these labels select, or None."""
        return None

    # stack ----------------------------------------------------------------
    def stack_name(self, cluster):
        """Derived from the cluster UUID only, so a re-run finds the stack."""
        return 'caas-%s' % cluster['uuid']

    @abc.abstractmethod
    def stack_definition(self, cluster, template, nodegroups):
        """``{'template': dict, 'files': {name: text}, 'parameters': {}}``."""

    @abc.abstractmethod
    def update_parameters(self, cluster, template, nodegroups, remove=()):
        """Parameters for a PATCH (existing=True) update of node counts.

        :param remove: worker group members (names from ``worker_members``)
            to remove first, for a resize with ``nodes_to_remove``.
        """

    def worker_members(self, outputs):
        """``{server_id: group member name}`` of the workers, from the stack
        outputs; empty when the driver cannot remove chosen nodes."""
        members = outputs.get('kube_minion_servers') or {}
        return {server: name for name, server in members.items() if server}

    # cloud credential -----------------------------------------------------
    #: Stack parameters that carry the cluster's cloud credential; a
    #: driver's template declares those its nodes use (the password
    #: ``hidden``). The flows pass only what the template declares.
    CREDENTIAL_PARAMETERS = ('auth_url', 'region_name', 'trustee_domain_id',
                             'trustee_username', 'trustee_user_id',
                             'trustee_password', 'trust_id')

    def credential_parameters(self, credential):
        """Stack parameters from the cluster's trustee.

        :param credential: ``user_id``, ``username``, ``domain_id``,
            ``password``, ``trust_id``, ``auth_url``, ``region_name`` and
            ``hand_trust`` (``[trust] cluster_user_trust``: without it the
            nodes get an empty trust id, as Magnum's do).
        """
        return {'auth_url': credential['auth_url'],
                'region_name': credential['region_name'] or '',
                'trustee_domain_id': credential['domain_id'],
                'trustee_username': credential['username'],
                'trustee_user_id': credential['user_id'],
                'trustee_password': credential['password'],
                'trust_id': credential['trust_id']
                if credential['hand_trust'] else ''}

    # outputs --------------------------------------------------------------
    def nodegroup_addresses(self, outputs):
        """``{'master': [...], 'worker': [...]}`` from the stack outputs."""
        return {'master': _as_list(outputs.get('kube_masters')),
                'worker': _as_list(outputs.get('kube_minions'))}

    def servers_addressed(self, outputs, parameters):
        """``(with an address, expected)`` servers of a stack, from what a
        poll of the stack returned: addresses resolved so far (Heat gives
        None for a server whose port is not there yet) against the node
        counts in its parameters. An address is not a booted server: Heat
        reports it as soon as the port exists. ``expected`` is 0 when the
        stack does not say."""
        addressed = sum(len(v) for v in self.nodegroup_addresses(
            outputs or {}).values())
        try:
            expected = sum(int(parameters[k]) for k in (
                'number_of_masters', 'number_of_minions'))
        except (KeyError, TypeError, ValueError):
            expected = 0
        return min(addressed, expected), expected

    def cluster_values_from_outputs(self, outputs):
        """Cluster fields from the stack's outputs (output_key -> value)."""
        outputs = outputs or {}
        addresses = self.nodegroup_addresses(outputs)
        api = outputs.get('api_address') or None
        if api and '://' not in api:
            api = 'https://%s:6443' % api
        return {'api_address': api,
                'master_addresses': addresses['master'],
                'node_addresses': addresses['worker'],
                'coe_version': outputs.get('kube_version') or None}


def _as_list(value):
    """Heat outputs may hold None for nodes still being built."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v for v in value.split(',') if v]
    return [v for v in value if v]


def node_counts(cluster, nodegroups):
    """(masters, workers) from the nodegroups, else the cluster fields."""
    masters = workers = None
    for group in nodegroups or []:
        if group.get('role') == 'master':
            masters = (masters or 0) + int(group.get('node_count') or 0)
        else:
            workers = (workers or 0) + int(group.get('node_count') or 0)
    if masters is None:
        masters = int(cluster.get('master_count') or 1)
    if workers is None:
        workers = int(cluster.get('node_count') or 0)
    return masters, workers
