"""Runs INSIDE the CPython guest as `_ssl`, so the stdlib's ssl module (and
http.client, urllib.request, smtplib's starttls, ...) works unchanged over
pylon:cap/tls.

An _SSLContext here is settings: the CA certificates it trusts (read from the
guest's own files), versions, options, ciphers, ALPN. At the handshake the host
builds an OpenSSL context from them and runs the TLS session on the
connection it holds for the guest's socket, so the guest sees the session's
version, cipher and peer certificate, and its reads and writes are decrypted
on the host. Certificates are always verified: a context that would not verify
is refused at the handshake.
"""

import json
import os
import re

from componentize_py_types import Err

from wit_world.imports import net as _net
from wit_world.imports import tls as _tls

import pylon_caps
import pylon_socket

# Set for real by _load() from the host's _ssl when the guest imports it.
PROTOCOL_TLS, PROTOCOL_TLS_CLIENT, PROTOCOL_TLS_SERVER = 2, 16, 17
CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED = 0, 1, 2
PROTO_MINIMUM_SUPPORTED, PROTO_MAXIMUM_SUPPORTED = -2, -1
_DEFAULTS = {}
_OBJECTS = []


def _load():
    """Called when the guest first imports _ssl: the constants are those of the
    OpenSSL the session will really run on, the host's."""
    values = json.loads(_tls.constants())
    _DEFAULTS.update(values.pop("_defaults"))
    _OBJECTS.extend(tuple(item) for item in values.pop("_objects"))
    values["OPENSSL_VERSION_INFO"] = tuple(values["OPENSSL_VERSION_INFO"])
    values["_OPENSSL_API_VERSION"] = tuple(values["_OPENSSL_API_VERSION"])
    values.setdefault("HAS_PSK", False)
    # Post-handshake authentication is a server's request; pylon is a client
    # that does not offer it.
    values["HAS_PHA"] = False
    values["HAS_NPN"] = False
    # Constants of CPython 3.14's _ssl that an older host's lacks (the host's
    # policy refuses to set OP_LEGACY_SERVER_CONNECT; the name exists as in CPython).
    for name, value in _LATER_CONSTANTS.items():
        values.setdefault(name, value)
    globals().update(values)


#: OpenSSL's values (SSL_OP_LEGACY_SERVER_CONNECT, SSL_OP_ENABLE_KTLS).
_LATER_CONSTANTS = {"OP_LEGACY_SERVER_CONNECT": 0x4, "OP_ENABLE_KTLS": 0x8}
#: PROTOCOL_TLSv1, _1 and _2: deprecated in CPython but still accepted (ssl.py warns).
_VERSION_PROTOCOLS = (3, 4, 5)


class SSLError(OSError):
    """An error in the SSL implementation."""

    def __str__(self):
        if isinstance(self.strerror, str):
            return self.strerror
        return super().__str__()


class SSLZeroReturnError(SSLError):
    """SSL/TLS session closed cleanly."""


class SSLWantReadError(SSLError):
    """Non-blocking SSL socket needs to read more data."""


class SSLWantWriteError(SSLError):
    """Non-blocking SSL socket needs to write more data."""


class SSLSyscallError(SSLError):
    """System error when attempting SSL operation."""


class SSLEOFError(SSLError):
    """SSL/TLS connection terminated abruptly."""


class SSLCertVerificationError(SSLError, ValueError):
    """A certificate could not be verified."""


_ERRORS = {cls.__name__: cls for cls in (
    SSLError, SSLZeroReturnError, SSLWantReadError, SSLWantWriteError, SSLSyscallError,
    SSLEOFError, SSLCertVerificationError)}
for _cls in _ERRORS.values():
    _cls.__module__ = "ssl"


_REASON = re.compile(r"^\[([A-Z0-9_]+): ([A-Z0-9_]+)\] (.*?)(?: \(_ssl\.c:\d+\))?$", re.S)


def _call(function, *args):
    try:
        return function(*args)
    except Err as err:
        kind, _, code = err.value.kind.partition("/")
        error = pylon_caps.guest_exception(kind, err.value.message, _ERRORS, OSError)
    if isinstance(error, SSLError):
        # The attributes _ssl.c sets: [LIBRARY: REASON] text, and for a
        # certificate OpenSSL's verify code and message.
        found = _REASON.match(str(error))
        error.library, error.reason = found.group(1, 2) if found else (None, None)
        if isinstance(error, SSLCertVerificationError):
            error.verify_code = int(code) if code.isdigit() else 0
            text = found.group(3) if found else str(error)
            error.verify_message = text.partition("certificate verify failed: ")[2] or text
    raise error


def _read_file(path):
    with open(path, "rb") as file:
        return file.read()


