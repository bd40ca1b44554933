"""Wait conditions, software configs and deployments of the simulated Heat,
and the signals simulated servers send them.

A ``OS::Heat::WaitConditionHandle`` has Heat's ``endpoint``, ``token``,
``curl_cli`` and ``signal`` attributes; its endpoint is the simulated
Heat's ``.../stacks/<name>/<id>/resources/<handle>/signal``, which takes
real signals over HTTP (``caas.sim.heat``). A simulated server "runs" its
bootstrap: when it is created, its user data is unwrapped
(``caas.sim.userdata``) and every handle endpoint found in it is noted on
the server; the server signals each of them ``node_signal_delay`` seconds
after it became ACTIVE, as the node's script would once kubelet (or
Docker) is up. Nothing runs in the background: a wait condition counts,
when its state is read, the signals that have arrived by then, so the cost
is one scan of the user data per server. With the knob ``nodes_signal``
at 0 servers never signal and their wait conditions time out.

``OS::Heat::WaitCondition`` completes when ``count`` SUCCESS signals have
arrived, fails with the reason of a FAILURE signal, and fails with
``WaitConditionTimeout`` after ``timeout`` seconds. A software deployment
with ``signal_transport: NO_SIGNAL`` completes at once; any other waits
until its server has run it (is ACTIVE and signalling).
"""

import email
from email.mime import multipart
from email.mime import text as mime_text
import json
import re
import secrets

import yaml

from caas.sim import hot
from caas.sim import props as p
from caas.sim import rbase
from caas.sim import state as st
from caas.sim import userdata
from caas.sim import web
from caas.sim.props import P
from caas.sim.web import ApiError

ENDPOINT = re.compile(r'/stacks/[^/\s\'"]+/(?P<sid>[0-9a-f-]{36})/resources/'
                      r'(?P<res>[^/\s\'"?]+)/signal')
SIGNAL_TRANSPORTS = ['CFN_SIGNAL', 'TEMP_URL_SIGNAL', 'HEAT_SIGNAL',
                     'NO_SIGNAL', 'ZAQAR_SIGNAL', 'TOKEN_SIGNAL']
DEFAULT_URL = 'http://127.0.0.1:8004'


# servers ---------------------------------------------------------------------
def _index(cloud):
    """{(stack id, handle name): [server ids]}, rebuilt after a restart."""
    index = getattr(cloud, '_signal_index', None)
    if index is None:
        index = {}
        for srv in cloud.data['servers'].values():
            for key in srv.get('signals') or ():
                index.setdefault(tuple(key), []).append(srv['id'])
        cloud._signal_index = index
    return index


def register_server(cloud, srv):
    """Note the handles the server's bootstrap signals (at create)."""
    index = _index(cloud)
    found = []
    for part in userdata.parts(srv.get('user_data')):
        for match in ENDPOINT.finditer(part.text):
            key = [match.group('sid'), match.group('res')]
            if key not in found:
                found.append(key)
    if not found:
        return
    srv['signals'] = found
    # A real node (caas.sim.realnodes) signals for itself, over HTTP.
    srv['signal_outcome'] = 'SUCCESS' if cloud.knobs['nodes_signal'] \
        and not srv.get('real_node') else None
    for key in found:
        servers = index.setdefault(tuple(key), [])
        if srv['id'] not in servers:
            servers.append(srv['id'])


def _server_signals(cloud, stack_id, handle_name):
    """(time, signal) of every simulated server's signal to the handle."""
    out = []
    for sid in _index(cloud).get((stack_id, handle_name), ()):
        srv = cloud.server(sid)
        if srv is None or srv.get('signal_outcome') is None or \
                srv['outcome'] != 'ACTIVE':
            continue
        out.append((srv['ready_at'] + cloud.knobs['node_signal_delay'], {
            'id': srv['name'], 'status': srv['signal_outcome'],
            'reason': 'Signal from simulated server %s' % srv['name'],
            'data': srv['name']}))
    return out


def server_has_run(cloud, srv):
    """When a server "ran" its configuration (None: not yet, or never)."""
    if srv is None or srv['outcome'] != 'ACTIVE' or \
            not cloud.knobs['nodes_signal']:
        return None
    when = srv['ready_at'] + cloud.knobs['node_signal_delay']
    return when if st.now() >= when else None


