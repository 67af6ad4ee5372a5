# Runs INSIDE the MicroPython guest as `pylon` (with .crypto and .https): the
# crypto and tls caps over the host bridge, with the names of the CPython
# guest's pylon.crypto and pylon.https.
# Bytes travel as hex; keys are generated on the host (MicroPython's
# os.urandom has no /dev/urandom under WASI).
# `_bridge` and `BridgeError` come from the session loop (pylon_boot.py).


class InvalidTag(Exception):
    pass


class InvalidSignature(Exception):
    pass


def _hex(value):
    return None if value is None else bytes(value).hex()


def _call(name, *args):
    try:
        out = _bridge("crypto." + name, *args)
    except BridgeError as error:
        cls = {"InvalidTag": InvalidTag, "TypeError": TypeError}.get(error.kind, ValueError)
        raise cls(error.message)
    return bytes.fromhex(out) if isinstance(out, str) else out


def _random(n):
    return _call("random_bytes", n)


def pbkdf2_hmac(hash_name, password, salt, iterations, dklen=None):
    return _call("pbkdf2_hmac", hash_name, _hex(password), _hex(salt), iterations, dklen)


def scrypt(password, salt, n, r, p, maxmem=0, dklen=64):
    return _call("scrypt", _hex(password), _hex(salt), n, r, p, maxmem, dklen)


class _AEAD:
    def __init__(self, key):
        self._key = bytes(key)

    def encrypt(self, nonce, data, associated_data):
        return _call("aead_encrypt", self._algorithm, _hex(self._key), _hex(nonce), _hex(data),
                     _hex(associated_data))

    def decrypt(self, nonce, data, associated_data):
        return _call("aead_decrypt", self._algorithm, _hex(self._key), _hex(nonce), _hex(data),
                     _hex(associated_data))


class AESGCM(_AEAD):
    _algorithm = "aes-gcm"

    @staticmethod
    def generate_key(bit_length):
        return _random(bit_length // 8)


class ChaCha20Poly1305(_AEAD):
    _algorithm = "chacha20-poly1305"

    @staticmethod
    def generate_key():
        return _random(32)


class _PublicKey:
    def __init__(self, raw):
        self._raw = bytes(raw)

    @classmethod
    def from_public_bytes(cls, data):
        return cls(data)

    def public_bytes_raw(self):
        return self._raw


class _PrivateKey(_PublicKey):
    @classmethod
    def generate(cls):
        return cls(_random(32))

    @classmethod
    def from_private_bytes(cls, data):
        return cls(data)

    def private_bytes_raw(self):
        return self._raw

    def public_key(self):
        return self._public(_call("public_key", self._algorithm, _hex(self._raw)))


class Ed25519PublicKey(_PublicKey):
    def verify(self, signature, data):
        if not _call("ed25519_verify", _hex(self._raw), _hex(signature), _hex(data)):
            raise InvalidSignature()


class Ed25519PrivateKey(_PrivateKey):
    _public = Ed25519PublicKey
    _algorithm = "ed25519"

    def sign(self, data):
        return _call("ed25519_sign", _hex(self._raw), _hex(data))


class X25519PublicKey(_PublicKey):
    pass


class X25519PrivateKey(_PrivateKey):
    _public = X25519PublicKey
    _algorithm = "x25519"

    def exchange(self, peer_public_key):
        return _call("x25519_exchange", _hex(self._raw), _hex(peer_public_key._raw))


class _Namespace:
    pass


crypto = _Namespace()
for _name in ("InvalidTag", "InvalidSignature", "pbkdf2_hmac", "scrypt", "AESGCM",
              "ChaCha20Poly1305", "Ed25519PublicKey", "Ed25519PrivateKey", "X25519PublicKey",
              "X25519PrivateKey"):
    setattr(crypto, _name, globals()[_name])


# -- pylon.https: MicroPython has no socket or ssl; the host makes the request
# (checked as a TLS connection to the URL's host:port, certificates verified).


class Response:
    def __init__(self, status, reason, headers, body, url):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.url = url

    def header(self, name, default=None):
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return default

    def text(self, encoding="utf-8"):
        return self.body.decode(encoding)

    def json(self):
        import json

        return json.loads(self.body)

    def __repr__(self):
        return "<Response %d %s %d bytes>" % (self.status, self.reason, len(self.body))


def request(method, url, body=None, headers=None, cafile=None, timeout=None):
    import json

    cadata = []
    if cafile is not None:
        with open(cafile) as file:
            cadata.append({"pem": file.read()})
    settings = json.dumps({"verify_mode": 2, "check_hostname": True,
                           "default_certs": cafile is None, "cadata": cadata})
    if isinstance(body, str):
        body = body.encode()
    try:
        out = _bridge_bytes("https.request", [method, url, headers or {}, settings, timeout],
                            body or b"")
    except BridgeError as error:
        kind = error.kind.split("/")[0]
        message = error.message
        if message.startswith("[Errno "):
            message = message[message.find("] ") + 2:]
        cls = {"ValueError": ValueError, "MemoryError": MemoryError}.get(kind, OSError)
        raise cls(message if cls is not OSError else kind + ": " + message)
    cut = out.find(b"\n")
    head = json.loads(out[:cut])
    headers = [tuple(pair) for pair in head["headers"]]
    return Response(head["status"], head["reason"], headers, out[cut + 1:], head["url"])


def get(url, headers=None, cafile=None, timeout=None):
    return request("GET", url, None, headers, cafile, timeout)


def post(url, body=b"", headers=None, cafile=None, timeout=None):
    return request("POST", url, body, headers, cafile, timeout)


https = _Namespace()
for _name in ("Response", "request", "get", "post"):
    setattr(https, _name, globals()[_name])