def _pem_certificates(data, source):
    text = data.decode("ascii", "replace") if isinstance(data, bytes) else data
    if "-----BEGIN CERTIFICATE-----" not in text:
        raise SSLError(136, f"[X509: NO_CERTIFICATE_OR_CRL_FOUND] no certificate or crl found "
                            f"in {source}")
    return text


def txt2obj(txt, name=False):
    for item in _OBJECTS:
        if txt == item[3] or (name and txt in (item[1], item[2])):
            return item
    raise ValueError(f"unknown object '{txt}'")


def nid2obj(nid):
    for item in _OBJECTS:
        if item[0] == nid:
            return item
    raise ValueError(f"unknown NID {nid}")


def RAND_bytes(n):
    return os.urandom(n)


def RAND_status():
    return True


def RAND_add(string, entropy):
    pass


def get_default_verify_paths():
    store = "(the host's trust store)"
    return ("SSL_CERT_FILE", store, "SSL_CERT_DIR", store)


class SSLSession:
    """Sessions are not resumed across connections; the class is here for ssl's checks."""


class MemoryBIO:
    """A byte buffer, as _ssl's; an SSLObject over two of them runs on the host
    (_SSLObject)."""

    def __init__(self):
        self._buffer = bytearray()
        self._eof_written = False

    @property
    def pending(self):
        return len(self._buffer)

    @property
    def eof(self):
        return self._eof_written and not self._buffer

    def read(self, size=-1):
        size = len(self._buffer) if size < 0 else size
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def write(self, data):
        if self._eof_written:
            raise SSLError("cannot write() after write_eof()")
        data = memoryview(data).cast("B")
        self._buffer += data
        return len(data)

    def write_eof(self):
        self._eof_written = True


def _int_setting(name):
    """A context setting that holds an int (ssl.py's SSLContext wraps it in its
    enum and sets it through this property)."""

    def get(self):
        return getattr(self, name)

    def set(self, value):
        setattr(self, name, int(value))

    return property(get, set)