# handles ---------------------------------------------------------------------
class WaitConditionHandle(rbase.Resource):
    properties = {'signal_transport': P(allowed=SIGNAL_TRANSPORTS)}
    attributes = ('token', 'endpoint', 'curl_cli', 'signal')

    def create(self, cloud, stack, res):
        super().create(cloud, stack, res)
        # Real nodes reach Heat through their network, not on 127.0.0.1.
        real = getattr(cloud, 'realnodes', None)
        base = getattr(real, 'heat_url', None) or \
            getattr(cloud, 'public_url', None) or DEFAULT_URL
        endpoint = '%s/heat/v1/%s/stacks/%s/%s/resources/%s/signal' % (
            base, stack['project_id'], stack['name'], stack['id'],
            res['name'])
        res['data'] = {'endpoint': endpoint,
                       'token': secrets.token_hex(16), 'signals': []}

    def update(self, cloud, stack, res, props):
        res['props'] = props

    def attr(self, cloud, stack, res, name, path):
        data = res.get('data') or {}
        values = {
            'endpoint': data.get('endpoint'), 'token': data.get('token'),
            'curl_cli': "curl -i -X POST -H 'X-Auth-Token: %s' -H "
                        "'Content-Type: application/json' -H 'Accept: "
                        "application/json' %s" % (data.get('token'),
                                                  data.get('endpoint')),
            'signal': json.dumps({'alarm_url': data.get('endpoint'),
                                  'token': data.get('token')})}
        return hot._dig(values.get(name), path)


def signal(res, body):
    """Record a signal POSTed to a handle; HOTError for a bad body."""
    body = body if isinstance(body, dict) else {}
    status = body.get('status', 'SUCCESS')
    if status not in ('SUCCESS', 'FAILURE'):
        raise hot.HOTError('Metadata format invalid: status must be '
                           'SUCCESS or FAILURE', 'ValueError')
    signals = res['data'].setdefault('signals', [])
    signals.append({'id': str(body.get('id') or len(signals) + 1),
                    'status': status, 'reason': body.get('reason') or '',
                    'data': body.get('data'), 'time': st.now()})


def _all_signals(cloud, stack, handle):
    sigs = [(s['time'], s) for s in handle['data'].get('signals') or []]
    sigs += _server_signals(cloud, stack['id'], handle['name'])
    sigs.sort(key=lambda item: item[0])
    return sigs


def _find_handle(stack, ref):
    for res in stack['resources'].values():
        if res['type'] == 'OS::Heat::WaitConditionHandle' and \
                ref in (res.get('physical_id'), res['name']):
            return res
    return None


class WaitCondition(rbase.Resource):
    properties = {'handle': P(required=True),
                  'timeout': P(p.NUMBER, required=True, min=1, max=43200),
                  'count': P(p.INTEGER, min=1)}
    attributes = ('data',)

    def create(self, cloud, stack, res):
        super().create(cloud, stack, res)
        if _find_handle(stack, res['props']['handle']) is None:
            rbase.fail(res, 'NotFound', 'The WaitConditionHandle (%s) could '
                       'not be found.' % res['props']['handle'])

    def update(self, cloud, stack, res, props):
        super().update(cloud, stack, res, props)
        res['data'].pop('completed', None)

    def _progress(self, cloud, stack, res):
        """(status, reason, time, successful signals so far)."""
        done = (res.get('data') or {}).get('completed')
        if done is not None:
            # Complete stays complete: a node removed later (a resize)
            # takes its signal with it, not the condition's state.
            return 'COMPLETE', '', done[0], done[1]
        handle = _find_handle(stack, res['props']['handle'])
        count = int(res['props'].get('count') or 1)
        t = st.now()
        # By id, as Heat keeps them: a signal repeated with its id (a node
        # retrying one whose answer it lost) replaces the first and counts
        # once.
        successes = {}
        for when, sig in _all_signals(cloud, stack, handle or {'data': {},
                                                                'name': ''}):
            if when > t:
                break
            if sig['status'] == 'FAILURE':
                return ('FAILED', 'WaitConditionFailure: resources.%s: %s'
                        % (res['name'], sig['reason'] or 'Signal 1 received'),
                        when, list(successes.values()))
            successes[sig['id']] = sig
            if len(successes) >= count:
                when = max(when, res['ready_at'])
                done = list(successes.values())
                res.setdefault('data', {})['completed'] = [when, done]
                return 'COMPLETE', '', when, done
        deadline = res['started_at'] + float(res['props']['timeout'])
        if t >= deadline:
            return ('FAILED', 'WaitConditionTimeout: resources.%s: %d of %d '
                    'received' % (res['name'], len(successes), count),
                    deadline, list(successes.values()))
        return 'IN_PROGRESS', '', None, list(successes.values())

    def state(self, cloud, stack, res):
        if res.get('failed'):
            return 'FAILED', res['failed'], res['started_at']
        return self._progress(cloud, stack, res)[:3]

    def attr(self, cloud, stack, res, name, path):
        if name != 'data' or res.get('failed'):
            return super().attr(cloud, stack, res, name, path)
        sigs = self._progress(cloud, stack, res)[3]
        return hot._dig(json.dumps({s['id']: s['data'] for s in sigs}), path)


