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

import binascii
import json
import os
import re
import warnings

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
#: PROTOCOL_TLSv1, _1 and _2: deprecated in CPython but still accepted (with
#: its DeprecationWarning, as PROTOCOL_TLS).
_VERSION_PROTOCOLS = (3, 4, 5)
_DEPRECATED_PROTOCOLS = {2: "PROTOCOL_TLS", 3: "PROTOCOL_TLSv1", 4: "PROTOCOL_TLSv1_1",
                         5: "PROTOCOL_TLSv1_2"}
#: TLSVersion's values (_ssl.c's PY_PROTO_*) and the deprecated ones' names.
_TLS_VERSIONS = (-2, -1, 0x300, 0x301, 0x302, 0x303, 0x304)
_DEPRECATED_VERSIONS = {0x300: "SSLv3", 0x301: "TLSv1", 0x302: "TLSv1_1"}
#: The most bytes of a file the guest loads (the host parses at most this much).
_MAX_LOAD = 4 << 20
#: OpenSSL's password buffer (PEM_BUFSIZE).
_MAX_PASSWORD = 1024


class _Immutable(type):
    """_ssl's C types are immutable (`_ssl._SSLContext.x = 1` is a TypeError);
    their Python subclasses (ssl.SSLContext, which ssl.py sets attributes on)
    are not."""

    def __setattr__(cls, name, value):
        if "_immutable" in cls.__dict__:
            raise TypeError(f"cannot set {name!r} attribute of immutable type "
                            f"'{cls.__module__}.{cls.__qualname__}'")
        super().__setattr__(name, value)

    def __delattr__(cls, name):
        if "_immutable" in cls.__dict__:
            raise TypeError(f"cannot delete {name!r} attribute of immutable type "
                            f"'{cls.__module__}.{cls.__qualname__}'")
        super().__delattr__(name)


class SSLError(OSError, metaclass=_Immutable):
    """An error in the SSL implementation."""

    __module__ = "ssl"
    _immutable = True

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
    if _cls is not SSLError:
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
    """A file the guest loads, whole; larger than the host parses is one line."""
    with open(path, "rb") as file:
        data = file.read(_MAX_LOAD + 1)
    if len(data) > _MAX_LOAD:
        raise ValueError(f"{path} is larger than {_MAX_LOAD >> 20} MiB, the most pylon's "
                         "tls cap loads; split it or load a smaller file")
    return data


def _bytes_of(data, what):
    """A bytes-like object as bytes (BufferError for a non-contiguous view, as _ssl)."""
    view = memoryview(data)
    if not view.c_contiguous:
        raise BufferError(f"{what}: memoryview: underlying buffer is not C-contiguous")
    return view.cast("B").tobytes()


def _parse(data, form):
    """The host's OpenSSL loads the guest's bytes (tls.parse): a list of
    {der, ca, decoded}; OpenSSL's errors are SSLError, here, at the call."""
    if len(data) > _MAX_LOAD:
        raise ValueError(f"the data is larger than {_MAX_LOAD >> 20} MiB, the most pylon's "
                         "tls cap loads")
    return json.loads(_call(_tls.parse, pylon_caps.octets(data), form))


def _test_decode_cert(path):
    """The first PEM certificate of a file, decoded as getpeercert() decodes
    one. The guest reads the file; the host's OpenSSL decodes its bytes in the
    provider process (tls.parse "decode")."""
    data = _read_file(os.fsdecode(path))
    return _tuples(_parse(data, "decode")[0]["decoded"])


def _encrypted(pem):
    return b"ENCRYPTED" in pem


def _password_bytes(value, message):
    if isinstance(value, str):
        value = value.encode("utf-8")
    elif isinstance(value, (bytes, bytearray)):
        value = bytes(value)
    else:
        raise TypeError(message)
    if len(value) > _MAX_PASSWORD:
        raise ValueError(f"password cannot be longer than {_MAX_PASSWORD} bytes")
    return value


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


class SSLSession(metaclass=_Immutable):
    """Sessions are not resumed across connections; the class is here for ssl's checks."""

    __module__ = "_ssl"
    _immutable = True


class Certificate(metaclass=_Immutable):
    """_ssl.Certificate: one certificate of the peer's chain (get_verified_chain),
    its DER as the host's OpenSSL handed it over. As in CPython it cannot be
    made from Python; get_info() decodes it with the host's OpenSSL."""

    __module__ = "_ssl"
    _immutable = True

    def __new__(cls, *args, **kwargs):
        raise TypeError(f"cannot create '{cls.__module__}.{cls.__qualname__}' instances")

    def public_bytes(self, format=None):
        pem, der = globals()["ENCODING_PEM"], globals()["ENCODING_DER"]  # the host's, at _load
        if format is None:
            format = pem
        if format == der:
            return self._der
        if format != pem:
            raise ValueError("Unsupported format")
        body = binascii.b2a_base64(self._der, newline=False).decode("ascii")
        lines = [body[i : i + 64] for i in range(0, len(body), 64)]
        return "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"

    def get_info(self):
        return _tuples(_parse(self._der, "der")[0]["decoded"])

    def __eq__(self, other):
        return isinstance(other, Certificate) and other._der == self._der

    def __hash__(self):
        return hash(self._der)

    def __repr__(self):
        return "<Certificate>"


