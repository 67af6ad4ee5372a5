# Runs INSIDE the guest, CPython or MicroPython alike, as `blake3`: the blake3
# package's API over the hash cap. `_cap_call(method, *args)` comes from the
# runtime's loader (pylon_shell/caps/registry.py); the hashing is the host's
# blake3, single-threaded. Data is buffered as in the xxhash stand-in.

STREAM_AT = 1 << 20


def _data(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError("a bytes-like object is required, not '%s'" % type(value).__name__)


class blake3:
    name = "blake3"
    digest_size = 32
    block_size = 64
    key_size = 32
    AUTO = -1

    def __init__(self, data=b"", key=None, derive_key_context=None, max_threads=1,
                 usedforsecurity=True):
        if not isinstance(max_threads, int) or (max_threads < 1 and max_threads != -1):
            raise ValueError("not a valid number of threads")
        if key is not None:
            key = _data(key)
            if len(key) != 32:
                raise ValueError("expected a 32-byte key, found %d" % len(key))
        if derive_key_context is not None and not isinstance(derive_key_context, str):
            raise TypeError("derive_key_context must be a str")
        if key is not None and derive_key_context is not None:
            raise ValueError("cannot use key and derive_key_context at the same time")
        self._key = key
        self._context = derive_key_context
        self._parts = []
        self._size = 0
        self._handle = None
        if data:
            self.update(data)

    def update(self, data):
        data = _data(data)
        if data:
            self._parts.append(data)
            self._size += len(data)
            if self._size >= STREAM_AT:
                self._send()
        return self

    def update_mmap(self, path):
        # The file is the guest's own (its fs grant), read here in parts.
        with open(path, "rb") as source:
            while True:
                chunk = source.read(STREAM_AT)
                if not chunk:
                    break
                self.update(chunk)
        return self

    def _send(self):
        data = b"".join(self._parts)
        self._parts = []
        self._size = 0
        if self._handle is None:
            self._handle = _cap_call("new", "blake3", data, 0, self._key, self._context)
        elif data:
            _cap_call("update", self._handle, data)

    def digest(self, length=32, seek=0):
        if self._handle is None:
            return _cap_call(
                "oneshot", "blake3", b"".join(self._parts), 0, self._key, self._context,
                length, seek,
            )
        self._send()
        return _cap_call("digest", self._handle, length, seek)

    def hexdigest(self, length=32, seek=0):
        return self.digest(length, seek).hex()

    def copy(self):
        other = blake3(key=self._key, derive_key_context=self._context)
        if self._handle is None:
            other._parts = list(self._parts)
            other._size = self._size
        else:
            self._send()
            other._handle = _cap_call("copy", self._handle)
        return other

    def reset(self):
        if self._handle is not None:
            handle, self._handle = self._handle, None
            _cap_call("drop", handle)
        self._parts = []
        self._size = 0

    def __del__(self):
        try:
            self.reset()
        except Exception:
            pass  # the session is ending: the host drops what is left


__version__ = _cap_call("versions", "blake3")[0]