# software configuration ------------------------------------------------------
class SoftwareConfig(rbase.Recorded):
    """SoftwareConfig, CloudConfig and MultipartMime: attribute config."""

    kind = 'software_configs'
    attributes = ('config',)

    def __init__(self, properties):
        self.properties = properties

    def record(self, cloud, stack, res):
        return {'config': config_text(cloud, res['props']),
                'group': res['props'].get('group') or 'Heat::Ungrouped',
                'inputs': [i.get('name') for i in
                           res['props'].get('inputs') or []],
                'outputs': res['props'].get('outputs') or []}


def _subtype(text):
    if text.lstrip().startswith('#cloud-config'):
        return 'cloud-config'
    if text.lstrip().startswith('#!'):
        return 'x-shellscript'
    return 'plain'


def config_text(cloud, props):
    """The config of a SoftwareConfig, CloudConfig or MultipartMime: a
    MultipartMime is a MIME multipart archive of its parts (each a config
    id or a literal text), as cloud-init reads it."""
    if 'cloud_config' in props:
        return '#cloud-config\n' + yaml.safe_dump(
            props['cloud_config'] or {}, default_flow_style=False)
    if 'parts' not in props:
        return props.get('config')
    archive = multipart.MIMEMultipart()
    for i, part in enumerate(props.get('parts') or []):
        config = part.get('config')
        rec = cloud.data['software_configs'].get(config)
        text = rec['config'] if rec is not None else hot._text(config)
        if part.get('type') == 'multipart':
            for sub in email.message_from_string(text).walk():
                if not sub.is_multipart():
                    archive.attach(sub)
            continue
        item = mime_text.MIMEText(text, part.get('subtype') or
                                  _subtype(text), 'utf-8')
        item.add_header('Content-Disposition', 'attachment',
                        filename=part.get('filename') or 'part-%d' % i)
        archive.attach(item)
    return archive.as_string()


SOFTWARE_CONFIG = {
    'config': P(), 'group': P(), 'options': P(p.MAP),
    'inputs': P(p.LIST, items=P(p.MAP, keys={
        'name': P(required=True), 'type': P(allowed=[
            'String', 'Number', 'CommaDelimitedList', 'Json', 'Boolean']),
        'description': P(), 'default': P(p.ANY),
        'replace_on_change': P(p.BOOLEAN)})),
    'outputs': P(p.LIST, items=P(p.MAP, keys={
        'name': P(required=True), 'type': P(), 'description': P(),
        'error_output': P(p.BOOLEAN)}))}