def _certificates(chain):
    """The Certificate objects of a chain the host sent as DER hex."""
    out = []
    for der in chain or ():
        cert = object.__new__(Certificate)
        cert._der = bytes.fromhex(der)
        out.append(cert)
    return out


class MemoryBIO(metaclass=_Immutable):
    """A byte buffer, as _ssl's; an SSLObject over two of them runs on the host
    (_SSLObject)."""

    __module__ = "_ssl"
    _immutable = True

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
        data = _bytes_of(data, "MemoryBIO.write")
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


def _version_setting(name, minimum):
    """minimum_version / maximum_version, as _ssl.c's set_min_max_proto_version:
    only TLSVersion's values, a DeprecationWarning for SSLv3 to TLS 1.1, and
    the *_SUPPORTED values read back as OpenSSL keeps them. The host raises
    what is below its policy at the handshake."""

    def get(self):
        return getattr(self, name)

    def set(self, value):
        if not isinstance(value, int):
            raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
        value = int(value)
        if value not in _TLS_VERSIONS:
            raise ValueError(f"Unsupported TLS/SSL version 0x{value & 0xFFFFFFFF:x}")
        if self._protocol not in (PROTOCOL_TLS, PROTOCOL_TLS_CLIENT, PROTOCOL_TLS_SERVER):
            raise ValueError("The context's protocol doesn't support modification of "
                             "highest and lowest version.")
        if value in _DEPRECATED_VERSIONS:
            warnings.warn(f"ssl.TLSVersion.{_DEPRECATED_VERSIONS[value]} is deprecated",
                          DeprecationWarning, stacklevel=3)
        if minimum and value == PROTO_MAXIMUM_SUPPORTED:
            value = 0x304
        elif not minimum and value == PROTO_MINIMUM_SUPPORTED:
            value = 0x300 if globals().get("HAS_SSLv3") else 0x301
        setattr(self, name, value)

    return property(get, set)


