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

from caas.sim import hot
from caas.sim import state as st


def _physical_name(stack, res):
    suffix = ''.join(st.random.choice(string.ascii_lowercase + string.digits)
                     for _ in range(12))
    return '%s-%s-%s' % (stack['name'][:60], res['name'][:60], suffix)


class Resource(object):
    """A resource that only takes ``resource_delay`` to settle."""

    attributes = ()

    def create(self, cloud, stack, res):
        res['physical_id'] = st.new_uuid()
        self.settle_later(cloud, res)

    def update(self, cloud, stack, res, props):
        res['props'] = props
        self.settle_later(cloud, res)

    def delete(self, cloud, stack, res):
        """Release what ``create`` made; nothing for a plain resource."""

    def settle_later(self, cloud, res, delay=None):
        if delay is None:
            delay = cloud.knobs['resource_delay']
        res['ready_at'] = res['started_at'] + delay

    def state(self, cloud, stack, res):
        """(IN_PROGRESS|COMPLETE|FAILED, reason, time reached)."""
        if res.get('failed'):
            return 'FAILED', res['failed'], res['started_at']
        if st.now() < res['ready_at']:
            return 'IN_PROGRESS', '', None
        return 'COMPLETE', '', res['ready_at']

    def ref(self, cloud, res):
        return res.get('physical_id')

    def attr(self, cloud, stack, res, name, path):
        return hot._dig((res.get('data') or {}).get(name), path)


class Value(Resource):
    def create(self, cloud, stack, res):
        super().create(cloud, stack, res)
        res['data'] = {'value': res['props'].get('value')}

    def update(self, cloud, stack, res, props):
        super().update(cloud, stack, res, props)
        res['data'] = {'value': props.get('value')}


class RandomString(Resource):
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


class Config(Resource):
    """SoftwareConfig, CloudConfig and MultipartMime: attribute config."""

    def _config(self, props):
        if 'parts' in props:
            return '\n'.join(hot._text(p.get('config'))
                             for p in props.get('parts') or [])
        if 'cloud_config' in props:
            return '#cloud-config\n' + hot._text(props['cloud_config'])
        return props.get('config')

    def create(self, cloud, stack, res):
        super().create(cloud, stack, res)
        res['data'] = {'config': self._config(res['props'])}

    def update(self, cloud, stack, res, props):
        super().update(cloud, stack, res, props)
        res['data'] = {'config': self._config(props)}


class Net(Resource):
    def create(self, cloud, stack, res):
        super().create(cloud, stack, res)
        name = res['props'].get('name') or _physical_name(stack, res)
        cloud.data['networks'][res['physical_id']] = {
            'id': res['physical_id'], 'name': name, 'external': False,
            'project_id': stack['project_id']}
        res['data'] = {'name': name, 'id': res['physical_id'],
                       'subnets': []}

    def delete(self, cloud, stack, res):
        cloud.data['networks'].pop(res.get('physical_id'), None)


class Subnet(Resource):
    def create(self, cloud, stack, res):
        super().create(cloud, stack, res)
        props = res['props']
        cidr = props.get('cidr') or '10.0.0.0/24'
        net = cloud.network(props.get('network') or props.get('network_id'))
        res['data'] = {'cidr': cidr, 'name': props.get('name'),
                       'network_id': net['id'],
                       'gateway_ip': cidr.rsplit('.', 1)[0] + '.1'}


class Port(Resource):
    def create(self, cloud, stack, res):
        props = res['props']
        port = cloud.create_port(props.get('network') or
                                 props.get('network_id'),
                                 stack['project_id'],
                                 name=props.get('name') or '')
        res['physical_id'] = port['id']
        self.settle_later(cloud, res)

    def delete(self, cloud, stack, res):
        cloud.delete_port(res.get('physical_id'))

    def attr(self, cloud, stack, res, name, path):
        port = cloud.data['ports'].get(res.get('physical_id')) or {}
        values = {
            'fixed_ips': [{'ip_address': port.get('fixed_ip'),
                           'subnet_id': None}],
            'mac_address': port.get('mac_address'),
            'network_id': port.get('network_id'),
            'name': port.get('name'), 'device_id': port.get('device_id'),
            'show': port}
        return hot._dig(values.get(name), path)


