"""Resource types of the simulated Heat.

Each type creates its cloud objects at once and reports its state lazily:
plain resources are COMPLETE ``resource_delay`` seconds after they started,
servers follow their Nova server (BUILD -> ACTIVE/ERROR), groups and
provider templates follow their nested stack.  A resource record is a dict:
name, type, props, physical_id, action, started_at, ready_at, data, nested,
failed (a reason when the resource failed outright).
"""

import abc
import string

from caas.sim import cinder_types
from caas.sim import hot
from caas.sim import neutron_types
from caas.sim import octavia_types
from caas.sim import props as p
from caas.sim import rbase
from caas.sim import signals
from caas.sim import state as st
from caas.sim.props import P
from caas.sim.rbase import Resource

_physical_name = rbase.physical_name


class Value(Resource):
    properties = {'value': P(p.ANY, required=True),
                  'type': P(allowed=['string', 'number', 'json',
                                     'comma_delimited_list', 'boolean'])}
    attributes = ('value',)

    def create(self, cloud, stack, res):
        super().create(cloud, stack, res)
        res['data'] = {'value': res['props'].get('value')}

    def update(self, cloud, stack, res, props):
        super().update(cloud, stack, res, props)
        res['data'] = {'value': props.get('value')}


class RandomString(Resource):
    properties = {
        'length': P(p.INTEGER, min=1, max=512), 'salt': P(),
        'sequence': P(allowed=['lettersdigits', 'letters', 'lowercase',
                               'uppercase', 'digits', 'hexdigits',
                               'octdigits']),
        'character_classes': P(p.LIST, items=P(p.MAP, keys={
            'class': P(allowed=['lettersdigits', 'letters', 'lowercase',
                                'uppercase', 'digits', 'hexdigits',
                                'octdigits']),
            'min': P(p.INTEGER, min=1, max=512)})),
        'character_sequences': P(p.LIST, items=P(p.MAP, keys={
            'sequence': P(required=True),
            'min': P(p.INTEGER, min=1, max=512)}))}
    attributes = ('value',)

    def create(self, cloud, stack, res):
        super().create(cloud, stack, res)
        length = int(res['props'].get('length') or 32)
        chars = string.ascii_letters + string.digits
        res['data'] = {'value': ''.join(cloud.rand.choice(chars)
                                        for _ in range(length))}

    def update(self, cloud, stack, res, props):
        res['props'] = props

    def ref(self, cloud, res):
        return res['data']['value']


class ServerGroup(rbase.Recorded):
    """OS::Nova::ServerGroup: Nova refuses a policy it does not know."""

    kind = 'server_groups'
    properties = {
        'name': P(), 'rules': P(p.MAP),
        'policies': P(p.LIST, items=P(allowed=[
            'anti-affinity', 'affinity', 'soft-anti-affinity',
            'soft-affinity']), min=1, max=1)}

    def record(self, cloud, stack, res):
        return {'name': res['props'].get('name') or
                _physical_name(stack, res),
                'policies': res['props'].get('policies') or
                ['anti-affinity'], 'members': []}


_NETWORK = {k: P() for k in ('uuid', 'network', 'fixed_ip', 'port',
                             'subnet', 'floating_ip', 'tag',
                             'allocate_network', 'vif_model')}
_NETWORK['port_extra_properties'] = P(p.MAP)


