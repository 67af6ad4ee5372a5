# Runs INSIDE the guest, CPython or MicroPython alike, as `argon2`: the API of
# argon2-cffi over the crypto cap. `_cap_call(method, *args)` comes from the
# runtime's loader (pylon_shell/caps/registry.py); the hashing is the host's
# argon2-cffi, on the host's threads, with salts the host makes.
#
# Everything is defined here, and argon2.exceptions, argon2.low_level and
# argon2.profiles take their names from this module: MicroPython loads a cap
# package's submodules after their package, so the package cannot import them
# while it loads, and the exception a provider call raises is looked up in the
# namespace of the module that made the call (this one).

import sys

try:
    import enum as _enum
except ImportError:
    _enum = None
try:
    import dataclasses as _dataclasses
except ImportError:
    _dataclasses = None
try:
    import warnings as _warnings
except ImportError:
    _warnings = None

__title__ = "argon2-cffi"
__author__ = "Hynek Schlawack"
__license__ = "MIT"
__all__ = [
    "DEFAULT_HASH_LENGTH", "DEFAULT_MEMORY_COST", "DEFAULT_PARALLELISM",
    "DEFAULT_RANDOM_SALT_LENGTH", "DEFAULT_TIME_COST", "Parameters", "PasswordHasher", "Type",
    "exceptions", "extract_parameters", "hash_password", "hash_password_raw", "low_level",
    "profiles", "verify_password",
]


# -- argon2.exceptions --------------------------------------------------------


class Argon2Error(Exception):
    """Superclass of all argon2 exceptions. Never thrown directly."""

    __module__ = "argon2.exceptions"


class VerificationError(Argon2Error):
    """Verification failed; the original error message from Argon2 is args[0]."""

    __module__ = "argon2.exceptions"


class VerifyMismatchError(VerificationError):
    """The secret does not match the hash."""

    __module__ = "argon2.exceptions"


class HashingError(Argon2Error):
    """Hashing failed; the original error message from Argon2 is args[0]."""

    __module__ = "argon2.exceptions"


class InvalidHashError(ValueError):
    """The hash is invalid before passing it to Argon2."""

    __module__ = "argon2.exceptions"


class UnsupportedParametersError(ValueError):
    """The current platform does not support the parameters (never raised
    here: the host computes, so every parallelism is supported)."""

    __module__ = "argon2.exceptions"


InvalidHash = InvalidHashError


# -- argon2.low_level ---------------------------------------------------------

ARGON2_VERSION = 19

if _enum is not None:

    class Type(_enum.Enum):
        """Enum of Argon2 variants."""

        D = 0
        I = 1  # noqa: E741
        ID = 2

    Type.__module__ = "argon2.low_level"
else:

    class Type:
        """Enum of Argon2 variants (MicroPython has no enum: three fixed members)."""

        def __init__(self, name, value):
            self.name = name
            self.value = value

        def __repr__(self):
            return "<Type.%s: %d>" % (self.name, self.value)

        def __str__(self):
            return "Type." + self.name

    Type.D = Type("D", 0)
    Type.I = Type("I", 1)
    Type.ID = Type("ID", 2)


def _octets(value, ctype):
    # What cffi says when an argument cannot become a C array.
    if isinstance(value, bytes):
        return value
    if isinstance(value, (str, int, float)) or value is None:
        raise TypeError(
            "initializer for ctype '%s' must be a bytes or list or tuple, not %s"
            % (ctype, type(value).__name__)
        )
    raise TypeError("expected new array length or list/tuple/str, not %s" % type(value).__name__)


def _u32(value):
    # What cffi says when an argument cannot become a uint32_t.
    if not isinstance(value, int):
        raise TypeError("an integer is required")
    if value < 0:
        raise OverflowError("can't convert negative number to unsigned")
    if value >= 1 << 32:
        raise OverflowError("integer %d does not fit '32-bit unsigned int'" % value)
    return value


def _hash(secret, salt, salt_len, time_cost, memory_cost, parallelism, hash_len, type, version,
          raw):
    secret = _octets(secret, "uint8_t[]")
    if salt is not None:
        salt = _octets(salt, "uint8_t[]")
    value = type.value
    for number in (time_cost, memory_cost, parallelism, hash_len, version):
        _u32(number)
    return _cap_call("hash", secret, salt, salt_len, time_cost, memory_cost, parallelism,
                     hash_len, value, version, raw)


def hash_secret(secret, salt, time_cost, memory_cost, parallelism, hash_len, type,
                version=ARGON2_VERSION):
    """Hash `secret` and return an encoded hash (bytes)."""
    return _hash(secret, salt, 0, time_cost, memory_cost, parallelism, hash_len, type, version,
                 False)


def hash_secret_raw(secret, salt, time_cost, memory_cost, parallelism, hash_len, type,
                    version=ARGON2_VERSION):
    """Hash `secret` and return a raw hash (bytes)."""
    if not isinstance(hash_len, int):
        raise TypeError("expected new array length or list/tuple/str, not %s"
                        % type(hash_len).__name__)
    if hash_len < 0:
        raise ValueError("negative array length")
    return _hash(secret, salt, 0, time_cost, memory_cost, parallelism, hash_len, type, version,
                 True)