class _SSLContext(metaclass=_Immutable):
    __module__ = "_ssl"
    _immutable = True

    def __new__(cls, protocol):
        if protocol not in (PROTOCOL_TLS_CLIENT, PROTOCOL_TLS_SERVER, PROTOCOL_TLS,
                            *_VERSION_PROTOCOLS):
            raise ValueError(f"invalid or unsupported protocol version {protocol}")
        if protocol in _DEPRECATED_PROTOCOLS:
            warnings.warn(f"ssl.{_DEPRECATED_PROTOCOLS[protocol]} is deprecated",
                          DeprecationWarning, stacklevel=3)
        self = object.__new__(cls)
        self._protocol = protocol
        client = protocol == PROTOCOL_TLS_CLIENT
        self._verify_mode = CERT_REQUIRED if client else CERT_NONE
        self._check_hostname = client
        self._options = _DEFAULTS.get("options", 0)
        self._verify_flags = _DEFAULTS.get("verify_flags", 0)
        self._minimum_version = _DEFAULTS.get("minimum_version", PROTO_MINIMUM_SUPPORTED)
        self._maximum_version = _DEFAULTS.get("maximum_version", PROTO_MAXIMUM_SUPPORTED)
        self._hostflags = _DEFAULTS.get("host_flags", 0)
        self._cadata = []
        #: What cert_store_stats and get_ca_certs report: each certificate
        #: loaded (by its DER, hex), whether it is a CA's, its decoded form.
        self._store = {}
        self._default_certs = False
        self._cert_chain = None
        self._ciphers = None
        self._ecdh_curve = None
        self._alpn = []
        self._pha = False
        self._num_tickets = 2
        self._sni_callback = None
        self.keylog_filename = None
        self._message_callback = None
        return self

    def _msg_callback_get(self):
        # Kept, never called: the TLS messages happen on the host.
        return self._message_callback

    def _msg_callback_set(self, callback):
        if callback is not None and not callable(callback):
            raise TypeError("not a callable object")
        self._message_callback = callback

    def _msg_callback_del(self):
        raise AttributeError("_msg_callback cannot be deleted")

    _msg_callback = property(_msg_callback_get, _msg_callback_set, _msg_callback_del)

    @property
    def post_handshake_auth(self):
        return self._pha

    @post_handshake_auth.setter
    def post_handshake_auth(self, value):
        self._pha = bool(value)

    @property
    def num_tickets(self):
        return self._num_tickets

    @num_tickets.setter
    def num_tickets(self, value):
        if not isinstance(value, int):
            raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
        if value < 0:
            raise ValueError("value must be non-negative")
        if self._protocol != PROTOCOL_TLS_SERVER:
            raise ValueError("SSLContext is not a server context.")
        self._num_tickets = int(value)

    @property
    def sni_callback(self):
        return self._sni_callback

    @sni_callback.setter
    def sni_callback(self, callback):
        if self._protocol == PROTOCOL_TLS_CLIENT:
            raise ValueError("sni_callback cannot be set on TLS_CLIENT context")
        if callback is not None and not callable(callback):
            raise TypeError("not a callable object")
        self._sni_callback = callback

    @property
    def _host_flags(self):
        return self._hostflags

    @_host_flags.setter
    def _host_flags(self, value):
        self._hostflags = int(value)

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
    minimum_version = _version_setting("_minimum_version", True)
    maximum_version = _version_setting("_maximum_version", False)

    @property
    def options(self):
        return self._options

    @options.setter
    def options(self, value):
        # _ssl.c: an unsigned 64-bit int; turning a protocol off by option is deprecated.
        if not isinstance(value, int):
            raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
        value = int(value)
        if value < 0:
            raise ValueError("Cannot convert negative int")
        if value >= 1 << 64:
            raise OverflowError("Python int too large to convert to C unsigned long long")
        protocols = 0
        for name in ("OP_NO_SSLv2", "OP_NO_SSLv3", "OP_NO_TLSv1", "OP_NO_TLSv1_1",
                     "OP_NO_TLSv1_2", "OP_NO_TLSv1_3"):
            protocols |= globals().get(name, 0)
        if value & ~self._options & protocols:
            warnings.warn("ssl.OP_NO_SSL*/ssl.OP_NO_TLS* options are deprecated",
                          DeprecationWarning, stacklevel=3)
        self._options = value

    def _remember(self, certificates):
        for item in certificates:
            self._store.setdefault(item["der"], item)

    def load_verify_locations(self, cafile=None, capath=None, cadata=None):
        if cafile is None and capath is None and cadata is None:
            raise TypeError("cafile, capath and cadata cannot be all omitted")
        if cafile is not None:
            data = _read_file(os.fsdecode(cafile))
            # The host's OpenSSL loads it now, so a malformed file is an SSLError here.
            self._remember(_parse(data, "cafile"))
            self._cadata.append({"pem": data.decode("ascii", "replace")})
        if capath is not None:
            # As OpenSSL's hashed directory: looked up at the handshake, not counted
            # by cert_store_stats.
            folder = os.fsdecode(capath)
            for entry in sorted(os.listdir(folder)):
                data = _read_file(os.path.join(folder, entry))
                if b"-----BEGIN CERTIFICATE-----" in data:
                    self._cadata.append({"pem": data.decode("ascii", "replace")})
        if cadata is not None:
            if isinstance(cadata, str):
                try:
                    data = cadata.encode("ascii")
                except UnicodeEncodeError:
                    raise TypeError("cadata should be an ASCII string or a bytes-like "
                                    "object") from None
                self._remember(_parse(data, "pem"))
                self._cadata.append({"pem": cadata})
            else:
                try:
                    data = _bytes_of(cadata, "cadata")
                except TypeError:
                    raise TypeError("cadata should be an ASCII string or a bytes-like "
                                    "object") from None
                self._remember(_parse(data, "der"))
                self._cadata.append({"der": data.hex()})

    def load_cert_chain(self, certfile, keyfile=None, password=None):
        cert = _read_file(os.fsdecode(certfile))
        key = _read_file(os.fsdecode(keyfile)) if keyfile is not None else None
        if password is not None and not callable(password):
            password = _password_bytes(password, "password should be a string or bytes")
        elif callable(password):
            # As OpenSSL asks: only for an encrypted key.
            if _encrypted(key if key is not None else cert):
                password = _password_bytes(password(), "password callback must return a string")
            else:
                password = None
        # The host's OpenSSL loads them now, so a malformed certificate or key, a
        # mismatched pair or a wrong password is an SSLError here, as in CPython.
        _call(_tls.check_cert_chain, pylon_caps.octets(cert),
              None if key is None else pylon_caps.octets(key),
              None if password is None else pylon_caps.octets(password))
        self._cert_chain = {
            "cert": cert.decode("ascii", "replace"),
            "key": None if key is None else key.decode("ascii", "replace"),
            # Hex: a password is bytes, and need not be UTF-8.
            "password": None if password is None else password.hex(),
        }

    def set_default_verify_paths(self):
        # OpenSSL reads SSL_CERT_FILE and SSL_CERT_DIR: when the guest's
        # environment names them, they are the guest's own files and replace
        # the host's trust store; errors are ignored, as OpenSSL ignores them.
        cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
        if cafile is None and capath is None:
            self._default_certs = True
            return
        for kind, path in (("cafile", cafile), ("capath", capath)):
            if path:
                try:
                    self.load_verify_locations(**{kind: path})
                except (OSError, ValueError):
                    pass

    def _info(self, settings):
        return json.loads(_call(_tls.context_info, json.dumps(settings, sort_keys=True)))

    def set_ciphers(self, ciphers):
        if not isinstance(ciphers, str):
            raise TypeError(
                f"set_ciphers() argument must be str, not {type(ciphers).__name__}"
            )
        ciphers.encode("ascii")
        # Checked now (CPython's "No cipher can be selected." comes from here).
        self._info({"ciphers": ciphers})
        self._ciphers = ciphers

    def get_ciphers(self):
        """The suites the host's policy context offers with this context's cipher string."""
        return self._info({"ciphers": self._ciphers})["ciphers"]

    def _set_alpn_protocols(self, protocols):
        names, data, i = [], bytes(protocols), 0
        while i < len(data):
            size = data[i]
            names.append(data[i + 1 : i + 1 + size].decode("ascii"))
            i += 1 + size
        self._alpn = names

    def set_ecdh_curve(self, name):
        if isinstance(name, (bytes, bytearray)):
            name = bytes(name).decode("ascii", "replace")
        elif not isinstance(name, str):
            raise TypeError(f"a bytes-like object is required, not '{type(name).__name__}'")
        # The host knows OpenSSL's curve names: an unknown one is a ValueError here.
        self._info({"ecdh_curve": name})
        self._ecdh_curve = name

    def load_dh_params(self, path):
        # A client never uses DH parameters; the file is still checked as CPython does.
        _parse(_read_file(os.fsdecode(path)), "dhparams")

    def cert_store_stats(self):
        cas = sum(1 for item in self._store.values() if item["ca"])
        return {"x509": len(self._store), "crl": 0, "x509_ca": cas}

    def get_ca_certs(self, binary_form=False):
        cas = [item for item in self._store.values() if item["ca"]]
        if binary_form:
            return [bytes.fromhex(item["der"]) for item in cas]
        return [_tuples(item["decoded"]) for item in cas]

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
            "host_flags": self._hostflags,
            "ciphers": self._ciphers,
            "ecdh_curve": self._ecdh_curve,
            "alpn": self._alpn,
            "default_certs": self._default_certs,
            "cadata": self._cadata,
            "cert_chain": self._cert_chain,
        }, sort_keys=True)

    def _wrap_socket(self, sock, server_side, server_hostname=None, *, owner=None, session=None):
        _check_hostname_arg(server_hostname)
        return _SSLSocket(self, sock, server_side, server_hostname, owner)

    def _wrap_bio(self, incoming, outgoing, server_side, server_hostname=None, *, owner=None,
                  session=None):
        _check_hostname_arg(server_hostname)
        if server_side:
            raise NotImplementedError("pylon's tls cap makes TLS clients only")
        return _SSLObject(self, incoming, outgoing, server_hostname, owner)


