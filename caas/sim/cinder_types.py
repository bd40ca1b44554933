"""OS::Cinder::* resource types of the simulated Heat.

A volume is a record of the cloud's ``volumes`` table; an attachment joins
it to a server. What Cinder and Nova refuse fails the resource: a volume
with neither a size nor a source, attaching a volume that is attached
already (unless multiattach), to a server that does not exist, or to a
bare-metal server (an Ironic-backed flavor: Nova's Ironic driver attaches
no Cinder volume to a node booted from its local disk).
"""

from caas.sim import props as p
from caas.sim import rbase
from caas.sim.props import P

BAREMETAL_SPEC = 'resources:CUSTOM_BAREMETAL'


def is_baremetal(cloud, srv):
    """Whether the server runs on an Ironic-backed (bare-metal) flavor."""
    flavor = cloud.data['flavors'].get(srv.get('flavor_id')) or {}
    return str((flavor.get('extra_specs') or {}).get(BAREMETAL_SPEC, '0')) \
        not in ('0', '')


class Volume(rbase.Recorded):
    kind = 'volumes'
    properties = {
        'size': P(p.INTEGER, min=1), 'name': P(), 'description': P(),
        'availability_zone': P(), 'backup_id': P(), 'image': P(),
        'metadata': P(p.MAP), 'multiattach': P(p.BOOLEAN),
        'read_only': P(p.BOOLEAN), 'scheduler_hints': P(p.MAP),
        'snapshot_id': P(), 'source_volid': P(), 'volume_type': P()}
    attributes = ('attachments', 'attachments_list', 'availability_zone',
                  'bootable', 'created_at', 'display_description',
                  'display_name', 'encrypted', 'metadata',
                  'metadata_values', 'multiattach', 'size', 'snapshot_id',
                  'source_volid', 'status', 'volume_type')

    def record(self, cloud, stack, res):
        props = res['props']
        if props.get('size') is None and not any(props.get(k) for k in (
                'image', 'snapshot_id', 'source_volid', 'backup_id')):
            return rbase.fail(res, 'BadRequest', 'Invalid input received: '
                              'Size must be specified. (HTTP 400)')
        return {'name': props.get('name') or '',
                'size': int(props.get('size') or 1),
                'multiattach': bool(props.get('multiattach')),
                'volume_type': props.get('volume_type') or 'lvmdriver-1',
                'metadata': props.get('metadata') or {},
                'attachments': []}

    def values(self, cloud, rec):
        return dict(rec, display_name=rec['name'], display_description='',
                    status='in-use' if rec['attachments'] else 'available',
                    attachments_list=rec['attachments'], bootable='false',
                    encrypted=False, availability_zone='nova',
                    metadata_values=rec['metadata'])


class VolumeAttachment(rbase.Resource):
    properties = {'instance_uuid': P(required=True),
                  'volume_id': P(required=True), 'mountpoint': P()}

    def create(self, cloud, stack, res):
        super().create(cloud, stack, res)
        props = res['props']
        srv = cloud.server(props['instance_uuid'])
        vol = cloud.data['volumes'].get(props['volume_id'])
        if srv is None:
            return rbase.fail(res, 'NotFound', 'Instance %s could not be '
                              'found. (HTTP 404)' % props['instance_uuid'])
        if vol is None:
            return rbase.fail(res, 'NotFound', 'Volume %s could not be '
                              'found. (HTTP 404)' % props['volume_id'])
        if is_baremetal(cloud, srv):
            return rbase.fail(res, 'BadRequest', 'Server %s runs on the '
                              'bare-metal flavor %s: its compute driver '
                              'cannot attach volumes. (HTTP 400)' % (
                                  srv['id'], srv['flavor_id']))
        if vol['attachments'] and not vol['multiattach']:
            return rbase.fail(res, 'BadRequest', 'Invalid volume: Volume '
                              '%s status must be available, but current '
                              'status is: in-use. (HTTP 400)' % vol['id'])
        vol['attachments'].append({'server_id': srv['id'],
                                   'attachment_id': res['physical_id'],
                                   'device': props.get('mountpoint') or
                                   '/dev/vdb'})
        cloud.touch('volumes', vol['id'])

    def update(self, cloud, stack, res, props):
        self.delete(cloud, stack, res)
        res['props'] = props
        res['failed'] = None
        self.create(cloud, stack, res)

    def delete(self, cloud, stack, res):
        vol = cloud.data['volumes'].get(res['props'].get('volume_id'))
        if vol is not None:
            vol['attachments'] = [a for a in vol['attachments']
                                  if a['attachment_id'] !=
                                  res.get('physical_id')]
            cloud.touch('volumes', vol['id'])


TYPES = {
    'OS::Cinder::Volume': Volume(),
    'OS::Cinder::VolumeAttachment': VolumeAttachment(),
}