class Server(Resource):
    """OS::Nova::Server, backed by a server of the simulated Nova."""

    properties = {
        'name': P(), 'image': P(), 'flavor': P(required=True),
        'key_name': P(), 'admin_pass': P(), 'admin_user': P(),
        'availability_zone': P(), 'config_drive': P(p.BOOLEAN),
        'block_device_mapping': P(p.LIST, items=P(p.MAP)),
        'block_device_mapping_v2': P(p.LIST, items=P(p.MAP)),
        'diskConfig': P(allowed=['AUTO', 'MANUAL']),
        'flavor_update_policy': P(allowed=['RESIZE', 'REPLACE']),
        'image_update_policy': P(allowed=[
            'REBUILD', 'REPLACE', 'REBUILD_PRESERVE_EPHEMERAL']),
        'metadata': P(p.MAP), 'personality': P(p.MAP),
        'networks': P(p.LIST, items=P(p.MAP, keys=_NETWORK)),
        'reservation_id': P(), 'scheduler_hints': P(p.MAP),
        'security_groups': P(p.LIST, items=P()),
        'software_config_transport': P(allowed=[
            'POLL_SERVER_CFN', 'POLL_SERVER_HEAT', 'POLL_TEMP_URL',
            'ZAQAR_MESSAGE']),
        'user_data': P(), 'user_data_format': P(allowed=[
            'HEAT_CFNTOOLS', 'RAW', 'SOFTWARE_CONFIG']),
        'user_data_update_policy': P(allowed=['REPLACE', 'IGNORE']),
        'deployment_swift_data': P(p.MAP), 'tags': P(p.LIST, items=P())}
    attributes = ('accessIPv4', 'accessIPv6', 'addresses', 'console_urls',
                  'first_address', 'instance_name', 'name', 'networks',
                  'os_collect_config', 'tags')

    def _problem(self, cloud, stack, props, flavor, image):
        """What Nova (or Heat's lookups) would refuse, or None."""
        key_name = props.get('key_name')
        if flavor is None:
            return 'Flavor %s could not be found.' % props.get('flavor')
        if props.get('image') and image is None:
            return 'Image %s could not be found.' % props.get('image')
        if key_name and not cloud.stack_keypair(stack, key_name):
            return 'Invalid key_name provided.'
        for entry in props.get('networks') or []:
            net = entry.get('network') or entry.get('uuid')
            if net and cloud.find('networks', net) is None:
                return 'Network %s could not be found.' % net
            if entry.get('port') and \
                    entry['port'] not in cloud.data['ports']:
                return 'Port %s could not be found.' % entry['port']
        group = (props.get('scheduler_hints') or {}).get('group')
        if group and group not in cloud.data['server_groups']:
            return 'Invalid server group %s' % group
        return None

    def create(self, cloud, stack, res):
        props = res['props']
        res['physical_id'] = None
        res['ready_at'] = res['started_at']
        flavor = cloud.find('flavors', props.get('flavor'))
        image = cloud.find('images', props.get('image')) \
            if props.get('image') else None
        problem = self._problem(cloud, stack, props, flavor, image)
        if problem:
            res['failed'] = 'BadRequest: resources.%s: %s (HTTP 400)' % (
                res['name'], problem)
            return
        networks = []
        for entry in props.get('networks') or []:
            networks.append({k: entry.get(k) for k in (
                'network', 'uuid', 'port', 'floating_ip') if entry.get(k)})
        user_data = props.get('user_data')
        if props.get('user_data_format') == 'SOFTWARE_CONFIG':
            config = cloud.data['software_configs'].get(user_data)
            user_data = config['config'] if config else user_data
        # The ports the server makes get its security groups (by id).
        groups = [g if g == 'default' else
                  (cloud.find('security_groups', g) or {'id': g})['id']
                  for g in props.get('security_groups') or []]
        srv = cloud.create_server(
            stack['project_id'], stack.get('user_id'),
            props.get('name') or _physical_name(stack, res), flavor, image,
            key_name=props.get('key_name'), networks=networks,
            metadata=props.get('metadata'), user_data=user_data,
            stack_id=stack['root_id'], security_groups=groups)
        if cinder_types.is_baremetal(cloud, srv):
            # Ironic deploys an image to a disk: slower than a VM's boot.
            srv['ready_at'] = srv['created_at'] + \
                cloud.knobs['baremetal_boot_delay']
        signals.register_server(cloud, srv)
        res['physical_id'] = srv['id']

    # A new image (which Heat rebuilds in place by default) is a new server
    # here; new user data is one as Heat's user_data_update_policy says
    # (the new policy, else the old one; REPLACE by default). With IGNORE
    # the new user data is only kept, for a server created later.
    REPLACED_BY = ('image',)

    @staticmethod
    def _user_data_replaces(old, new):
        if old.get('user_data') == new.get('user_data'):
            return False
        policy = new.get('user_data_update_policy') or \
            old.get('user_data_update_policy') or 'REPLACE'
        return policy == 'REPLACE'

    def update(self, cloud, stack, res, props):
        srv = cloud.server(res.get('physical_id'))
        replace = any(res['props'].get(k) != props.get(k)
                      for k in self.REPLACED_BY) or \
            self._user_data_replaces(res['props'], props)
        res['props'] = props
        if srv is not None and replace:
            cloud.delete_server(srv)
            res['data']['replaced'] = res['data'].get('replaced', 0) + 1
            return self.create(cloud, stack, res)
        if srv is None:
            res['failed'] = res.get('failed') or (
                'NotFound: resources.%s: server not found' % res['name'])
            return
        if props.get('name'):
            srv['name'] = props['name']
        srv['metadata'] = dict(props.get('metadata') or {})
        srv['updated_at'] = st.now()
        cloud.touch('servers', srv['id'])
        self.settle_later(cloud, res)

    def delete(self, cloud, stack, res):
        srv = cloud.server(res.get('physical_id'))
        if srv is not None:
            cloud.delete_server(srv)

    def state(self, cloud, stack, res):
        if res.get('failed'):
            return 'FAILED', res['failed'], res['started_at']
        srv = cloud.server(res['physical_id'])
        if srv is None:
            return 'COMPLETE', '', res['ready_at']
        status = cloud.server_status(srv)
        if status == 'BUILD':
            return 'IN_PROGRESS', '', None
        if status == 'ERROR' and not srv.get('changed_after_boot'):
            return 'FAILED', ('ResourceInError: resources.%s: Went to status '
                              'ERROR due to "Message: %s, Code: 500"' % (
                                  res['name'], srv.get('fault_message') or
                                  st.FAULT_MESSAGE)), \
                srv['ready_at']
        if st.now() < res['ready_at']:
            return 'IN_PROGRESS', '', None
        return 'COMPLETE', '', max(res['ready_at'], srv['ready_at'])

    def attr(self, cloud, stack, res, name, path):
        srv = cloud.server(res.get('physical_id'))
        if srv is None:
            return None
        addresses = cloud.server_addresses(srv)
        fixed = [a['addr'] for net in addresses.values() for a in net
                 if a['OS-EXT-IPS:type'] == 'fixed']
        floating = [a['addr'] for net in addresses.values() for a in net
                    if a['OS-EXT-IPS:type'] == 'floating']
        networks = {}
        for net_name, entries in addresses.items():
            networks[net_name] = [a['addr'] for a in entries]
            net = cloud.find('networks', net_name)
            if net:
                networks[net['id']] = networks[net_name]
        from caas.sim import nova
        values = {
            'first_address': fixed[0] if fixed else '',
            'addresses': addresses, 'networks': networks,
            'name': srv['name'], 'instance_name': srv['name'],
            'accessIPv4': (floating or fixed or [''])[0],
            'accessIPv6': '', 'console_urls': {},
            'show': nova.server_view(cloud, srv, ''),
        }
        return hot._dig(values.get(name), path)