class SoftwareDeployment(rbase.Resource):
    properties = {
        'config': P(), 'server': P(required=True),
        'input_values': P(p.MAP), 'name': P(),
        'actions': P(p.LIST, items=P(allowed=[
            'CREATE', 'UPDATE', 'DELETE', 'SUSPEND', 'RESUME'])),
        'signal_transport': P(allowed=SIGNAL_TRANSPORTS)}
    attributes = ('deploy_stdout', 'deploy_stderr', 'deploy_status_code')

    def has_attribute(self, name, definition, files):
        # Outputs of the config are attributes too; Heat cannot tell either.
        return True

    def create(self, cloud, stack, res):
        super().create(cloud, stack, res)
        props = res['props']
        if cloud.server(props['server']) is None:
            return rbase.fail(res, 'NotFound', 'The server (%s) could not '
                              'be found.' % props['server'])
        if props.get('config') and \
                props['config'] not in cloud.data['software_configs']:
            return rbase.fail(res, 'NotFound', 'The config (%s) could not '
                              'be found.' % props['config'])

    def state(self, cloud, stack, res):
        status, reason, when = super().state(cloud, stack, res)
        if status != 'COMPLETE' or \
                res['props'].get('signal_transport') == 'NO_SIGNAL':
            return status, reason, when
        ran = server_has_run(cloud, cloud.server(res['props']['server']))
        if ran is None:
            return 'IN_PROGRESS', '', None
        return 'COMPLETE', '', max(when, ran)

    def attr(self, cloud, stack, res, name, path):
        values = {'deploy_stdout': '', 'deploy_stderr': '',
                  'deploy_status_code': 0}
        return hot._dig(values.get(name), path)


TYPES = {
    'OS::Heat::WaitConditionHandle': WaitConditionHandle(),
    'OS::Heat::WaitCondition': WaitCondition(),
    'OS::Heat::SoftwareConfig': SoftwareConfig(SOFTWARE_CONFIG),
    'OS::Heat::CloudConfig': SoftwareConfig({'cloud_config': P(p.MAP)}),
    'OS::Heat::MultipartMime': SoftwareConfig({
        'parts': P(p.LIST, items=P(p.MAP, keys={
            'config': P(), 'filename': P(), 'subtype': P(),
            'type': P(allowed=['text', 'multipart'])})),
        'group': P()}),
    'OS::Heat::SoftwareDeployment': SoftwareDeployment(),
}


# HTTP ------------------------------------------------------------------------
def _stacks_under(stack):
    yield stack
    for res in stack['resources'].values():
        if res.get('nested'):
            yield from _stacks_under(res['nested'])


def find_stack(cloud, stack_id):
    """(root, stack) of a stack or nested stack by id, or (None, None)."""
    root = cloud.data['stacks'].get(stack_id)
    if root is not None:
        return root, root
    for root in cloud.data['stacks'].values():
        for stack in _stacks_under(root):
            if stack['id'] == stack_id:
                return root, stack
    return None, None


def node_failed(cloud, srv, reason):
    """A FAILURE signal from ``srv`` to every handle its user data names
    (a real node whose boot failed before its bootstrap could say so)."""
    for stack_id, handle_name in srv.get('signals') or ():
        root, stack = find_stack(cloud, stack_id)
        res = stack['resources'].get(handle_name) if stack else None
        if res is None or not res.get('data'):
            continue
        signal(res, {'id': srv['name'], 'status': 'FAILURE',
                     'reason': reason})
        cloud.touch('stacks', root['id'])


def resource_signal(app, req, project_id, stack_name, stack_id, resource):
    """POST .../resources/<handle>/signal: what a node's curl_cli sends.

    The caller shows the handle's token (or a Keystone token of the
    project) in X-Auth-Token, as with Heat's token signal transport."""
    cloud = app.cloud
    token = req.headers.get('X-Auth-Token')
    with cloud.lock:
        root, stack = find_stack(cloud, stack_id)
        res = stack['resources'].get(resource) if stack else None
        if res is None or stack['project_id'] != project_id or \
                stack['name'] != stack_name:
            raise ApiError(404, 'The Resource (%s) could not be found.'
                           % resource, 'EntityNotFound')
        keystone = cloud.token(token)
        if token != (res.get('data') or {}).get('token') and (
                keystone is None or keystone['project_id'] != project_id):
            raise ApiError(401, 'The request you have made requires '
                                'authentication.', 'Unauthorized')
        if res['type'] != 'OS::Heat::WaitConditionHandle':
            raise ApiError(400, 'Resource %s is not a wait condition '
                                'handle.' % resource,
                           'ResourceActionNotSupported')
        try:
            body = req.json_body if req.body else {}
        except ValueError:
            raise ApiError(400, 'The request body is not JSON.')
        try:
            signal(res, body)
        except hot.HOTError as exc:
            raise ApiError(400, exc.message, exc.error_type)
        cloud.touch('stacks', root['id'])
        cloud.save()
    return web.json_response(None, status=200)
