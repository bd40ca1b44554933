"""Local HTTPS stand-ins of a cluster's COE API (Kubernetes, Docker).

Each listens on its own loopback address with a server certificate the
cluster's CA signed (or another CA, to be refused), asks every client for a
certificate that CA signed, and records what was asked of it and by whom.
"""

import datetime
import http.server
import ipaddress
import json
import socket
import ssl
import tempfile
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.oid import NameOID

from caas.db import certificates as ca_db
from caas.pki import keystore


def cluster_ca(cluster_uuid, ca_type='kubernetes'):
    """(CA certificate PEM, CA key) of a cluster, from the database."""
    row = ca_db.get_ca(cluster_uuid, ca_type)
    key = serialization.load_pem_private_key(
        keystore.decrypt(row.encrypted_key, cluster_uuid), password=None)
    return row.cert_pem, key


def server_pem(ca_pem, ca_key, host):
    """A server certificate and key (one PEM) for ``host``."""
    ca_cert = x509.load_pem_x509_certificate(ca_pem.encode())
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(
                NameOID.COMMON_NAME, 'kube-apiserver')]))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(host))]),
                critical=False)
            .add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM) + key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())


def k8s_routes(nodes):
    """/healthz and /api/v1/nodes of a cluster whose nodes are
    {name: Ready status}."""
    items = [{'metadata': {'name': name},
              'status': {'conditions': [
                  {'type': 'MemoryPressure', 'status': 'False'},
                  {'type': 'Ready', 'status': ready}]}}
             for name, ready in nodes.items()]
    return {'/healthz': (200, b'ok'),
            '/api/v1/nodes': (200, json.dumps(
                {'kind': 'NodeList', 'items': items}).encode())}


def swarm_routes(nodes):
    """/_ping and /nodes of a swarm whose nodes are {hostname: state}."""
    items = [{'ID': 'id-%s' % name, 'Description': {'Hostname': name},
              'Status': {'State': state}, 'Spec': {'Role': 'worker'}}
             for name, state in nodes.items()]
    return {'/_ping': (200, b'OK'), '/nodes': (200, json.dumps(
        items).encode())}


class StandIn:
    """An HTTPS COE API on ``host`` (a loopback address).

    :param hang: accept connections and never answer (not even TLS).
    """

    def __init__(self, host, client_ca_pem, server_ca_pem, server_ca_key,
                 routes, hang=False):
        self.host, self.routes, self.hang = host, routes, hang
        self.requests = []     # (path, client certificate CN)
        self.connections = 0
        self._dir = tempfile.TemporaryDirectory()
        chain = '%s/server.pem' % self._dir.name
        with open(chain, 'wb') as handle:
            handle.write(server_pem(server_ca_pem, server_ca_key, host))
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(chain)
        self.context.verify_mode = ssl.CERT_REQUIRED
        self.context.load_verify_locations(cadata=client_ca_pem)
        self._server = None
        self._held = []

    @property
    def port(self):
        return self._server.server_address[1]

    def url(self, scheme='https'):
        return '%s://%s:%d' % (scheme, self.host, self.port)

    def start(self):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                subject = dict(x[0] for x in
                               self.connection.getpeercert()['subject'])
                outer.requests.append((self.path, subject.get('commonName')))
                status, body = outer.routes.get(self.path, (404, b'nope'))
                self.send_response(status)
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):
                sock, addr = self.socket.accept()
                outer.connections += 1
                if outer.hang:
                    outer._held.append(sock)
                    raise OSError('held')
                return outer.context.wrap_socket(sock, server_side=True), \
                    addr

        self._server = Server((self.host, 0), Handler)
        threading.Thread(target=self._server.serve_forever,
                         kwargs={'poll_interval': 0.05},
                         daemon=True).start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
        for sock in self._held:
            try:
                sock.close()
            except OSError:
                pass
        self._dir.cleanup()


def free_loopback(n):
    """A loopback address other than 127.0.0.1 (spread the stand-ins)."""
    return '127.0.%d.%d' % (n // 250, 2 + n % 250)


def refuses(host, port):
    with socket.socket() as sock:
        return sock.connect_ex((host, port)) != 0