class NestedStack(Resource, abc.ABC):
    """Base of ResourceGroup and provider templates: a nested stack."""

    def has_attribute(self, name, definition, files):
        return None

    @abc.abstractmethod
    def nested_definition(self, cloud, stack, res):
        """(template, params) of the nested stack for ``res``."""

    def create(self, cloud, stack, res):
        from caas.sim import stacks
        res['ready_at'] = res['started_at']
        try:
            template, params = self.nested_definition(cloud, stack, res)
            res['nested'] = stacks.nested_stack(cloud, stack, res, template,
                                                params)
            res['physical_id'] = res['nested']['id']
        except hot.HOTError as exc:
            res['failed'] = '%s: resources.%s: %s' % (
                exc.error_type, res['name'], exc.message)

    def update(self, cloud, stack, res, props):
        from caas.sim import stacks
        res['props'] = props
        if res.get('nested') is None:
            res['failed'] = None
            return self.create(cloud, stack, res)
        try:
            template, params = self.nested_definition(cloud, stack, res)
            stacks.apply(cloud, res['nested'], template, params, 'UPDATE',
                         strict=True)
        except hot.HOTError as exc:
            res['failed'] = '%s: resources.%s: %s' % (
                exc.error_type, res['name'], exc.message)

    def delete(self, cloud, stack, res):
        from caas.sim import stacks
        if res.get('nested'):
            stacks.delete_resources(cloud, res['nested'])

    def state(self, cloud, stack, res):
        from caas.sim import stacks
        if res.get('failed'):
            return 'FAILED', res['failed'], res['started_at']
        status, reason, when = stacks.aggregate(cloud, res['nested'])
        if status == 'FAILED':
            reason = 'resources.%s.%s' % (res['name'], reason)
        return status, reason, when

    def ref(self, cloud, res):
        return res.get('physical_id')

    def member_attr(self, cloud, res, member, name, path):
        from caas.sim import stacks
        nested = res.get('nested')
        if not nested or member not in nested['resources']:
            return None
        return stacks.resource_attr(cloud, nested, member, name, path)


