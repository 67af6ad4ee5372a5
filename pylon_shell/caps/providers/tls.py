"""The tls cap's host provider: TLS sessions on the host's OpenSSL (the ssl module).

The guest's SSLContext is only settings; at the handshake they become a host
`ssl.SSLContext` that always verifies the peer's certificate and name, with
the host's trust store or the CA certificates the guest loaded (which it read
from its own files, so guest paths never reach the host). A context that asks
for no verification is refused: checks are never silently off.
"""

from __future__ import annotations

import _ssl
import http.client
import json
import os
import ssl
import tempfile
import threading
from collections import OrderedDict
from typing import Any
from urllib.parse import urlsplit

from pylon_shell.caps.grants import Grants
from pylon_shell.caps.hosts import target as host_target
from pylon_shell.caps.providers.net import NetProvider, failure
from pylon_shell.caps.values import ProviderError

CAP = "tls"
#: Contexts kept by their settings: loading a trust store costs milliseconds.
_CACHED_CONTEXTS = 16
#: The most a MicroPython https request may read back.
MAX_RESPONSE = 256 << 20


def constants() -> dict[str, Any]:
    """The host _ssl module's constants, for the guest's _ssl."""
    out: dict[str, Any] = {}
    for name in dir(_ssl):
        value = getattr(_ssl, name)
        if (
            name[:1].isupper() or name in ("_DEFAULT_CIPHERS", "_OPENSSL_API_VERSION")
        ) and isinstance(value, (int, str, bool, tuple)):
            out[name] = value
    fresh = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # What a new context starts with, so the guest's SSLContext reads the same.
    out["_defaults"] = {
        "options": int(fresh.options),
        "verify_flags": int(fresh.verify_flags),
        "minimum_version": int(fresh.minimum_version),
        "maximum_version": int(fresh.maximum_version),
        "security_level": fresh.security_level,
        "host_flags": fresh._host_flags,  # type: ignore[attr-defined]
    }
    # ssl.Purpose looks these up when the guest imports ssl.
    out["_objects"] = [_ssl.txt2obj(oid) for oid in ("1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2")]
    return out


def refusal(settings: dict[str, Any]) -> str | None:
    """Why these settings cannot be used, or None."""
    if settings.get("server_side"):
        return "the tls cap makes client connections only; TLS servers are not supported"
    if settings.get("verify_mode") != ssl.CERT_REQUIRED:
        return (
            "the tls cap never turns certificate checks off (this context does not require "
            "a certificate); trust the server's CA with load_verify_locations instead"
        )
    if not settings.get("check_hostname"):
        return (
            "the tls cap never turns certificate checks off (check_hostname is False); "
            "connect with the name the certificate is for"
        )
    return None