def verify_secret(hash, secret, type):
    """True if `secret` is correct for the encoded `hash` of `type`; else
    VerifyMismatchError, or VerificationError for other reasons."""
    hash = _octets(hash, "char[]")
    secret = _octets(secret, "uint8_t[]")
    return _cap_call("verify", hash, secret, type.value)


# -- argon2._utils ------------------------------------------------------------


def _check_types(**kw):
    errors = []
    for name in kw:
        value, types = kw[name]
        if not isinstance(value, types):
            if isinstance(types, tuple):
                names = ", or ".join(t.__name__ for t in types)
            else:
                names = types.__name__
            errors.append("'%s' must be a %s (got %s)" % (name, names, type(value).__name__))
    if errors:
        return ", ".join(errors) + "."
    return None


def _decoded_str_len(length):
    rem = length % 4
    if rem == 3:
        last_group_len = 2
    elif rem == 2:
        last_group_len = 1
    else:
        last_group_len = 0
    return length // 4 * 3 + last_group_len


_FIELDS = ("type", "version", "salt_len", "hash_len", "time_cost", "memory_cost", "parallelism")

if _dataclasses is not None:
    Parameters = _dataclasses.make_dataclass(
        "Parameters",
        [("type", Type), ("version", int), ("salt_len", int), ("hash_len", int),
         ("time_cost", int), ("memory_cost", int), ("parallelism", int)],
        slots=True,
    )
    Parameters.__module__ = "argon2._utils"
    Parameters.__doc__ = "Argon2 hash parameters."
else:

    class Parameters:
        """Argon2 hash parameters."""

        def __init__(self, type, version, salt_len, hash_len, time_cost, memory_cost,
                     parallelism):
            self.type = type
            self.version = version
            self.salt_len = salt_len
            self.hash_len = hash_len
            self.time_cost = time_cost
            self.memory_cost = memory_cost
            self.parallelism = parallelism

        def _values(self):
            return tuple(getattr(self, name) for name in _FIELDS)

        def __eq__(self, other):
            if other.__class__ is not self.__class__:
                return NotImplemented
            return self._values() == other._values()

        def __ne__(self, other):
            if other.__class__ is not self.__class__:
                return NotImplemented
            return self._values() != other._values()

        def __repr__(self):
            return "Parameters(%s)" % ", ".join(
                "%s=%r" % (name, getattr(self, name)) for name in _FIELDS
            )


_NAME_TO_TYPE = {"argon2id": Type.ID, "argon2i": Type.I, "argon2d": Type.D}
_REQUIRED_KEYS = sorted(("v", "m", "t", "p"))


def extract_parameters(hash):
    """Extract parameters from an encoded `hash`."""
    parts = hash.split("$")
    # Backwards compatibility for Argon v1.2 hashes
    if len(parts) == 5:
        parts.insert(2, "v=18")
    if len(parts) != 6 or parts[0]:
        raise InvalidHashError
    failed = False
    try:
        type = _NAME_TO_TYPE[parts[1]]
        kvs = {}
        for item in [parts[2]] + parts[3].split(","):
            key, value = item.split("=")
            kvs[key] = int(value)
    except Exception:
        failed = True
    if failed or sorted(kvs.keys()) != _REQUIRED_KEYS:
        raise InvalidHashError
    return Parameters(
        type, kvs["v"], _decoded_str_len(len(parts[4])), _decoded_str_len(len(parts[5])),
        kvs["t"], kvs["m"], kvs["p"],
    )


# -- argon2.profiles ----------------------------------------------------------

# FIRST RECOMMENDED option per RFC 9106.
RFC_9106_HIGH_MEMORY = Parameters(Type.ID, 19, 16, 32, 1, 2097152, 4)
# SECOND RECOMMENDED option per RFC 9106.
RFC_9106_LOW_MEMORY = Parameters(Type.ID, 19, 16, 32, 3, 65536, 4)
# The pre-RFC defaults in argon2-cffi 18.2.0 - 21.1.0.
PRE_21_2 = Parameters(Type.ID, 19, 16, 16, 2, 102400, 8)
# Only for testing!
CHEAPEST = Parameters(Type.ID, 19, 8, 4, 1, 8, 1)


def get_default_parameters():
    """The default parameters: RFC 9106's low-memory profile. (argon2-cffi built
    for WebAssembly sets parallelism to 1; here the host computes, so it is not.)"""
    return RFC_9106_LOW_MEMORY


# -- argon2.PasswordHasher ----------------------------------------------------

_default = get_default_parameters()
DEFAULT_RANDOM_SALT_LENGTH = _default.salt_len
DEFAULT_HASH_LENGTH = _default.hash_len
DEFAULT_TIME_COST = _default.time_cost
DEFAULT_MEMORY_COST = _default.memory_cost
DEFAULT_PARALLELISM = _default.parallelism


def _ensure_bytes(s, encoding):
    if isinstance(s, bytes):
        return s
    return s.encode(encoding)


