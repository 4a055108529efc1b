"""Pebble, the ACME test server (Debian's ``pebble`` package, unpacked, not installed), for
the tls role's ``acme`` certificate source.

``pebble_ca(directory, http_port)`` runs Pebble on loopback with a TLS certificate of a
throw-away CA (certbot is told to trust it through ``REQUESTS_CA_BUNDLE``), beside
``pebble-challtestsrv`` as its DNS server, which answers 127.0.0.1 for every name: the
HTTP-01 challenge for any host name reaches ``http_port`` on this machine, where the
tls role's nginx site serves ``/.well-known/acme-challenge/``. Pebble checks every
challenge for real (:data:`PEBBLE_ENV` only turns off its random wait and bad nonces).
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from scripts.demo_idp import free_port
from tests.monitoring.debian_tools import debian_tool

#: Pebble's test knobs: no random wait before it checks a challenge, and none of the
#: bad nonces it otherwise sends on 5% of requests to test clients' retries. Debian 12's
#: certbot (2.1) crashes on a bad nonce ("AttributeError: can't set attribute" in
#: josepy); the role retries the first request for that reason, but the test's own
#: certbot calls must not depend on chance.
PEBBLE_ENV = {"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}


@dataclass
class PebbleCA:
    """A running Pebble: its ACME directory URL, the CA file that trusts its HTTPS
    listener, and its management API (the roots and intermediates it issues under)."""

    directory_url: str
    ca_bundle: Path
    management_url: str

    def intermediate(self) -> x509.Certificate:
        """The intermediate certificate Pebble signs leaf certificates with."""
        context = ssl.create_default_context(cafile=str(self.ca_bundle))
        with urllib.request.urlopen(f"{self.management_url}/intermediates/0",
                                    context=context, timeout=10) as response:
            return x509.load_pem_x509_certificate(response.read())


def write_listener_certificate(directory: Path) -> tuple[Path, Path, Path]:
    """A CA, and a certificate for 127.0.0.1 signed by it: (ca, certificate, key) files."""
    now = datetime.datetime.now(datetime.UTC)
    valid = {"not_valid_before": now - datetime.timedelta(minutes=5),
             "not_valid_after": now + datetime.timedelta(days=1)}
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acme test listener CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(valid["not_valid_before"]).not_valid_after(valid["not_valid_after"])
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(valid["not_valid_before"]).not_valid_after(valid["not_valid_after"])
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = (directory / "listener-ca.pem", directory / "listener.pem", directory / "listener.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def wait_for_port(port: int, timeout: float = 20) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")
        time.sleep(0.2)


@contextlib.contextmanager
def pebble_ca(directory: Path, http_port: int):
    """Pebble and its DNS server on loopback for the duration of the block."""
    pebble = debian_tool("pebble", "pebble")
    challtestsrv = debian_tool("pebble", "pebble-challtestsrv")
    ca, cert, key = write_listener_certificate(directory)
    ports = {name: free_port() for name in ("acme", "management", "dns", "dns_management",
                                            "tls_alpn")}
    config = directory / "pebble.json"
    config.write_text(json.dumps({"pebble": {
        "listenAddress": f"127.0.0.1:{ports['acme']}",
        "managementListenAddress": f"127.0.0.1:{ports['management']}",
        "certificate": str(cert), "privateKey": str(key),
        "httpPort": http_port, "tlsPort": ports["tls_alpn"],
        "ocspResponderURL": "", "externalAccountBindingRequired": False,
    }}))
    logs = [open(directory / name, "wb") for name in ("challtestsrv.log", "pebble.log")]  # noqa: SIM115
    processes = []
    try:
        processes.append(subprocess.Popen(
            [challtestsrv, "-dns01", f"127.0.0.1:{ports['dns']}", "-http01", "",
             "-https01", "", "-tlsalpn01", "", "-defaultIPv6", "",
             "-management", f"127.0.0.1:{ports['dns_management']}"],
            stdout=logs[0], stderr=subprocess.STDOUT))
        processes.append(subprocess.Popen(
            [pebble, "-config", str(config), "-dnsserver", f"127.0.0.1:{ports['dns']}"],
            stdout=logs[1], stderr=subprocess.STDOUT, env=PEBBLE_ENV))
        wait_for_port(ports["acme"])
        wait_for_port(ports["management"])
        yield PebbleCA(f"https://127.0.0.1:{ports['acme']}/dir", ca,
                       f"https://127.0.0.1:{ports['management']}")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        for log in logs:
            log.close()