def build_context(settings: dict[str, Any]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    # The guest may make the checks stricter, never looser.
    context.verify_flags |= int(settings.get("verify_flags", 0))
    context.options |= int(settings.get("options", 0))
    for name in ("minimum_version", "maximum_version"):
        if settings.get(name) is not None:
            setattr(context, name, ssl.TLSVersion(int(settings[name])))
    if settings.get("ciphers"):
        context.set_ciphers(settings["ciphers"])
    if settings.get("alpn"):
        context.set_alpn_protocols(settings["alpn"])
    if settings.get("host_flags") is not None:
        context.hostname_checks_common_name = not (
            int(settings["host_flags"]) & _ssl.HOSTFLAG_NEVER_CHECK_SUBJECT
        )
    if settings.get("default_certs"):
        context.load_default_certs()
    for cadata in settings.get("cadata", []):
        context.load_verify_locations(
            cadata=bytes.fromhex(cadata["der"]) if "der" in cadata else cadata["pem"]
        )
    chain = settings.get("cert_chain")
    if chain:
        _load_cert_chain(context, chain)
    return context


def _load_cert_chain(context: ssl.SSLContext, chain: dict[str, Any]) -> None:
    """A client certificate: ssl loads it only from files, so the guest's PEM
    goes to a private temporary file for the time of the call."""
    with tempfile.TemporaryDirectory(prefix="pylon-tls-") as folder:
        certfile = os.path.join(folder, "cert.pem")
        with open(os.open(certfile, os.O_WRONLY | os.O_CREAT, 0o600), "w") as out:
            out.write(chain["cert"])
        keyfile = None
        if chain.get("key"):
            keyfile = os.path.join(folder, "key.pem")
            with open(os.open(keyfile, os.O_WRONLY | os.O_CREAT, 0o600), "w") as out:
                out.write(chain["key"])
        context.load_cert_chain(certfile, keyfile, chain.get("password"))


def session_info(sock: ssl.SSLSocket) -> dict[str, Any]:
    der = sock.getpeercert(binary_form=True)
    binding = sock.get_channel_binding("tls-unique")
    return {
        "version": sock.version(),
        "cipher": sock.cipher(),
        "shared_ciphers": sock.shared_ciphers(),
        "alpn": sock.selected_alpn_protocol(),
        "peercert": sock.getpeercert(),
        "peercert_der": der.hex() if der else None,
        "tls_unique": binding.hex() if binding else None,
    }


class TLSProvider:
    def __init__(self, grants: Grants, net: NetProvider) -> None:
        self._grants = grants
        self._net = net
        self._contexts: OrderedDict[str, ssl.SSLContext] = OrderedDict()
        self._lock = threading.Lock()

    def context(self, settings_json: str) -> ssl.SSLContext:
        with self._lock:
            cached = self._contexts.get(settings_json)
            if cached is not None:
                self._contexts.move_to_end(settings_json)
                return cached
        try:
            settings = json.loads(settings_json)
        except ValueError:
            raise ProviderError("SSLError", "the guest's TLS settings are not JSON") from None
        problem = refusal(settings)
        if problem:
            raise ProviderError("PermissionError", problem)
        try:
            context = build_context(settings)
        except ssl.SSLError as error:
            raise failure(error) from None
        except (ValueError, TypeError, KeyError) as error:
            raise ProviderError("SSLError", f"bad TLS settings: {error}") from None
        with self._lock:
            self._contexts[settings_json] = context
            while len(self._contexts) > _CACHED_CONTEXTS:
                self._contexts.popitem(last=False)
        return context

    def handshake(self, handle: int, settings_json: str, server_hostname: str | None) -> str:
        connection = self._net.get(handle)
        with self._grants.call(CAP, "handshake", connection.target) as how:
            context = self.context(settings_json)
            if not server_hostname:
                raise ProviderError("ValueError", "check_hostname requires server_hostname")
            if connection.tls:
                raise ProviderError("ValueError", "the connection already carries TLS")
            try:
                wrapped = context.wrap_socket(
                    connection.sock, server_hostname=server_hostname, do_handshake_on_connect=False
                )
                connection.sock = wrapped
                connection.tls, connection.cap, connection.decided_by = True, CAP, how
                wrapped.do_handshake()
                return json.dumps(session_info(wrapped))
            except (OSError, ValueError) as error:
                raise failure(error) from None

    def unwrap(self, handle: int) -> None:
        connection = self._net.get(handle)
        if not isinstance(connection.sock, ssl.SSLSocket):
            raise ProviderError("ValueError", "the connection does not carry TLS")
        try:
            connection.sock = connection.sock.unwrap()
        except (OSError, ValueError) as error:
            raise failure(error) from None
        connection.tls = False
        # What follows is plaintext: it needs net, as on a TLS-only connection.
        connection.cap = "tls"

    def https(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        settings_json: str,
        timeout: float | None,
        body: bytes,
    ) -> bytes:
        """One HTTPS request for MicroPython (which has no socket or ssl
        module): checked as a TLS connection to the URL's host:port. The
        response as a JSON line (status, reason, headers) and the body."""
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise ProviderError("ValueError", f"not an https:// URL: {url!r}")
        port = parts.port or 443
        where = host_target(parts.hostname, port)
        with self._grants.call(CAP, "https", where):
            context = self.context(settings_json)
            path = parts.path or "/"
            if parts.query:
                path += "?" + parts.query
            conn = http.client.HTTPSConnection(
                parts.hostname, port, timeout=timeout, context=context
            )
            try:
                conn.request(method, path, body=body or None, headers=headers)
                response = conn.getresponse()
                data = response.read(MAX_RESPONSE + 1)
                if len(data) > MAX_RESPONSE:
                    raise ProviderError("MemoryError", "the response is larger than 256 MiB")
                head = {
                    "status": response.status,
                    "reason": response.reason,
                    "headers": response.getheaders(),
                    "url": url,
                }
            except (OSError, ValueError, http.client.HTTPException) as error:
                if isinstance(error, http.client.HTTPException):
                    raise ProviderError("OSError", f"{type(error).__name__}: {error}") from None
                raise failure(error) from None
            finally:
                conn.close()
        return json.dumps(head).encode() + b"\n" + data
