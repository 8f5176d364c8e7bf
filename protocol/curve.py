"""CURVE security for the transport (PROTOCOL.md §2): the sink is the CURVE server, ranks and
viewers are clients that know its public key, and the sink lets in only clients whose public
key is in its list (a folder of public key files, checked by ZeroMQ's ZAP authenticator).

Keys are ZeroMQ's certificate files (`zmq.auth.create_certificates`): NAME.key holds a public
key and may be handed out; NAME.key_secret holds the key pair and stays with its owner (mode
0600). A loopback endpoint needs no keys; any other bind must be secured, or explicitly allowed
insecure (`require_secure_bind`), because a plain ZeroMQ port takes frames from anyone who can
reach it and a plain publisher gives the run to anyone who subscribes.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils.monitor import recv_monitor_message

HANDSHAKE_FAILURES = {
    zmq.EVENT_HANDSHAKE_FAILED_AUTH: "key not authorised",
    zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL: "handshake protocol error",
    zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL: "failed handshake (plain-text or wrong-key client)",
}
"""Monitor events of a refused connection -> the reason counted for it."""


class KeyFileError(ValueError):
    """A key file or folder that is missing or not a ZeroMQ certificate: named in one line."""


class InsecureBindError(ValueError):
    """A non-loopback endpoint without CURVE keys and without --insecure."""


def create_key_pair(directory: Path, name: str) -> tuple[Path, Path]:
    """Writes DIRECTORY/NAME.key (public) and NAME.key_secret (mode 0600); refuses to overwrite."""
    public, secret = directory / f"{name}.key", directory / f"{name}.key_secret"
    for path in (public, secret):
        if path.exists():
            raise KeyFileError(f"{path} exists: a key pair is never overwritten (delete it first to replace it)")
    directory.mkdir(parents=True, exist_ok=True)
    umask = os.umask(0o077)  # the secret file is private from its first byte, not after a chmod
    try:
        public_made, secret_made = zmq.auth.create_certificates(str(directory), name)
    finally:
        os.umask(umask)
    os.chmod(secret_made, 0o600)
    os.chmod(public_made, 0o644)
    return Path(public_made), Path(secret_made)


def _load(path: Path, *, secret: bool) -> tuple[bytes, bytes | None]:
    if not path.is_file():
        raise KeyFileError(f"key file not found: {path}")
    try:
        public, secret_key = zmq.auth.load_certificate(str(path))
    except (ValueError, OSError) as error:
        raise KeyFileError(f"{path} is not a ZeroMQ certificate file (make one with `stratlog keys`): {error}") from None
    if secret and secret_key is None:
        raise KeyFileError(f"{path} holds no secret key: give the NAME.key_secret file made by `stratlog keys`")
    return public, secret_key


@dataclass(frozen=True)
class ServerKeys:
    """The sink's key pair and the folder of the public keys it lets in."""

    public: bytes
    secret: bytes
    clients_dir: Path

    @classmethod
    def load(cls, secret_file: Path, clients_dir: Path) -> ServerKeys:
        public, secret = _load(Path(secret_file), secret=True)
        clients_dir = Path(clients_dir)
        if not clients_dir.is_dir() or not any(clients_dir.glob("*.key")):
            raise KeyFileError(f"no client public keys (*.key) in {clients_dir}: put the .key file of every rank "
                               "and viewer allowed in there")
        return cls(public, secret, clients_dir)


@dataclass(frozen=True)
class ClientKeys:
    """A rank's or viewer's key pair and the public key of the sink it trusts."""

    public: bytes
    secret: bytes
    server_public: bytes

    @classmethod
    def load(cls, server_key_file: Path, client_secret_file: Path) -> ClientKeys:
        server_public, _ = _load(Path(server_key_file), secret=False)
        public, secret = _load(Path(client_secret_file), secret=True)
        return cls(public, secret, server_public)

    def secure(self, socket: zmq.Socket) -> None:
        """Call before connect."""
        socket.curve_publickey = self.public
        socket.curve_secretkey = self.secret
        socket.curve_serverkey = self.server_public


class SecuredServer:
    """CURVE on one bound socket: its ZAP authenticator (one thread per context) admits the
    listed client keys, and a monitor reports refused handshakes so the sink can count them."""

    def __init__(self, context: zmq.Context, socket: zmq.Socket, keys: ServerKeys):
        self._authenticator = ThreadAuthenticator(context)
        self._authenticator.start()
        self._authenticator.configure_curve(domain="*", location=str(keys.clients_dir))
        socket.curve_secretkey = keys.secret
        socket.curve_publickey = keys.public
        socket.curve_server = True
        self._monitor = socket.get_monitor_socket(sum(HANDSHAKE_FAILURES))
        self._socket = socket

    def take_refusals(self) -> list[str]:
        """Reasons of the connections refused since the last call (never waits)."""
        reasons = []
        while self._monitor.poll(0):
            event = recv_monitor_message(self._monitor)
            if event["event"] in HANDSHAKE_FAILURES:
                reasons.append(HANDSHAKE_FAILURES[event["event"]])
        return reasons

    def close(self) -> None:
        """Before the socket closes."""
        self._socket.disable_monitor()
        self._monitor.close()
        self._authenticator.stop()


def is_loopback(endpoint: str) -> bool:
    """True for endpoints only this host can reach: ipc://, inproc://, and tcp:// on 127.0.0.0/8,
    ::1 or localhost."""
    transport, _, rest = endpoint.partition("://")
    if transport in ("ipc", "inproc"):
        return True
    host = rest.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # "*", an interface name or a host name: reachable from elsewhere


def require_secure_bind(endpoint: str, *, secured: bool, insecure: bool, option: str) -> None:
    """Raises InsecureBindError for a non-loopback `endpoint` that is neither secured nor allowed insecure."""
    if not secured and not insecure and not is_loopback(endpoint):
        raise InsecureBindError(
            f"{option} {endpoint} is reachable from other hosts: give CURVE keys (--curve-secret and --curve-clients; "
            "make them with `stratlog keys`) or pass --insecure to accept frames from anyone who can reach it")