class _SSLContext:
    def __new__(cls, protocol):
        if protocol not in (PROTOCOL_TLS_CLIENT, PROTOCOL_TLS_SERVER, PROTOCOL_TLS,
                            *_VERSION_PROTOCOLS):
            raise ValueError(f"invalid or unsupported protocol version {protocol}")
        self = object.__new__(cls)
        self._protocol = protocol
        client = protocol == PROTOCOL_TLS_CLIENT
        self._verify_mode = CERT_REQUIRED if client else CERT_NONE
        self._check_hostname = client
        self._options = _DEFAULTS.get("options", 0)
        self._verify_flags = _DEFAULTS.get("verify_flags", 0)
        self._minimum_version = _DEFAULTS.get("minimum_version", PROTO_MINIMUM_SUPPORTED)
        self._maximum_version = _DEFAULTS.get("maximum_version", PROTO_MAXIMUM_SUPPORTED)
        self._host_flags = _DEFAULTS.get("host_flags", 0)
        self._cadata = []
        self._default_certs = False
        self._cert_chain = None
        self._ciphers = None
        self._alpn = []
        self.post_handshake_auth = False
        self.num_tickets = 2
        self.sni_callback = None
        self.keylog_filename = None
        self._message_callback = None
        return self

    @property
    def _msg_callback(self):
        # Kept, never called: the TLS messages happen on the host.
        return self._message_callback

    @_msg_callback.setter
    def _msg_callback(self, callback):
        self._message_callback = callback

    @property
    def protocol(self):
        return self._protocol

    @property
    def security_level(self):
        return _DEFAULTS.get("security_level", 2)

    @property
    def check_hostname(self):
        return self._check_hostname

    @check_hostname.setter
    def check_hostname(self, value):
        value = bool(value)
        if value and self._verify_mode == CERT_NONE:
            self._verify_mode = CERT_REQUIRED
        self._check_hostname = value

    @property
    def verify_mode(self):
        return self._verify_mode

    @verify_mode.setter
    def verify_mode(self, value):
        value = int(value)
        if value not in (CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED):
            raise ValueError("invalid value for verify_mode")
        if value == CERT_NONE and self._check_hostname:
            raise ValueError(
                "Cannot set verify_mode to CERT_NONE when check_hostname is enabled."
            )
        self._verify_mode = value

    verify_flags = _int_setting("_verify_flags")
    options = _int_setting("_options")
    minimum_version = _int_setting("_minimum_version")
    maximum_version = _int_setting("_maximum_version")

    def load_verify_locations(self, cafile=None, capath=None, cadata=None):
        if cafile is None and capath is None and cadata is None:
            raise TypeError("cafile, capath and cadata cannot be all omitted")
        if cafile is not None:
            path = os.fsdecode(cafile)
            self._cadata.append({"pem": _pem_certificates(_read_file(path), path)})
        if capath is not None:
            folder = os.fsdecode(capath)
            for entry in sorted(os.listdir(folder)):
                data = _read_file(os.path.join(folder, entry))
                if b"-----BEGIN CERTIFICATE-----" in data:
                    self._cadata.append({"pem": data.decode("ascii", "replace")})
        if cadata is not None:
            if isinstance(cadata, str):
                self._cadata.append({"pem": _pem_certificates(cadata, "cadata")})
            else:
                self._cadata.append({"der": memoryview(cadata).cast("B").tobytes().hex()})

    def load_cert_chain(self, certfile, keyfile=None, password=None):
        if callable(password):
            password = password()
        if isinstance(password, (bytes, bytearray)):
            password = bytes(password).decode()
        cert = _read_file(os.fsdecode(certfile)).decode("ascii", "replace")
        key = _read_file(os.fsdecode(keyfile)).decode("ascii", "replace") if keyfile else None
        # What OpenSSL checks first, at the call as CPython does: a certificate
        # in certfile and a private key in keyfile (or certfile).
        if "-----BEGIN CERTIFICATE-----" not in cert:
            raise SSLError(9, "[SSL] PEM lib (_ssl.c:4105)")
        if not re.search(r"-----BEGIN (\w+ )?PRIVATE KEY-----", key if key is not None else cert):
            raise SSLError(9, "[SSL] PEM lib (_ssl.c:4105)")
        self._cert_chain = {"cert": cert, "key": key, "password": password}

    def set_default_verify_paths(self):
        self._default_certs = True

    def set_ciphers(self, ciphers):
        if not isinstance(ciphers, str):
            raise TypeError(
                f"set_ciphers() argument must be str, not {type(ciphers).__name__}"
            )
        ciphers.encode("ascii")
        self._ciphers = ciphers

    def get_ciphers(self):
        return []

    def _set_alpn_protocols(self, protocols):
        names, data, i = [], bytes(protocols), 0
        while i < len(data):
            size = data[i]
            names.append(data[i + 1 : i + 1 + size].decode("ascii"))
            i += 1 + size
        self._alpn = names

    def set_ecdh_curve(self, name):
        pass

    def load_dh_params(self, path):
        pass

    def cert_store_stats(self):
        count = len(self._cadata)
        return {"x509": count, "crl": 0, "x509_ca": count}

    def get_ca_certs(self, binary_form=False):
        return []

    def session_stats(self):
        names = ("number", "connect", "connect_good", "connect_renegotiate", "accept",
                 "accept_good", "accept_renegotiate", "hits", "misses", "timeouts", "cache_full")
        return dict.fromkeys(names, 0)

    def set_psk_client_callback(self, callback, identity_hint=None):
        raise NotImplementedError("pylon's tls cap does not support TLS-PSK")

    set_psk_server_callback = set_psk_client_callback

    def _settings(self, server_side):
        """What the host builds its OpenSSL context from."""
        return json.dumps({
            "server_side": bool(server_side),
            "verify_mode": self._verify_mode,
            "check_hostname": self._check_hostname,
            "verify_flags": self._verify_flags,
            "options": self._options,
            "minimum_version": self._minimum_version,
            "maximum_version": self._maximum_version,
            "host_flags": self._host_flags,
            "ciphers": self._ciphers,
            "alpn": self._alpn,
            "default_certs": self._default_certs,
            "cadata": self._cadata,
            "cert_chain": self._cert_chain,
        }, sort_keys=True)

    def _wrap_socket(self, sock, server_side, server_hostname=None, *, owner=None, session=None):
        return _SSLSocket(self, sock, server_side, server_hostname, owner)

    def _wrap_bio(self, incoming, outgoing, server_side, server_hostname=None, *, owner=None,
                  session=None):
        if server_side:
            raise NotImplementedError("pylon's tls cap makes TLS clients only")
        return _SSLObject(self, incoming, outgoing, server_hostname, owner)


def _tuples(value):
    """getpeercert()'s shape: JSON lists back into tuples."""
    if isinstance(value, list):
        return tuple(_tuples(item) for item in value)
    if isinstance(value, dict):
        return {key: _tuples(item) for key, item in value.items()}
    return value