class PasswordHasher:
    """High level class to hash passwords with sensible defaults: Argon2id and a
    random salt (made by the host); it verifies any type of Argon2 hash."""

    __slots__ = ["_parameters", "encoding"]

    _header_to_type = {b"$argon2i$": Type.I, b"$argon2d$": Type.D, b"$argon2id": Type.ID}

    def __init__(self, time_cost=DEFAULT_TIME_COST, memory_cost=DEFAULT_MEMORY_COST,
                 parallelism=DEFAULT_PARALLELISM, hash_len=DEFAULT_HASH_LENGTH,
                 salt_len=DEFAULT_RANDOM_SALT_LENGTH, encoding="utf-8", type=Type.ID):
        e = _check_types(
            time_cost=(time_cost, int),
            memory_cost=(memory_cost, int),
            parallelism=(parallelism, int),
            hash_len=(hash_len, int),
            salt_len=(salt_len, int),
            encoding=(encoding, str),
            type=(type, Type),
        )
        if e:
            raise TypeError(e)
        self._parameters = Parameters(type, 19, salt_len, hash_len, time_cost, memory_cost,
                                      parallelism)
        self.encoding = encoding

    @classmethod
    def from_parameters(cls, params):
        """A PasswordHasher with the parameters of `params`."""
        return cls(params.time_cost, params.memory_cost, params.parallelism, params.hash_len,
                   params.salt_len, "utf-8", params.type)

    @property
    def time_cost(self):
        return self._parameters.time_cost

    @property
    def memory_cost(self):
        return self._parameters.memory_cost

    @property
    def parallelism(self):
        return self._parameters.parallelism

    @property
    def hash_len(self):
        return self._parameters.hash_len

    @property
    def salt_len(self):
        return self._parameters.salt_len

    @property
    def type(self):
        return self._parameters.type

    def hash(self, password, **kwargs):
        """Hash `password` (str or bytes) and return an encoded hash; `salt=`
        (keyword only) instead of a random one made by the host."""
        salt = kwargs.pop("salt", None)
        if kwargs:
            raise TypeError(
                "PasswordHasher.hash() got an unexpected keyword argument '%s'" % list(kwargs)[0]
            )
        secret = _ensure_bytes(password, self.encoding)
        if salt:
            salt_len = 0
        else:
            salt = None
            salt_len = self.salt_len
            if salt_len < 0:
                raise ValueError("negative argument not allowed")
        return _hash(secret, salt, salt_len, self.time_cost, self.memory_cost, self.parallelism,
                     self.hash_len, self.type, ARGON2_VERSION, False).decode("ascii")

    def verify(self, hash, password):
        """True if `password` matches `hash`; else VerifyMismatchError,
        VerificationError, or InvalidHashError for a hash of no Argon2 type."""
        hash = _ensure_bytes(hash, "ascii")
        hash_type = self._header_to_type.get(hash[:9])
        if hash_type is None:
            raise InvalidHashError
        return verify_secret(hash, _ensure_bytes(password, self.encoding), hash_type)

    def check_needs_rehash(self, hash):
        """Whether `hash` was made with other parameters than this hasher's."""
        if isinstance(hash, bytes):
            hash = hash.decode("ascii")
        return self._parameters != extract_parameters(hash)


# -- argon2._legacy -----------------------------------------------------------


def _deprecated(name):
    if _warnings is not None:
        _warnings.warn(
            "argon2." + name + " is deprecated, use argon2.PasswordHasher instead",
            DeprecationWarning,
            stacklevel=3,
        )


def hash_password(password, salt=None, time_cost=DEFAULT_TIME_COST,
                  memory_cost=DEFAULT_MEMORY_COST, parallelism=DEFAULT_PARALLELISM,
                  hash_len=DEFAULT_HASH_LENGTH, type=Type.I):
    """Legacy alias for low_level.hash_secret with default parameters."""
    _deprecated("hash_password")
    return _hash(password, salt, DEFAULT_RANDOM_SALT_LENGTH, time_cost, memory_cost,
                 parallelism, hash_len, type, ARGON2_VERSION, False)


def hash_password_raw(password, salt=None, time_cost=DEFAULT_TIME_COST,
                      memory_cost=DEFAULT_MEMORY_COST, parallelism=DEFAULT_PARALLELISM,
                      hash_len=DEFAULT_HASH_LENGTH, type=Type.I):
    """Legacy alias for low_level.hash_secret_raw with default parameters."""
    _deprecated("hash_password_raw")
    return _hash(password, salt, DEFAULT_RANDOM_SALT_LENGTH, time_cost, memory_cost,
                 parallelism, hash_len, type, ARGON2_VERSION, True)


def verify_password(hash, password, type=Type.I):
    """Legacy alias for low_level.verify_secret."""
    _deprecated("verify_password")
    return verify_secret(hash, password, type)


# CPython imports submodules as attributes of their package; MicroPython's
# loader sets them once this module is loaded.
if sys.implementation.name != "micropython":
    from argon2 import exceptions, low_level, profiles  # noqa: E402, F401
