"""TLS for COE probes: a client certificate from the cluster's CA, and a
GET that trusts only that CA.

The client key is made and signed in memory and handed to OpenSSL through
an anonymous memory file (``memfd``), so no key touches the disk; one
context per cluster and CA certificate is kept for a day (a CA rotation
changes the certificate, so the next probe builds a new one).
"""

import hashlib
import http.client
import json
import os
import socket
import ssl
import tempfile
import threading
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from caas.db import certificates as ca_db
from caas.pki import authority
from caas.pki import ca_types

# The identity probes present: Kubernetes maps O to a group. Listing nodes
# needs more than system:monitoring; the drivers' bootstrap grants the
# cluster's CA holders cluster-admin through system:masters, as Magnum's
# conductor certificate has.
SUBJECT = x509.Name([
    x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'system:masters'),
    x509.NameAttribute(NameOID.COMMON_NAME, 'caas-health-monitor')])
CONTEXT_TTL = 12 * 3600
MAX_BODY = 8 * 1024 * 1024

_contexts = {}      # cluster uuid -> (CA digest, made at, SSLContext)
_lock = threading.Lock()


class ProbeError(Exception):
    """The API could not be asked (connection, TLS, timeout, size)."""


def _load_chain(context, pem):
    if hasattr(os, 'memfd_create'):
        fd = os.memfd_create('caas-probe-client')
        try:
            os.write(fd, pem)
            context.load_cert_chain('/proc/self/fd/%d' % fd)
        finally:
            os.close(fd)
        return
    with tempfile.NamedTemporaryFile() as handle:  # pragma: no cover
        handle.write(pem)
        handle.flush()
        context.load_cert_chain(handle.name)


def _client_pem(ca_row):
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder().subject_name(SUBJECT)
           .sign(key, hashes.SHA256()))
    cert = authority.sign(ca_row, csr)
    return cert.encode() + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())


def client_context(cluster_uuid, coe='kubernetes'):
    """An SSLContext that trusts only the cluster's CA and presents a
    client certificate it signed."""
    ca_row = ca_db.get_ca(cluster_uuid, ca_types(coe)[0])
    digest = hashlib.sha256(ca_row.cert_pem.encode()).hexdigest()
    now = time.monotonic()
    with _lock:
        cached = _contexts.get(cluster_uuid)
        if cached and cached[0] == digest and now - cached[1] < CONTEXT_TTL:
            return cached[2]
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH,
                                         cadata=ca_row.cert_pem)
    _load_chain(context, _client_pem(ca_row))
    with _lock:
        _contexts[cluster_uuid] = (digest, now, context)
    return context


def forget(cluster_uuid):
    with _lock:
        _contexts.pop(cluster_uuid, None)


def keep_only(cluster_uuids):
    """Drop the contexts of clusters this conductor no longer probes."""
    with _lock:
        for gone in set(_contexts) - set(cluster_uuids):
            del _contexts[gone]


class Client:
    """GETs on one API server: host and port fixed, so a probe can reach
    nothing but the cluster's API address."""

    def __init__(self, host, port, context, timeout):
        self.host, self.port = host, port
        self.context, self.timeout = context, timeout

    def get(self, path):
        """(status, body bytes).

        :raises: ProbeError
        """
        return self.request('GET', path)

    def request(self, method, path, body=None):
        """(status, body bytes) of any request (a node's drain takes a
        POST and a DELETE); ``body`` is sent as JSON.

        :raises: ProbeError
        """
        conn = http.client.HTTPSConnection(self.host, self.port,
                                           context=self.context,
                                           timeout=self.timeout)
        headers = {'Accept': 'application/json'}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers['Content-Type'] = 'application/json'
        try:
            conn.request(method, path, body=payload, headers=headers)
            resp = conn.getresponse()
            answer = resp.read(MAX_BODY + 1)
        except ssl.SSLCertVerificationError as exc:
            raise ProbeError('TLS: certificate verify failed: %s'
                             % exc.verify_message)
        except (OSError, http.client.HTTPException, socket.timeout) as exc:
            raise ProbeError('%s %s:%d: %s' % (
                method, self.host, self.port, exc or type(exc).__name__))
        finally:
            conn.close()
        if len(answer) > MAX_BODY:
            raise ProbeError('%s %s: answer larger than %d bytes'
                             % (method, path, MAX_BODY))
        return resp.status, answer