class FloatingIP(Resource):
    def create(self, cloud, stack, res):
        fip = cloud.create_floating_ip(stack['project_id'],
                                       res['props'].get('port_id'))
        res['physical_id'] = fip['id']
        self.settle_later(cloud, res)

    def update(self, cloud, stack, res, props):
        super().update(cloud, stack, res, props)
        fip = cloud.data['floating_ips'].get(res['physical_id'])
        if fip is not None:
            fip['port_id'] = props.get('port_id')
            cloud.touch('floating_ips', fip['id'])

    def delete(self, cloud, stack, res):
        cloud.data['floating_ips'].pop(res.get('physical_id'), None)

    def attr(self, cloud, stack, res, name, path):
        fip = cloud.data['floating_ips'].get(res.get('physical_id')) or {}
        port = cloud.data['ports'].get(fip.get('port_id')) or {}
        public = cloud.find('networks', 'public')
        values = {'floating_ip_address': fip.get('address'),
                  'fixed_ip_address': port.get('fixed_ip'),
                  'port_id': fip.get('port_id'),
                  'floating_network_id': public['id'] if public else None,
                  'show': fip}
        return hot._dig(values.get(name), path)


class FloatingIPAssociation(Resource):
    def _fip(self, cloud, props):
        return cloud.data['floating_ips'].get(props.get('floatingip_id'))

    def create(self, cloud, stack, res):
        super().create(cloud, stack, res)
        fip = self._fip(cloud, res['props'])
        if fip is None:
            res['failed'] = ('NotFound: resources.%s: Floating IP %s could '
                             'not be found' % (res['name'], res['props'].get(
                                 'floatingip_id')))
        else:
            fip['port_id'] = res['props'].get('port_id')
            cloud.touch('floating_ips', fip['id'])

    def update(self, cloud, stack, res, props):
        self.delete(cloud, stack, res)
        super().update(cloud, stack, res, props)
        fip = self._fip(cloud, props)
        if fip is not None:
            fip['port_id'] = props.get('port_id')
            cloud.touch('floating_ips', fip['id'])

    def delete(self, cloud, stack, res):
        fip = self._fip(cloud, res['props'])
        if fip is not None and fip.get('port_id') == \
                res['props'].get('port_id'):
            fip['port_id'] = None
            cloud.touch('floating_ips', fip['id'])


class Server(Resource):
    """OS::Nova::Server, backed by a server of the simulated Nova."""

    def create(self, cloud, stack, res):
        props = res['props']
        res['physical_id'] = None
        res['ready_at'] = res['started_at']
        flavor = cloud.find('flavors', props.get('flavor'))
        image = cloud.find('images', props.get('image')) \
            if props.get('image') else None
        key_name = props.get('key_name')
        problem = None
        if flavor is None:
            problem = 'Flavor %s could not be found.' % props.get('flavor')
        elif props.get('image') and image is None:
            problem = 'Image %s could not be found.' % props.get('image')
        elif key_name and not cloud.stack_keypair(stack, key_name):
            problem = 'Invalid key_name provided.'
        if problem:
            res['failed'] = 'BadRequest: resources.%s: %s (HTTP 400)' % (
                res['name'], problem)
            return
        networks = []
        for entry in props.get('networks') or []:
            networks.append({k: entry.get(k) for k in (
                'network', 'uuid', 'port', 'floating_ip') if entry.get(k)})
        srv = cloud.create_server(
            stack['project_id'], stack.get('user_id'),
            props.get('name') or _physical_name(stack, res), flavor, image,
            key_name=key_name, networks=networks,
            metadata=props.get('metadata'), user_data=props.get('user_data'),
            stack_id=stack['root_id'])
        res['physical_id'] = srv['id']

    # Like Heat's user_data_update_policy REPLACE; a new image (which Heat
    # rebuilds in place by default) is a new server here too.
    REPLACED_BY = ('image', 'user_data')

    def update(self, cloud, stack, res, props):
        srv = cloud.server(res.get('physical_id'))
        replace = any(res['props'].get(k) != props.get(k)
                      for k in self.REPLACED_BY)
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
                                  res['name'], st.FAULT_MESSAGE)), \
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
    'OS::Heat::ResourceGroup': ResourceGroup(),
    'OS::Heat::None': Resource(),
    'OS::Heat::RandomString': RandomString(),
    'OS::Heat::SoftwareConfig': Config(),
    'OS::Heat::CloudConfig': Config(),
    'OS::Heat::MultipartMime': Config(),
    'OS::Heat::Value': Value(),
    'OS::Heat::WaitConditionHandle': Resource(),
    'OS::Heat::WaitCondition': Resource(),
    'OS::Heat::SoftwareDeployment': Resource(),
    'OS::Nova::ServerGroup': Resource(),
    'OS::Neutron::Net': Net(),
    'OS::Neutron::Subnet': Subnet(),
    'OS::Neutron::Router': Resource(),
    'OS::Neutron::RouterInterface': Resource(),
    'OS::Neutron::SecurityGroup': Resource(),
    'OS::Neutron::Port': Port(),
    'OS::Neutron::FloatingIP': FloatingIP(),
    'OS::Neutron::FloatingIPAssociation': FloatingIPAssociation(),
}
PROVIDER = Provider()


def type_of(rtype):
    return TYPES.get(rtype, PROVIDER)