class ResourceGroup(NestedStack):
    """Members in a nested stack; ``rolling_update`` in caas.sim.rolling."""

    properties = {
        'count': P(p.INTEGER, min=0), 'index_var': P(),
        'resource_def': P(p.MAP, required=True, keys={
            'type': P(required=True), 'properties': P(p.MAP),
            'metadata': P(p.MAP)}),
        'removal_policies': P(p.LIST, items=P(p.MAP, keys={
            'resource_list': P(p.LIST)})),
        'removal_policies_mode': P(allowed=['append', 'update'])}
    GROUP_ATTRIBUTES = ('refs', 'refs_map', 'attributes',
                        'removed_rsrc_list')

    def validate(self, res_name, props):
        # The members' properties are their type's to check.
        rdef = props.get('resource_def')
        if isinstance(rdef, dict) and isinstance(rdef.get('properties'),
                                                 dict):
            props = dict(props, resource_def=dict(rdef, properties={}))
        super().validate(res_name, props)

    def has_attribute(self, name, definition, files):
        if name in self.GROUP_ATTRIBUTES or name.startswith('resource.'):
            return True
        rdef = (definition.get('properties') or {}).get('resource_def')
        if not isinstance(rdef, dict) or not isinstance(rdef.get('type'),
                                                        str):
            return None
        return type_of(rdef['type']).has_attribute(name, rdef, files)

    def update(self, cloud, stack, res, props):
        from caas.sim import rolling
        rolling.cancel(res)
        size = rolling.max_batch_size(res)
        if size is None or res.get('nested') is None:
            return super().update(cloud, stack, res, props)
        res['props'] = props
        try:
            template, params = self.nested_definition(cloud, stack, res)
            rolling.start(cloud, stack, res, template, params, size)
        except hot.HOTError as exc:
            res['failed'] = '%s: resources.%s: %s' % (
                exc.error_type, res['name'], exc.message)

    def state(self, cloud, stack, res):
        from caas.sim import rolling
        rolling.advance(cloud, stack, res)
        return super().state(cloud, stack, res)

    def nested_definition(self, cloud, stack, res):
        props = res['props']
        count = int(props.get('count', 1))
        rdef = props.get('resource_def') or {}
        index_var = props.get('index_var') or '%index%'
        removed = self._removed(cloud, res)
        names = []
        i = 0
        while len(names) < count:
            if str(i) not in removed:
                names.append(str(i))
            i += 1
        resources = {}
        for name in names:
            member = hot._substitute(rdef, {index_var: name})
            member = {k: v for k, v in member.items()
                      if k in ('type', 'properties', 'metadata')}
            resources[name] = member
        return {'heat_template_version': '2015-04-30',
                'parameters': {}, 'resources': resources,
                'outputs': {}, 'conditions': {}}, {}

    def _removed(self, cloud, res):
        """Member names removal_policies asked to remove, like Heat: by
        name or reference; a removed name is never used again."""
        removed = set(res['data'].get('removed', []))
        nested = res.get('nested')
        current = list(nested['resources']) if nested else []
        for policy in res['props'].get('removal_policies') or []:
            wanted = policy.get('resource_list') or []
            if isinstance(wanted, str):
                wanted = [w for w in wanted.split(',') if w]
            for item in map(str, wanted):
                for name in current:
                    if item in (name, self.ref_of(cloud, res, name)):
                        removed.add(name)
        res['data']['removed'] = sorted(removed, key=int)
        return removed

    def _members(self, res):
        nested = res.get('nested') or {'resources': {}}
        return sorted(nested['resources'], key=int)

    def attr(self, cloud, stack, res, name, path):
        members = self._members(res)
        path = list(path)
        if name.startswith('resource.'):
            parts = name.split('.', 2)
            if len(parts) == 3:
                return self.member_attr(cloud, res, parts[1], parts[2], path)
            if not path:
                return self.ref_of(cloud, res, parts[1])
            return self.member_attr(cloud, res, parts[1], path[0], path[1:])
        if name == 'refs':
            return hot._dig([self.ref_of(cloud, res, m) for m in members],
                            path)
        if name == 'refs_map':
            return {m: self.ref_of(cloud, res, m) for m in members}
        if name == 'attributes':
            if not path:
                return None
            return {m: self.member_attr(cloud, res, m, path[0], path[1:])
                    for m in members}
        return [self.member_attr(cloud, res, m, name, path) for m in members]

    def ref_of(self, cloud, res, member):
        from caas.sim import stacks
        nested = res.get('nested')
        if not nested or member not in nested['resources']:
            return None
        return stacks.resource_ref(cloud, nested, member)


