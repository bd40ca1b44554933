"""What a server's first boot would read in its user data.

Used by the simulated servers (to find the wait-condition handles their
bootstrap would signal) and by the checkers of tests/checks.py (to give
every shell script, cloud-config and Ignition config to the real tool).
``parts`` unwraps what cloud-init and Ignition unwrap: base64 and gzip,
MIME multipart archives, ``#cloud-config`` (its ``write_files``),
Ignition JSON (its files' ``data:`` URLs and its systemd units).
"""

import base64
import binascii
import collections
import email
import gzip
import json
import re
import urllib.parse

import yaml

Part = collections.namedtuple('Part', 'kind name text')
SHELL = re.compile(r'^#!\s*(/usr)?/bin/(env\s+)?(ba|da|k)?sh\b')
# libyaml's loader where PyYAML has it: a server's cloud-config is read
# at every server create, and PyYAML's pure-Python scanner was half of the
# simulated cloud's time during a fill of caas-all.
SAFE_LOADER = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)


def _decode_bytes(raw):
    if raw[:2] == b'\x1f\x8b':
        raw = gzip.decompress(raw)
    return raw.decode('utf-8')


def _maybe_base64(text):
    stripped = ''.join(text.split())
    if len(stripped) < 8 or len(stripped) % 4 or \
            not re.match(r'^[A-Za-z0-9+/]+=*$', stripped):
        return None
    try:
        return _decode_bytes(base64.b64decode(stripped, validate=True))
    except (binascii.Error, UnicodeDecodeError, OSError, EOFError):
        return None


def data_url(source):
    """The text of a ``data:`` URL (RFC 2397), None for other URLs."""
    if not isinstance(source, str) or not source.startswith('data:'):
        return None
    meta, _, payload = source[5:].partition(',')
    if meta.endswith(';base64'):
        return _decode_bytes(base64.b64decode(payload))
    return urllib.parse.unquote(payload)


def _ignition(doc, name):
    for i, item in enumerate((doc.get('storage') or {}).get('files') or []):
        sources = [item.get('contents') or {}] + list(item.get('append')
                                                      or [])
        for source in sources:
            text = data_url(source.get('source'))
            if text is None:
                continue
            if source.get('compression') == 'gzip':
                text = _decode_bytes(text.encode('latin-1'))
            yield from parts(text, '%s:%s' % (name, item.get('path', i)))
    for unit in (doc.get('systemd') or {}).get('units') or []:
        if unit.get('contents'):
            yield Part('systemd', '%s:%s' % (name, unit.get('name')),
                       unit['contents'])


def _cloud_config(doc, name):
    for i, item in enumerate(doc.get('write_files') or []):
        content = item.get('content') or ''
        encoding = str(item.get('encoding') or '').lower()
        if 'b64' in encoding or 'base64' in encoding:
            raw = base64.b64decode(content)
            content = _decode_bytes(raw)
        elif encoding in ('gz', 'gzip'):
            content = _decode_bytes(content.encode('latin-1'))
        yield from parts(content, '%s:%s' % (name, item.get('path', i)))


def parts(data, name='user_data'):
    """Every Part the boot would read: (kind, name, text) with kind one of
    shell, cloud-config, ignition, mime, systemd or text."""
    if data is None:
        return
    if isinstance(data, bytes):
        data = _decode_bytes(data)
    text = data.lstrip()
    if text.startswith('Content-Type:') or text.startswith('MIME-Version:'):
        yield Part('mime', name, data)
        message = email.message_from_string(text)
        for i, part in enumerate(message.walk()):
            if part.is_multipart():
                continue
            raw = part.get_payload(decode=True) or b''
            yield from parts(_decode_bytes(raw), '%s:%s' % (
                name, part.get_filename() or 'part-%d' % i))
        return
    if text.startswith('#cloud-config'):
        yield Part('cloud-config', name, data)
        doc = yaml.load(text, Loader=SAFE_LOADER)
        if isinstance(doc, dict):
            yield from _cloud_config(doc, name)
        return
    if SHELL.match(text):
        yield Part('shell', name, data)
        return
    if text.startswith('{'):
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get('ignition'), dict):
            yield Part('ignition', name, data)
            yield from _ignition(doc, name)
            return
    decoded = _maybe_base64(text)
    if decoded is not None:
        yield from parts(decoded, name)
        return
    yield Part('text', name, data)