def _check_hostname_arg(name):
    """_ssl's argument conversion: a str without NUL (TypeError otherwise)."""
    if isinstance(name, str) and "\x00" in name:
        raise TypeError("argument must be encoded string without null bytes, not str")


def _tuples(value):
    """getpeercert()'s shape: JSON lists back into tuples."""
    if isinstance(value, list):
        return tuple(_tuples(item) for item in value)
    if isinstance(value, dict):
        return {key: _tuples(item) for key, item in value.items()}
    return value


class _SSLSocket(metaclass=_Immutable):
    """The TLS session of one socket; it lives on the host, by the socket's connection."""

    __module__ = "_ssl"
    _immutable = True

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
        return _certificates(self._session().get("verified_chain"))

    def get_unverified_chain(self):
        return _certificates(self._session().get("unverified_chain"))


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


# The interface's argument kinds: a call that does not fit raises the guest's
# TypeError or OverflowError before componentize-py lowers it (a misfit would
# trap the instance; pylon_caps.guard_bindings).
pylon_caps.declare_signatures(
    "tls",
    {
        "constants": (),
        "handshake": ("u32", "string", ("option", "string")),
        "unwrap": ("u32",),
        "bio_new": ("string", ("option", "string")),
        "bio_step": ("u32", "octets", "bool", "string", "octets", "u32"),
        "bio_close": ("u32",),
        "parse": ("octets", "string"),
        "check_cert_chain": ("octets", ("option", "octets"), ("option", "octets")),
        "context_info": ("string",),
    },
)
