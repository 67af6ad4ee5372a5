"""The tls cap's host provider: TLS sessions on the host's OpenSSL (the ssl module).

The guest's SSLContext is only settings; at the handshake they become a host
`ssl.SSLContext` that always verifies the peer's certificate and name, with
the host's trust store or the CA certificates the guest loaded (which it read
from its own files, so guest paths never reach the host). A context that asks
for no verification is refused: checks are never silently off.
"""

from __future__ import annotations

import _ssl
import base64
import functools
import http.client
import itertools
import json
import os
import re
import ssl
import tempfile
import threading
import unicodedata
from collections import OrderedDict
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pylon_shell.caps.grants import Grants
from pylon_shell.caps.hosts import target as host_target
from pylon_shell.caps.net.provider import Connection, NetProvider, checked_host, failure
from pylon_shell.caps.tls import parse as tls_parse
from pylon_shell.caps.values import ProviderError

if TYPE_CHECKING:
    from pylon_shell.caps.registry import ProviderSetup

CAP = "tls"
#: Contexts kept by their settings: loading a trust store costs milliseconds.
_CACHED_CONTEXTS = 16
#: The most a MicroPython https request may read back.
MAX_RESPONSE = 256 << 20


#: The host's TLS policy. A guest's settings can only tighten it: versions
#: are raised to MINIMUM_VERSION, its cipher string is intersected with
#: POLICY_CIPHERS, and verify_flags and options may only add what is in
#: STRICTER_VERIFY_FLAGS and STRICTER_OPTIONS.
MINIMUM_VERSION = ssl.TLSVersion.TLSv1_2
SECURITY_LEVEL = 2
#: CPython's own default (forward-secret AEAD and SHA-2 CBC suites), written
#: out so a Python built with another default does not change the policy, and
#: with every anonymous, NULL and broken family excluded by name as well.
POLICY_CIPHERS = (
    "@SECLEVEL=2:ECDH+AESGCM:ECDH+CHACHA20:ECDH+AES:DHE+AES:!aNULL:!eNULL:!aDSS:!SHA1:!AESCCM"
    ":!EXPORT:!MD5:!RC4:!DES:!3DES:!PSK:!SRP:!kRSA"
)
#: Verify flags a guest may add: each only makes a certificate fail more often.
#: VERIFY_X509_PARTIAL_CHAIN (trust an intermediate as a root) is not among
#: them; CPython 3.13+'s create_default_context sets it, so it is dropped
#: rather than refused. Any other flag (no time check, proxy certificates,
#: ignored critical extensions) is refused.
STRICTER_VERIFY_FLAGS = int(
    ssl.VERIFY_X509_STRICT
    | ssl.VERIFY_CRL_CHECK_LEAF
    | ssl.VERIFY_CRL_CHECK_CHAIN
    | ssl.VERIFY_X509_TRUSTED_FIRST
)
_DROPPED_VERIFY_FLAGS = int(ssl.VERIFY_X509_PARTIAL_CHAIN)
#: Options a guest may add: each only turns something off (a protocol
#: version, compression, tickets, renegotiation) or is a no-op for a client.
STRICTER_OPTIONS = int(
    ssl.OP_NO_SSLv2
    | ssl.OP_NO_SSLv3
    | ssl.OP_NO_TLSv1
    | ssl.OP_NO_TLSv1_1
    | ssl.OP_NO_TLSv1_2
    | ssl.OP_NO_TLSv1_3
    | ssl.OP_NO_COMPRESSION
    | ssl.OP_NO_TICKET
    | ssl.OP_NO_RENEGOTIATION
    | ssl.OP_CIPHER_SERVER_PREFERENCE
    | ssl.OP_SINGLE_DH_USE
    | ssl.OP_SINGLE_ECDH_USE
    | ssl.OP_ENABLE_MIDDLEBOX_COMPAT
)
#: Names for the flags a refusal mentions (OpenSSL's, where ssl has none).
_FLAG_NAMES = {
    "verify_flags": {
        0x2: "X509_V_FLAG_USE_CHECK_TIME",
        0x10: "X509_V_FLAG_IGNORE_CRITICAL",
        0x40: "VERIFY_ALLOW_PROXY_CERTS",
        0x200000: "X509_V_FLAG_NO_CHECK_TIME",
    },
    "options": {
        0x4: "OP_LEGACY_SERVER_CONNECT",
        0x8: "OP_ENABLE_KTLS",
        0x80: "OP_IGNORE_UNEXPECTED_EOF",
        0x400: "OP_ALLOW_NO_DHE_KEX",
        0x40000: "OP_ALLOW_UNSAFE_LEGACY_RENEGOTIATION",
        0x80000: "OP_NO_ENCRYPT_THEN_MAC",
    },
}
_SECLEVEL = re.compile(r"^@SECLEVEL=(\d+)$", re.IGNORECASE)