class Provider(NestedStack):
    """A resource whose type names a template in the stack's files."""

    def has_attribute(self, name, definition, files):
        try:
            nested = hot.parse_shared(files[definition['type']])
        except (hot.HOTError, KeyError):
            return None
        return name in nested['outputs'] or name == 'OS::stack_id'

    def nested_definition(self, cloud, stack, res):
        template = hot.parse(stack['files'][res['type']])
        return template, res['props']

    def attr(self, cloud, stack, res, name, path):
        from caas.sim import stacks
        nested = res.get('nested')
        if not nested:
            return None
        return hot._dig(stacks.output_value(cloud, nested, name), path)

    def ref(self, cloud, res):
        from caas.sim import stacks
        nested = res.get('nested')
        if nested and 'OS::stack_id' in nested['template']['outputs']:
            return stacks.output_value(cloud, nested, 'OS::stack_id')
        return res.get('physical_id')


TYPES = {
    'OS::Nova::Server': Server(),
    'OS::Nova::ServerGroup': ServerGroup(),
    'OS::Heat::ResourceGroup': ResourceGroup(),
    'OS::Heat::None': Resource(),
    'OS::Heat::RandomString': RandomString(),
    'OS::Heat::Value': Value(),
}
for _module in (neutron_types, cinder_types, octavia_types, signals):
    TYPES.update(_module.TYPES)
PROVIDER = Provider()


def type_of(rtype):
    return TYPES.get(rtype, PROVIDER)