class _SSLSocket:
    """The TLS session of one socket; it lives on the host, by the socket's connection."""

    def __init__(self, context, sock, server_side, server_hostname, owner):
        self.context = context
        self._sock = sock
        self.server_side = server_side
        self.server_hostname = server_hostname
        self.owner = owner
        self.session = None
        self.session_reused = False
        self._info = None

    def _handle(self):
        return self._sock._handle()

    def do_handshake(self):
        if self._info is not None:
            return
        settings = self.context._settings(self.server_side)
        info = _call(_tls.handshake, self._handle(), settings, self.server_hostname)
        self._info = json.loads(info)

    def read(self, size=1024, buffer=None):
        self.do_handshake()
        if buffer is None:
            return self._recv(size) if size else b""
        view = memoryview(buffer).cast("B")
        data = self._recv(size or view.nbytes)
        view[: len(data)] = data
        return len(data)

    def write(self, data):
        self.do_handshake()
        chunk = memoryview(data).cast("B")[: pylon_socket.CHUNK].tobytes()
        return _call(_net.send, self._handle(), pylon_caps.octets(chunk))

    def _recv(self, size):
        return pylon_caps.from_octets(_call(_net.recv, self._handle(), size))

    def pending(self):
        return 0

    def _session(self):
        if self._info is None:
            raise ValueError("handshake not done yet")
        return self._info

    def getpeercert(self, binary_form=False):
        info = self._session()
        if binary_form:
            der = info["peercert_der"]
            return bytes.fromhex(der) if der else None
        return _tuples(info["peercert"])

    def cipher(self):
        cipher = self._info and self._info["cipher"]
        return tuple(cipher) if cipher else None

    def shared_ciphers(self):
        shared = self._info and self._info["shared_ciphers"]
        return [tuple(item) for item in shared] if shared else None

    def version(self):
        return self._info["version"] if self._info else None

    def selected_alpn_protocol(self):
        return self._info["alpn"] if self._info else None

    def compression(self):
        return None

    def get_channel_binding(self, cb_type="tls-unique"):
        if cb_type != "tls-unique":
            raise ValueError(f"'{cb_type}' channel binding type not implemented")
        value = self._info and self._info["tls_unique"]
        return bytes.fromhex(value) if value else None

    def shutdown(self):
        _call(_tls.unwrap, self._handle())
        self._info = None
        return self._sock

    def verify_client_post_handshake(self):
        raise SSLError("pylon's tls cap does not offer post-handshake authentication")

    def get_verified_chain(self):
        raise NotImplementedError("pylon's tls cap does not expose the certificate chain")

    get_unverified_chain = get_verified_chain


#: The most bytes one bio step moves (the host's limit).
_BIO_STEP = 1 << 18


class _SSLObject(_SSLSocket):
    """SSLObject over memory BIOs (asyncio's TLS): the TLS object is the
    host's, built from the same policy context as a socket's; each call moves
    the incoming BIO's bytes to it and its encrypted output back here."""

    def __init__(self, context, incoming, outgoing, server_hostname, owner):
        super().__init__(context, None, False, server_hostname, owner)
        self._incoming, self._outgoing = incoming, outgoing
        self._eof_sent = False
        self._pending = 0
        self._object = _call(_tls.bio_new, context._settings(False), server_hostname)

    def _step(self, op, data=b"", size=0):
        while True:
            fed = self._incoming.read(_BIO_STEP)
            eof = self._incoming._eof_written and not self._incoming.pending \
                and not self._eof_sent
            self._eof_sent = self._eof_sent or eof
            if self._incoming.pending:
                # More than one step takes: feed the rest first.
                self._push(_call(_tls.bio_step, self._object, pylon_caps.octets(fed), False,
                                 "none", "", 0))
                continue
            answer = _call(_tls.bio_step, self._object, pylon_caps.octets(fed), eof, op,
                           pylon_caps.octets(data), size)
            return self._push(answer)

    def _push(self, answer):
        result = json.loads(answer)
        outgoing = pylon_caps.from_octets(result["outgoing"])
        if outgoing:
            self._outgoing.write(outgoing)
        self._pending = result.get("pending", 0)
        if result["session"] is not None:
            self._info = result["session"]
        if result["error"] is not None:
            kind, message = result["error"]
            _call(_raise_failure, kind, message)
        return result

    def do_handshake(self):
        if self._info is None:
            self._step("handshake")

    def read(self, size=1024, buffer=None):
        if buffer is None:
            if size < 0:
                raise ValueError("size should not be negative")
            return pylon_caps.from_octets(self._step("read", size=min(size, _BIO_STEP))["output"])
        view = memoryview(buffer).cast("B")
        want = min(size or view.nbytes, view.nbytes, _BIO_STEP)
        data = pylon_caps.from_octets(self._step("read", size=want)["output"])
        view[: len(data)] = data
        return len(data)

    def write(self, data):
        data = memoryview(data).cast("B")[:_BIO_STEP].tobytes()
        return self._step("write", data)["count"]

    def pending(self):
        return self._pending

    def shutdown(self):
        self._step("unwrap")
        self._info = None

    def __del__(self):
        handle = getattr(self, "_object", None)
        if handle is not None:
            self._object = None
            try:
                _tls.bio_close(handle)
            except Exception:
                pass


class _Failure:
    def __init__(self, kind, message):
        self.kind, self.message = kind, message


def _raise_failure(kind, message):
    """Raise the host's failure [kind, message] as _call raises any (SSLError
    and its subclasses with library and reason)."""
    raise Err(_Failure(kind, message))
