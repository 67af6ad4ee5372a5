"""The tls cap's parsing of what the guest loads: CA certificates, client
certificate chains, DH parameters, single certificates (_ssl._test_decode_cert).

CPython's `_ssl` parses these at the call (`load_verify_locations` of a
malformed file is an SSLError there and then, `cert_store_stats` counts what
was loaded), and programs rely on it. The guest has no OpenSSL, so it reads
its own files and sends their bytes here, into the provider process, where
the host's OpenSSL (the same parser that reads every peer's certificate) loads
them into a scratch context that is thrown away: nothing here ever becomes
part of a context a session uses (the handshake builds its own from the
settings, under the policy). Guest paths never reach the host; the bytes are
bounded before OpenSSL sees them; a crash of the parser takes down the
provider process, not the launcher.
"""

from __future__ import annotations

import _ssl
import base64
import binascii
import os
import re
import ssl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pylon_shell.caps.net.provider import failure
from pylon_shell.caps.values import ProviderError

#: The most bytes one parse takes (a whole trust bundle is about 250 KiB).
MAX_PARSE_BYTES = 4 << 20
#: The most certificates one parse hands back.
MAX_CERTIFICATES = 4096
#: OpenSSL's password buffer (PEM_BUFSIZE): CPython refuses a longer password.
MAX_PASSWORD = 1024
FORMS = ("cafile", "pem", "der", "decode", "dhparams")
_PEM_BEGIN = re.compile(rb"-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----")
_PEM_END = re.compile(rb"-----END (?:X509 |TRUSTED )?CERTIFICATE-----")


def _bounded(data: bytes, what: str) -> bytes:
    if len(data) > MAX_PARSE_BYTES:
        raise ProviderError(
            "ValueError",
            f"{what} is {len(data)} bytes; the tls cap parses at most {MAX_PARSE_BYTES} bytes",
        )
    return data


@contextmanager
def _files(**contents: bytes | None) -> Iterator[dict[str, str | None]]:
    """The bytes as private files for the time of the call (ssl reads these
    only from files), in the provider's own scratch directory."""
    with tempfile.TemporaryDirectory(prefix="pylon-tls-") as folder:
        paths: dict[str, str | None] = {}
        for name, data in contents.items():
            if data is None:
                paths[name] = None
                continue
            path = os.path.join(folder, f"{name}.pem")
            with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
                out.write(data)
            paths[name] = path
        yield paths


def _der_certificates(data: bytes) -> list[bytes]:
    """Concatenated DER certificates, split by their outer SEQUENCE's length
    (only called once OpenSSL has loaded `data`). Bytes after the last one are
    an SSLError, as in CPython 3.14 (the host's older _ssl ignores them)."""
    found: list[bytes] = []
    at = 0
    while at < len(data) and len(found) < MAX_CERTIFICATES:
        if data[at] != 0x30 or at + 2 > len(data):
            break
        size, head = data[at + 1], 2
        if size & 0x80:
            count = size & 0x7F
            if not 0 < count <= 4 or at + 2 + count > len(data):
                break
            size, head = int.from_bytes(data[at + 2 : at + 2 + count], "big"), 2 + count
        end = at + head + size
        if end > len(data):
            break
        found.append(data[at:end])
        at = end
    if at < len(data):
        raise ProviderError(
            "SSLError",
            f"[Errno 0] not enough data: cadata has {len(data) - at} bytes after its last "
            "DER certificate",
        )
    return found


def _pem_certificates(data: bytes) -> list[bytes]:
    """The certificate blocks of PEM text, in one pass (each search starts
    where the last block ended, so hostile text costs linear time)."""
    found: list[bytes] = []
    at = 0
    while len(found) < MAX_CERTIFICATES:
        begin = _PEM_BEGIN.search(data, at)
        if begin is None:
            break
        end = _PEM_END.search(data, begin.end())
        if end is None:
            break
        at = end.end()
        try:
            found.append(base64.b64decode(b"".join(data[begin.end() : end.start()].split())))
        except (binascii.Error, ValueError):
            continue
    return found


def certificates(data: bytes, form: str) -> list[dict[str, Any]]:
    """What `load_verify_locations` would load from these bytes, as CPython
    loads them (`cafile`: a PEM file; `pem`, `der`: cadata), or the first PEM
    certificate decoded (`decode`), or DH parameters checked (`dhparams`).
    Each certificate as {der (hex), ca, decoded (for a CA certificate, the
    dict get_ca_certs gives)}. OpenSSL's errors are the guest's SSLError."""
    if form not in FORMS:
        raise ProviderError("ValueError", f"bad certificate form {form[:40]!r}")
    _bounded(data, "the data")
    try:
        if form == "decode":
            with _files(cert=data) as paths:
                # _ssl's private decoder, which CPython's own tests use; not in typeshed.
                decoded = _ssl._test_decode_cert(paths["cert"])  # type: ignore[attr-defined]
            return [{"der": None, "ca": False, "decoded": decoded}]
        if form == "dhparams":
            with _files(dh=data) as paths:
                ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_dh_params(str(paths["dh"]))
            return []
        scratch = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if form == "cafile":
            with _files(ca=data) as paths:
                scratch.load_verify_locations(cafile=paths["ca"])
        elif form == "pem":
            try:
                text = data.decode("ascii")
            except UnicodeDecodeError:
                raise ProviderError(
                    "TypeError", "cadata should be an ASCII string or a bytes-like object"
                ) from None
            scratch.load_verify_locations(cadata=text)
        else:
            scratch.load_verify_locations(cadata=data)
    except (OSError, ValueError) as error:
        raise failure(error) from None
    ders = _der_certificates(data) if form == "der" else _pem_certificates(data)
    authorities = dict(
        zip(scratch.get_ca_certs(binary_form=True), scratch.get_ca_certs(), strict=True)
    )
    out = []
    for der in ders:
        decoded = authorities.get(der)
        out.append({"der": der.hex(), "ca": decoded is not None, "decoded": decoded})
    return out


def check_cert_chain(cert: bytes, key: bytes | None, password: bytes | None) -> None:
    """Load a client certificate and key as `load_cert_chain` does, on a
    scratch context, so a malformed certificate or key, a key that does not
    match, or a wrong password fails at the guest's call."""
    _bounded(cert, "certfile")
    if key is not None:
        _bounded(key, "keyfile")
    if password is not None and len(password) > MAX_PASSWORD:
        raise ProviderError(
            "ValueError", f"password cannot be longer than {MAX_PASSWORD} bytes"
        )
    scratch = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        with _files(cert=cert, key=key) as paths:
            # A callable, never None: OpenSSL's own callback would prompt a terminal.
            scratch.load_cert_chain(str(paths["cert"]), paths["key"], lambda: password or b"")
    except (OSError, ValueError) as error:
        raise failure(error) from None
