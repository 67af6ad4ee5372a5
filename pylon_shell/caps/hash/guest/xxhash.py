# Runs INSIDE the guest, CPython or MicroPython alike, as `xxhash`: the xxhash
# package's API over the hash cap. `_cap_call(method, *args)` comes from the
# runtime's loader (pylon_shell/caps/registry.py); the hashing is the host's
# xxhash. Data is buffered here and crosses in parts of at least STREAM_AT
# bytes, so hashing many small values costs one crossing each and a long stream
# a crossing a MiB; only a stream past STREAM_AT holds a hasher on the host.

STREAM_AT = 1 << 20


def _data(value):
    if isinstance(value, str):
        raise TypeError("Strings must be encoded before hashing")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError("a bytes-like object is required, not '%s'" % type(value).__name__)


def _seed(value):
    if not isinstance(value, int):
        raise TypeError("'%s' object cannot be interpreted as an integer" % type(value).__name__)
    return int(value)


class _Hasher:
    _algorithm = ""
    _modulus = 1 << 64
    digest_size = 8
    block_size = 32

    def __init__(self, input=b"", seed=0):
        self._seed = _seed(seed) % self._modulus
        self._parts = []
        self._size = 0
        self._handle = None
        if input:
            self.update(input)

    @property
    def seed(self):
        return self._seed

    @property
    def name(self):
        return self._name

    def update(self, input):
        data = _data(input)
        if data:
            self._parts.append(data)
            self._size += len(data)
            if self._size >= STREAM_AT:
                self._send()

    def _send(self):
        data = b"".join(self._parts)
        self._parts = []
        self._size = 0
        if self._handle is None:
            self._handle = _cap_call("new", self._algorithm, data, self._seed, None, None)
        elif data:
            _cap_call("update", self._handle, data)

    def digest(self):
        if self._handle is None:
            return _cap_call(
                "oneshot", self._algorithm, b"".join(self._parts), self._seed, None, None, 0, 0
            )
        self._send()
        return _cap_call("digest", self._handle, 0, 0)

    def hexdigest(self):
        return self.digest().hex()

    def intdigest(self):
        return int.from_bytes(self.digest(), "big")

    def copy(self):
        other = type(self)(b"", self._seed)
        if self._handle is None:
            other._parts = list(self._parts)
            other._size = self._size
        else:
            self._send()
            other._handle = _cap_call("copy", self._handle)
        return other

    def reset(self):
        self._drop()
        self._parts = []
        self._size = 0

    def _drop(self):
        if self._handle is not None:
            handle, self._handle = self._handle, None
            _cap_call("drop", handle)

    def __del__(self):
        try:
            self._drop()
        except Exception:
            pass  # the session is ending: the host drops what is left


class xxh32(_Hasher):
    _algorithm = _name = "xxh32"
    _modulus = 1 << 32
    digest_size = 4
    block_size = 16


class xxh64(_Hasher):
    _algorithm = _name = "xxh64"
    digest_size = 8
    block_size = 32


class xxh3_64(_Hasher):
    _algorithm = "xxh3_64"
    _name = "XXH3_64"
    digest_size = 8
    block_size = 64


class xxh3_128(_Hasher):
    _algorithm = "xxh3_128"
    _name = "XXH3_128"
    digest_size = 16
    block_size = 64


xxh128 = xxh3_128


def _oneshot(cls, input, seed):
    return _cap_call("oneshot", cls._algorithm, _data(input), _seed(seed) % cls._modulus, None, None, 0, 0)


def xxh32_digest(input, seed=0):
    return _oneshot(xxh32, input, seed)


def xxh64_digest(input, seed=0):
    return _oneshot(xxh64, input, seed)


def xxh3_64_digest(input, seed=0):
    return _oneshot(xxh3_64, input, seed)


def xxh3_128_digest(input, seed=0):
    return _oneshot(xxh3_128, input, seed)


def xxh32_hexdigest(input, seed=0):
    return xxh32_digest(input, seed).hex()


def xxh64_hexdigest(input, seed=0):
    return xxh64_digest(input, seed).hex()


def xxh3_64_hexdigest(input, seed=0):
    return xxh3_64_digest(input, seed).hex()


def xxh3_128_hexdigest(input, seed=0):
    return xxh3_128_digest(input, seed).hex()


def xxh32_intdigest(input, seed=0):
    return int.from_bytes(xxh32_digest(input, seed), "big")


def xxh64_intdigest(input, seed=0):
    return int.from_bytes(xxh64_digest(input, seed), "big")


def xxh3_64_intdigest(input, seed=0):
    return int.from_bytes(xxh3_64_digest(input, seed), "big")


def xxh3_128_intdigest(input, seed=0):
    return int.from_bytes(xxh3_128_digest(input, seed), "big")


xxh128_digest = xxh3_128_digest
xxh128_hexdigest = xxh3_128_hexdigest
xxh128_intdigest = xxh3_128_intdigest

algorithms_guaranteed = {"xxh32", "xxh64", "xxh3_64", "xxh128", "xxh3_128"}
algorithms_available = algorithms_guaranteed
VERSION, XXHASH_VERSION = _cap_call("versions", "xxhash")
version = VERSION
