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
from caas.conf import CONF


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
    #: Template ``network_driver`` values the driver can build; None: any.
    network_drivers = None

    # labels ---------------------------------------------------------------
    def _unknown(self, labels):
        """Labels this driver's schema has no place for."""
        if self.labels_schema.get('additionalProperties', False) is not False:
            return set()
        return set(labels) - set(self.labels_schema.get('properties', {}))

    def validate_labels(self, labels, strict=None):
        """Typed labels, or InvalidParameterValue naming the bad label.

        Labels the driver knows are type-checked. Labels it does not know
        are refused when ``strict`` (default ``[drivers] strict_labels``),
        else returned untouched: Magnum stores them, and tools written for
        Magnum's drivers send many.
        """
        labels = dict(labels or {})
        if strict is None:
            strict = CONF.drivers.strict_labels
        unknown = {} if strict else {
            k: labels.pop(k) for k in self._unknown(labels)}
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
        coerced.update(unknown)
        return coerced

    def effective_labels(self, cluster, template):
        """The labels a stack is built with: typed, defaulted, and only
        those the driver knows (unknown ones are stored, never used).

        As in Magnum, a cluster's labels replace its template's; the API
        copied the template's (or merged them, ``merge_labels``) into the
        cluster when it was created without labels of its own.
        """
        chosen = dict(cluster.get('labels') or template.get('labels') or {})
        for key in self._unknown(chosen):
            chosen.pop(key)
        labels = self.validate_labels(chosen, strict=True)
        for key, schema in self.labels_schema.get('properties', {}).items():
            if key not in labels and 'default' in schema:
                labels[key] = copy.deepcopy(schema['default'])
        return labels

    def validate_network_driver(self, network_driver):
        """InvalidParameterValue (400) unless the driver can build it."""
        if self.network_drivers is None or not network_driver or \
                network_driver in self.network_drivers:
            return
        raise exceptions.InvalidParameterValue(
            err='Invalid value for field/attribute network_driver: %s is not '
                'supported by driver %s; use one of %s.' % (
                    network_driver, self.name,
                    ', '.join(self.network_drivers)))

    def coe_version(self, labels):
        """The COE version these labels select, or None."""
        return None

    def container_version(self, labels):
        """The container engine's version these labels select, or None."""
        return None

    def validate_cluster(self, cluster, template):
        """InvalidParameterValue (400) when the driver cannot build this
        cluster (its fields as the API is about to record them, and its
        template); called before anything is written."""

    # upgrades -------------------------------------------------------------
    #: Labels that choose what a node installs: changing one is an upgrade.
    version_labels = ()

    def group_labels(self, cluster, template, nodegroup):
        """A nodegroup's effective labels: the template's, overridden by the
        cluster's, overridden by the nodegroup's own."""
        merged = dict(template.get('labels') or {})
        merged.update(cluster.get('labels') or {})
        merged.update((nodegroup or {}).get('labels') or {})
        return self.effective_labels({'labels': merged}, {})

    def installed(self, cluster, template, nodegroup):
        """What a nodegroup's nodes run: ``{'image_id': ..., <version
        label>: ...}``. With an empty cluster and nodegroup, what a new
        template installs."""
        labels = self.group_labels(cluster, template, nodegroup)
        found = {'image_id': (nodegroup or {}).get('image_id') or
                 template.get('image_id')}
        found.update({k: labels.get(k) for k in self.version_labels})
        return found

    def pinned_nodegroup(self, cluster, template, nodegroup):
        """The nodegroup with what it runs written out (image and version
        labels), so that a new cluster template cannot change it."""
        return self._with(nodegroup, self.installed(cluster, template,
                                                    nodegroup))

    def upgraded_nodegroup(self, new_template, nodegroup):
        """The nodegroup as an upgrade to ``new_template`` leaves it.

        This is the per-nodegroup hook of an upgrade: pure, so that it
        serves a nodegroup in the cluster's stack and one with a stack of
        its own alike."""
        return self._with(nodegroup, self.installed({}, new_template, {}))

    def _with(self, nodegroup, found):
        group = dict(nodegroup)
        group['image_id'] = found['image_id']
        labels = dict(group.get('labels') or {})
        labels.update({k: found[k] for k in self.version_labels
                       if found.get(k) is not None})
        group['labels'] = labels
        group['version'] = self.coe_version(
            self.effective_labels({'labels': labels}, {}))
        return group

    def upgrade_definition(self, cluster, template, nodegroups,
                           max_batch_size, ca_pems=()):
        """The cluster stack's whole definition after an upgrade, for a
        PATCH update: ``nodegroups`` already carry their new images and
        version labels (``upgraded_nodegroup`` / ``pinned_nodegroup``), and
        the stack replaces at most ``max_batch_size`` nodes of a group at a
        time (the template declares how)."""
        definition = self.stack_definition(cluster, template, nodegroups)
        return self._with_upgrade_parameters(definition, max_batch_size,
                                             ca_pems)

    def nodegroup_upgrade_definition(self, cluster, template, nodegroup,
                                     cluster_outputs, max_batch_size,
                                     ca_pems=()):
        """The whole definition of a nodegroup's own stack after an
        upgrade, for a PATCH update: ``nodegroup`` already carries its new
        image and version labels (``upgraded_nodegroup``); at most
        ``max_batch_size`` of its nodes are replaced at a time."""
        definition = self.nodegroup_stack_definition(
            cluster, template, nodegroup, cluster_outputs)
        return self._with_upgrade_parameters(definition, max_batch_size,
                                             ca_pems)

    def _with_upgrade_parameters(self, definition, max_batch_size, ca_pems):
        extra = dict(self.ca_parameters(ca_pems),
                     **self.batch_parameters(max_batch_size))
        declared = definition['template'].get('parameters') or {}
        definition['parameters'].update(
            {k: v for k, v in extra.items() if k in declared})
        return definition

    def batch_parameters(self, max_batch_size):
        """Stack parameters that bound a rolling replacement."""
        return {'update_max_batch_size': int(max_batch_size)}

    # CA rotation ----------------------------------------------------------
    def ca_parameters(self, ca_pems):
        """Stack parameters handing the cluster's CA certificates (PEM,
        never keys) to the nodes; {} when the driver has nowhere to put
        them."""
        return {}

    def ca_key_parameters(self, cas):
        """Stack parameters (secrets) handing the CAs the control plane
        signs with to the nodes that need them, given only when the stack
        is created: ``cas`` is ``{ca_type: (cert_pem, key_pem)}``. {} when
        the driver's nodes make no certificates."""
        return {}

    def rotation_parameters(self):
        """Stack parameters sent with a credential or CA rotation (with its
        new values) so that it replaces no server; {} when the driver's
        templates need none."""
        return {}

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

    # nodegroups users add --------------------------------------------------
    def nodegroup_stack_name(self, cluster, nodegroup):
        """Derived from the cluster and nodegroup UUIDs only, so a re-run
        finds the stack (and a cluster delete finds every one)."""
        return '%s-ng-%s' % (self.stack_name(cluster), nodegroup['uuid'])

    def nodegroup_stack_definition(self, cluster, template, nodegroup,
                                   cluster_outputs):
        """The stack of a nodegroup users added: its workers, joining the
        cluster the cluster's stack built (``cluster_outputs`` are that
        stack's outputs). Same shape as :meth:`stack_definition`."""
        raise exceptions.InvalidParameterValue(
            err='Driver %s cannot add nodegroups.' % self.name)

    def nodegroup_update_parameters(self, cluster, template, nodegroup,
                                    remove=()):
        """Parameters for a PATCH update of a nodegroup's own stack."""
        return {'number_of_minions': int(nodegroup.get('node_count') or 0)}

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
            expected = self.expected_servers(parameters)
        except (KeyError, TypeError, ValueError):
            expected = 0
        return min(addressed, expected), expected

    def expected_servers(self, parameters):
        """How many servers the stack's parameters ask for."""
        return sum(int(parameters[k]) for k in (
            'number_of_masters', 'number_of_minions'))

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
                'coe_version': outputs.get('kube_version') or None,
                'container_version': outputs.get('container_version') or
                None}


def labels_diff(parent, labels):
    """``(overridden, added, skipped)`` of ``labels`` against the labels
    they came from, as Magnum reports them: overridden maps a label both
    have with another value to the parent's value, added maps a label only
    ``labels`` has to its value, skipped maps a parent's label ``labels``
    lacks to the parent's value."""
    parent, labels = dict(parent or {}), dict(labels or {})
    overridden = {k: parent[k] for k, v in labels.items()
                  if k in parent and parent[k] != v}
    added = {k: v for k, v in labels.items() if k not in parent}
    skipped = {k: v for k, v in parent.items() if k not in labels}
    return overridden, added, skipped


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
        if not group.get('is_default', True):
            # A nodegroup users added has its own stack.
            continue
        if group.get('role') == 'master':
            masters = (masters or 0) + int(group.get('node_count') or 0)
        else:
            workers = (workers or 0) + int(group.get('node_count') or 0)
    if masters is None:
        masters = int(cluster.get('master_count') or 1)
    if workers is None:
        workers = int(cluster.get('node_count') or 0)
    return masters, workers