class PolicyError(ValueError):
    """Settings the host's TLS policy refuses; `kind` is the guest's error class."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def policy_context() -> ssl.SSLContext:
    """A client context with the host's policy and nothing of the guest's."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    context.hostname_checks_common_name = False
    context.minimum_version = MINIMUM_VERSION
    context.set_ciphers(POLICY_CIPHERS)
    return context


def constants() -> dict[str, Any]:
    """The host _ssl module's constants, for the guest's _ssl."""
    out: dict[str, Any] = {}
    for name in dir(_ssl):
        value = getattr(_ssl, name)
        if (
            name[:1].isupper() or name in ("_DEFAULT_CIPHERS", "_OPENSSL_API_VERSION")
        ) and isinstance(value, (int, str, bool, tuple)):
            out[name] = value
    fresh = policy_context()
    # What a new context starts with (the policy), so the guest's SSLContext reads the same.
    out["_defaults"] = {
        "options": int(fresh.options),
        "verify_flags": int(fresh.verify_flags),
        "minimum_version": int(fresh.minimum_version),
        "maximum_version": int(fresh.maximum_version),
        "security_level": fresh.security_level,
        # ssl.SSLContext's private attribute: typeshed leaves it out.
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


def _int(settings: dict[str, Any], name: str) -> int | None:
    value = settings.get(name)
    if value is None:
        return None
    if type(value) is not int:
        raise PolicyError("SSLError", f"bad TLS settings: {name} is not an integer")
    return value


def _flag_names(setting: str, bits: int) -> str:
    names = _FLAG_NAMES[setting]
    found = [names.get(1 << i, hex(1 << i)) for i in range(bits.bit_length()) if bits >> i & 1]
    return ", ".join(found)


def _stricter_bits(setting: str, asked: int, base: int, allowed: int) -> int:
    """The bits of `asked` beyond `base`, all of which must be in `allowed`
    (plain ints: ~ on ssl's IntFlags would drop the bits ssl has no name for)."""
    asked, base = int(asked), int(base)
    extra = asked & ~base
    if setting == "verify_flags":
        extra &= ~_DROPPED_VERIFY_FLAGS
    loosening = extra & ~allowed
    if loosening:
        raise PolicyError(
            "PermissionError",
            f"the tls cap never loosens TLS ({setting} asks for "
            f"{_flag_names(setting, loosening)}); settings may only make it stricter",
        )
    return extra


def _versions(context: ssl.SSLContext, settings: dict[str, Any]) -> None:
    """Versions only ever raised: a minimum below TLS 1.2 becomes TLS 1.2, a
    maximum below it is refused."""
    low = ssl.TLSVersion.MINIMUM_SUPPORTED
    high = ssl.TLSVersion.MAXIMUM_SUPPORTED
    asked = _int(settings, "minimum_version")
    if asked is not None:
        version = ssl.TLSVersion(asked)
        if version == high or (version != low and version > MINIMUM_VERSION):
            context.minimum_version = version
    asked = _int(settings, "maximum_version")
    if asked is not None:
        version = ssl.TLSVersion(asked)
        if version == low or (version != high and version < MINIMUM_VERSION):
            raise PolicyError(
                "PermissionError",
                f"the tls cap never uses TLS older than 1.2 (maximum_version is "
                f"{version.name}); raise maximum_version or leave it unset",
            )
        context.maximum_version = version


def policy_ciphers(requested: str) -> str:
    """The guest's cipher string intersected with the policy, as a cipher
    string: the suites both select (in the guest's order), at security level
    2 or the higher level the guest asks for. SSLError when none is left."""
    level = SECURITY_LEVEL
    tokens = []
    for token in re.split(r"[:, ;]+", requested):
        found = _SECLEVEL.match(token)
        if found:
            level = max(level, int(found.group(1)))
        elif token:
            tokens.append(token)
    allowed = {c["name"] for c in _cipher_list(POLICY_CIPHERS) if c["protocol"] != "TLSv1.3"}
    chosen = []
    if tokens:
        try:
            asked = _cipher_list(":".join(tokens))
        except ssl.SSLError:
            asked = []
        chosen = [c["name"] for c in asked if c["name"] in allowed]
    else:
        chosen = sorted(allowed)
    if not chosen:
        raise PolicyError(
            "SSLError",
            f"No cipher can be selected: the tls cap allows none of the ciphers {requested!r} "
            "names (never anonymous, NULL or weak ones)",
        )
    return f"@SECLEVEL={level}:" + ":".join(chosen)


@functools.lru_cache(maxsize=64)
def _cipher_list_cached(ciphers: str) -> tuple[tuple[tuple[str, Any], ...], ...]:
    scratch = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    scratch.set_ciphers(ciphers)
    return tuple(tuple(sorted(c.items())) for c in scratch.get_ciphers())


def _cipher_list(ciphers: str) -> list[dict[str, Any]]:
    """The suites a cipher string selects (on a scratch context)."""
    return [dict(c) for c in _cipher_list_cached(ciphers)]


def build_context(settings: dict[str, Any]) -> ssl.SSLContext:
    """The host context for these guest settings: the policy, tightened by
    them and never loosened (PolicyError says what was refused)."""
    context = policy_context()
    base_flags, base_options = int(context.verify_flags), int(context.options)
    verify_flags = _int(settings, "verify_flags")
    if verify_flags is not None:
        context.verify_flags = ssl.VerifyFlags(
            base_flags
            | _stricter_bits("verify_flags", verify_flags, base_flags, STRICTER_VERIFY_FLAGS)
        )
    options = _int(settings, "options")
    if options is not None:
        context.options = ssl.Options(
            base_options | _stricter_bits("options", options, base_options, STRICTER_OPTIONS)
        )
    _versions(context, settings)
    ciphers = settings.get("ciphers")
    if ciphers is not None:
        if not isinstance(ciphers, str):
            raise PolicyError("SSLError", "bad TLS settings: ciphers is not a string")
        context.set_ciphers(policy_ciphers(ciphers))
    host_flags = _int(settings, "host_flags")
    if host_flags is not None and not host_flags & _ssl.HOSTFLAG_NEVER_CHECK_SUBJECT:
        raise PolicyError(
            "PermissionError",
            "the tls cap never matches a host name against a certificate's common name "
            "(hostname_checks_common_name is True); the certificate must name the host "
            "in subjectAltName",
        )
    curve = settings.get("ecdh_curve")
    if curve is not None:
        _ecdh_curve(context, curve)
    if settings.get("alpn"):
        context.set_alpn_protocols(settings["alpn"])
    if settings.get("default_certs"):
        context.load_default_certs()
    for cadata in settings.get("cadata", []):
        context.load_verify_locations(
            cadata=bytes.fromhex(cadata["der"]) if "der" in cadata else cadata["pem"]
        )
    chain = settings.get("cert_chain")
    if chain:
        _load_cert_chain(context, chain)
    _check_policy(context)
    return context


#: How a curve name may be spelled (OpenSSL's short names: prime256v1, X25519, ...).
_CURVE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _ecdh_curve(context: ssl.SSLContext, name: Any) -> None:
    """set_ecdh_curve: the one group the client offers (it only narrows the
    choice; the security level still refuses a weak one at the handshake)."""
    if not isinstance(name, str) or not _CURVE_NAME.match(name):
        raise PolicyError("ValueError", f"unknown elliptic curve name {name!r}")
    try:
        context.set_ecdh_curve(name)
    except ValueError:
        raise PolicyError("ValueError", f"unknown elliptic curve name {name!r}") from None


def _check_policy(context: ssl.SSLContext) -> None:
    """The last word: whatever was set above, a context that breaks the policy
    is never used (a bug here must fail closed)."""
    weak = [
        c["name"]
        for c in context.get_ciphers()
        if c["auth"] == "auth-null" or c["symmetric"] in (None, "null")
    ]
    if (
        weak
        or context.security_level < SECURITY_LEVEL
        or context.verify_mode != ssl.CERT_REQUIRED
        or not context.check_hostname
        or context.hostname_checks_common_name
        or int(context.verify_flags) & ~STRICTER_VERIFY_FLAGS
        or (
            context.minimum_version != ssl.TLSVersion.MAXIMUM_SUPPORTED
            and context.minimum_version < MINIMUM_VERSION
        )
    ):
        raise PolicyError("SSLError", "pylon internal error: a TLS context broke the policy")


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
        # The guest's bytes, in hex. A callable, never None: OpenSSL's own
        # callback would prompt a terminal.
        password = bytes.fromhex(chain["password"]) if chain.get("password") else b""
        context.load_cert_chain(certfile, keyfile, lambda: password)


#: The most certificates of a peer's chain the guest is shown.
MAX_CHAIN = 32


def peer_chain(sock: ssl.SSLSocket | ssl.SSLObject, verified: bool) -> list[str]:
    """The peer's certificate chain as DER hex: as OpenSSL verified it (leaf to
    root, the trust anchor included), or as the peer sent it. The host's 3.11
    has it only on the C object (ssl.SSLSocket.get_verified_chain is 3.13's)."""
    inner = getattr(sock, "_sslobj", None) or sock
    get = getattr(inner, "get_verified_chain" if verified else "get_unverified_chain", None)
    chain = get() if get is not None else None
    out = []
    for cert in (chain or [])[:MAX_CHAIN]:
        der = cert if isinstance(cert, bytes) else cert.public_bytes(_ssl.ENCODING_DER)
        out.append(der.hex())
    return out


def session_info(sock: ssl.SSLSocket | ssl.SSLObject) -> dict[str, Any]:
    der = sock.getpeercert(binary_form=True)
    binding = sock.get_channel_binding("tls-unique")
    return {
        "verified_chain": peer_chain(sock, verified=True),
        "unverified_chain": peer_chain(sock, verified=False),
        "version": sock.version(),
        "cipher": sock.cipher(),
        "shared_ciphers": sock.shared_ciphers(),
        "alpn": sock.selected_alpn_protocol(),
        "peercert": sock.getpeercert(),
        "peercert_der": der.hex() if der else None,
        "tls_unique": binding.hex() if binding else None,
    }


def https_address(url: str) -> tuple[str, int]:
    """The checked (host, port) of an https:// URL for MicroPython's
    pylon.https, or the guest's ValueError saying what is wrong with it. A URL
    that parsers read differently (control characters or spaces, which
    urlsplit drops; a backslash; credentials before the host) is refused."""
    shown = repr(url if len(url) <= 200 else url[:200] + "...")
    odd = next((c for c in url if c.isspace() or unicodedata.category(c)[0] == "C"), None)
    if odd is not None:
        raise ProviderError(
            "ValueError", f"bad URL {shown}: it contains the character U+{ord(odd):04X}"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise ProviderError("ValueError", f"bad URL {shown}: {error}") from None
    if parts.scheme != "https" or not parts.hostname:
        raise ProviderError("ValueError", f"not an https:// URL: {shown}")
    if "@" in parts.netloc or "\\" in url:
        raise ProviderError(
            "ValueError", f"bad URL {shown}: no credentials or backslashes in an https URL"
        )
    if port == 0:
        raise ProviderError("ValueError", f"bad URL {shown}: port 0")
    host = parts.netloc.rpartition(":")[0] if parts.port is not None else parts.netloc
    return checked_host(host), 443 if port is None else port


#: The longest settings context_info reads (ciphers and a curve name).
MAX_INFO_SETTINGS = 1 << 16
#: SSL objects over memory BIOs (asyncio's TLS) per session.
MAX_BIO_OBJECTS = 64
#: The most plaintext one bio read returns, and encrypted bytes one step takes
#: in or hands out.
MAX_BIO_BYTES = 1 << 18
_BIO_OPS = ("none", "handshake", "read", "write", "unwrap")


class BioObject:
    """ssl.SSLObject over memory BIOs, built from a policy context. The guest
    moves its encrypted bytes over a net connection; `unsent` is what it was
    handed and has not sent yet, so the net provider can tell these bytes
    (TLS) from plaintext."""

    def __init__(
        self, sslobj: ssl.SSLObject, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO
    ) -> None:
        self.sslobj, self.incoming, self.outgoing = sslobj, incoming, outgoing
        self.unsent = bytearray()
        self.connection: Connection | None = None

    def sent(self, count: int) -> None:
        del self.unsent[:count]


class TLSProvider:
    def __init__(self, grants: Grants, net: NetProvider) -> None:
        self._grants = grants
        self._net = net
        self._contexts: OrderedDict[str, ssl.SSLContext] = OrderedDict()
        self._lock = threading.Lock()
        self._bios: dict[int, BioObject] = {}
        self._bio_ids = itertools.count(1)
        net.ciphertext = self._claim

    def _claim(self, connection: Connection, data: bytes) -> bool:
        """Whether `data` is the start of what a bio object made and the guest
        has not sent yet; the first such send binds that object to the
        connection, under the tls grant for the connection's host."""
        if not data:
            return False
        bound = connection.bio
        if bound is not None:
            return bytes(bound.unsent[: len(data)]) == data
        for bio in self._bios.values():
            if bio.connection is None and bytes(bio.unsent[: len(data)]) == data:
                with self._grants.call(CAP, "handshake", connection.target):
                    bio.connection = connection
                    connection.bio = bio
                return True
        return False

    def bio_new(self, settings_json: str, server_hostname: str | None) -> int:
        if len(self._bios) >= MAX_BIO_OBJECTS:
            raise ProviderError("SSLError", f"more than {MAX_BIO_OBJECTS} TLS objects")
        context = self.context(settings_json)
        if not server_hostname:
            raise ProviderError("ValueError", "check_hostname requires server_hostname")
        name = checked_host(server_hostname)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        try:
            sslobj = context.wrap_bio(incoming, outgoing, server_hostname=name)
        except (OSError, ValueError) as error:
            raise failure(error) from None
        handle = next(self._bio_ids)
        self._bios[handle] = BioObject(sslobj, incoming, outgoing)
        return handle

    def bio_step(self, handle: int, incoming: str, eof: bool, op: str, data: str, size: int) -> str:
        """Feed encrypted bytes in, do one operation, hand the encrypted bytes
        out: JSON {error: [kind, message] | null, output (base64), count,
        outgoing (base64), session (after the handshake) | null}."""
        bio = self._bios.get(handle)
        if bio is None:
            raise ProviderError("ValueError", "no such TLS object")
        if op not in _BIO_OPS:
            raise ProviderError("ValueError", f"bad TLS operation {op!r}")
        try:
            fed = base64.b64decode(incoming, validate=True)
            plain = base64.b64decode(data, validate=True)
        except ValueError:
            raise ProviderError("ValueError", "the bytes are not base64") from None
        if len(fed) > MAX_BIO_BYTES or len(plain) > MAX_BIO_BYTES:
            raise ProviderError("ValueError", f"at most {MAX_BIO_BYTES} bytes a step")
        size = max(0, min(int(size), MAX_BIO_BYTES))
        if bio.connection is not None and not self._grants.still_allows(
            bio.connection.cap, bio.connection.target, bio.connection.decided_by
        ):
            raise ProviderError(
                "PermissionError", self._grants.denial(CAP, op, bio.connection.target)
            )
        if fed:
            bio.incoming.write(fed)
        if eof:
            bio.incoming.write_eof()
        error = None
        output = b""
        count = 0
        try:
            if op == "handshake":
                bio.sslobj.do_handshake()
            elif op == "read":
                output = bio.sslobj.read(size) if size else b""
            elif op == "write":
                count = bio.sslobj.write(plain)
            elif op == "unwrap":
                bio.sslobj.unwrap()
        except (OSError, ValueError) as exc:
            problem = failure(exc)
            error = [problem.kind, problem.message]
        outgoing = bio.outgoing.read(MAX_BIO_BYTES)
        bio.unsent += outgoing
        if len(bio.unsent) > 4 * MAX_BIO_BYTES:
            raise ProviderError("SSLError", "too many encrypted bytes left unsent")
        session = None
        if error is None and op == "handshake":
            session = session_info(bio.sslobj)
        return json.dumps(
            {
                "error": error,
                "output": base64.b64encode(output).decode("ascii"),
                "count": count,
                "outgoing": base64.b64encode(outgoing).decode("ascii"),
                "session": session,
                "pending": bio.sslobj.pending(),
            }
        )

    def bio_close(self, handle: int) -> None:
        bio = self._bios.pop(handle, None)
        if bio is not None and bio.connection is not None and bio.connection.bio is bio:
            bio.connection.bio = None

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
        except PolicyError as error:
            raise ProviderError(error.kind, str(error)) from None
        except ssl.SSLError as error:
            raise failure(error) from None
        except (ValueError, TypeError, KeyError) as error:
            raise ProviderError("SSLError", f"bad TLS settings: {error}") from None
        with self._lock:
            self._contexts[settings_json] = context
            while len(self._contexts) > _CACHED_CONTEXTS:
                self._contexts.popitem(last=False)
        return context

    # -- what the guest loads, checked at its call (tls_parse) ---------------

    def parse(self, data: bytes, form: str) -> str:
        """Certificates (or DH parameters) the guest read itself, loaded by
        OpenSSL on a scratch context: JSON, a list of {der, ca, decoded}."""
        return json.dumps(tls_parse.certificates(bytes(data), form))

    def check_cert_chain(self, cert: bytes, key: bytes | None, password: bytes | None) -> None:
        tls_parse.check_cert_chain(
            bytes(cert),
            None if key is None else bytes(key),
            None if password is None else bytes(password),
        )

    def context_info(self, settings_json: str) -> str:
        """What a context with these settings offers under the policy (its
        verification settings aside, which only the handshake refuses): JSON
        {ciphers: get_ciphers()}. Its refusals are the guest's errors at the
        call that made them (set_ciphers, set_ecdh_curve)."""
        if len(settings_json) > MAX_INFO_SETTINGS:
            raise ProviderError("ValueError", "the TLS settings are too long")
        try:
            settings = json.loads(settings_json)
            if not isinstance(settings, dict):
                raise ValueError("not an object")
            context = build_context(settings)
        except PolicyError as error:
            raise ProviderError(error.kind, str(error)) from None
        except ssl.SSLError as error:
            raise failure(error) from None
        except (ValueError, TypeError, KeyError) as error:
            raise ProviderError("SSLError", f"bad TLS settings: {error}") from None
        return json.dumps({"ciphers": context.get_ciphers()})

    def handshake(self, handle: int, settings_json: str, server_hostname: str | None) -> str:
        connection = self._net.get(handle)
        with self._grants.call(CAP, "handshake", connection.target) as how:
            context = self.context(settings_json)
            if not server_hostname:
                raise ProviderError("ValueError", "check_hostname requires server_hostname")
            # The name the certificate is checked against, in the form checked here.
            server_hostname = checked_host(server_hostname)
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
        host, port = https_address(url)
        where = host_target(host, port)
        with self._grants.call(CAP, "https", where):
            context = self.context(settings_json)
            parts = urlsplit(url)
            path = parts.path or "/"
            if parts.query:
                path += "?" + parts.query
            # The checked name, never the URL's text, is what is connected to.
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=context)
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


def make(grants: Grants, setup: ProviderSetup) -> TLSProvider:
    """The provider process's TLS provider, on the same process's net connections."""
    return TLSProvider(grants, setup.get("net"))
