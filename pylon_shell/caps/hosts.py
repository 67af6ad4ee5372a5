"""The host allowlist of the net and tls caps: which `host:port` a guest may reach.

A plan's `hosts` and each `--host` are patterns: an exact name or address
(`example.com:443`, `127.0.0.1:8443`, `[::1]:8443`), every subdomain of a name
(`*.example.com:443`, which does not include example.com itself), or any host
(`*:443`); the port is a number or `*`. Nothing is resolved to decide, so a name
and its address are different entries.

A host the guest asks for is checked as a name before it is matched
(`check_host`): a DNS name by the LDH and IDNA rules, or an IP literal in its
canonical text. What libc or a URL parser would read differently from the
pattern (a NUL that ends the name early, `0x7f.1` or `2130706433` for
127.0.0.1, a fullwidth dot, a zone id, percent-encoding) is refused, so the
name that was matched is the one that is connected to: providers pass the
checked form, never the guest's string, to the resolver.
"""

from __future__ import annotations

import encodings.idna
import functools
import ipaddress
import re
import unicodedata
from dataclasses import dataclass

#: One label of a DNS name as it is written on the wire: letters, digits and
#: hyphens, not starting or ending with a hyphen (RFC 1123's LDH rule).
_LDH = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
#: What a URL parser (WHATWG) reads as a number, and so as an IPv4 address.
_NUMBER = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$")
#: Dots that IDNA maps to "." (a name written with them is spelled oddly).
_OTHER_DOTS = "\u3002\uff0e\uff61"
MAX_NAME = 253
MAX_LABEL = 63


class HostSpecError(ValueError):
    """A host pattern that cannot be read; the message says what is wrong."""


class HostNameError(ValueError):
    """A host the guest asked for that is not a name or address pylon connects
    to; the message names the host and says why, in one line."""


@dataclass(frozen=True)
class HostPattern:
    #: Lowercase name, normalized address, "*" (any host) or "*.suffix".
    host: str
    #: None means any port.
    port: int | None

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{'*' if self.port is None else self.port}"

    def matches(self, host: str, port: int) -> bool:
        """Whether `host:port` is allowed by this pattern; a host that is not a
        valid name or address matches nothing, not even `*`."""
        if self.port is not None and self.port != port:
            return False
        try:
            name = check_host(host)
        except HostNameError:
            return False
        if self.host == "*":
            return True
        if self.host.startswith("*."):
            return ":" not in name and name.endswith(self.host[1:])
        return name == self.host


def _shown(host: str) -> str:
    """The host as an error shows it: quoted with escapes (one line), and cut
    short when it is long."""
    return repr(host if len(host) <= 80 else host[:80] + "...")


@functools.lru_cache(maxsize=4096)
def check_host(host: str) -> str:
    """The normalized form of a host a guest asked for (lowercase ASCII or
    punycode, no trailing dot, an address in its canonical text), or
    HostNameError naming the host and why it is refused."""
    if not isinstance(host, str):
        raise HostNameError(f"bad host {host!r}: a host is a string")
    why = _problem(host)
    if isinstance(why, HostNameError):
        raise HostNameError(f"bad host {_shown(host)}: {why}")
    return why


def _problem(host: str) -> str | HostNameError:
    """The normalized host, or (as a HostNameError) why it is not one."""
    if not host:
        return HostNameError("the name is empty")
    if len(host) > MAX_NAME + 2:
        return HostNameError(f"it is longer than {MAX_NAME} characters")
    for char in host:
        category = unicodedata.category(char)
        if category == "Cc":
            return HostNameError(f"it contains the control character U+{ord(char):04X}")
        if category[0] == "C":
            return HostNameError(f"it contains the invisible character U+{ord(char):04X}")
        if category[0] == "Z" or char.isspace():
            return HostNameError(f"it contains a space (U+{ord(char):04X})")
    if "%" in host:
        return HostNameError("'%' is not allowed (no percent-encoding, no IPv6 zone ids)")
    if host.startswith("[") or host.endswith("]"):
        if not (host.startswith("[") and host.endswith("]")):
            return HostNameError("unbalanced brackets")
        return _ipv6(host[1:-1])
    if ":" in host:
        return _ipv6(host)
    return _name(host)


def _ipv6(text: str) -> str | HostNameError:
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError:
        return HostNameError("it is not an IPv6 address")
    if address.ipv4_mapped is not None:
        return HostNameError(
            f"an IPv4-mapped IPv6 address; write the IPv4 address {address.ipv4_mapped}"
        )
    return str(address)


def _name(host: str) -> str | HostNameError:
    for dot in _OTHER_DOTS:
        if dot in host:
            return HostNameError(f"labels are separated by '.', not U+{ord(dot):04X}")
    name = host[:-1] if host.endswith(".") else host
    labels = name.split(".")
    if not all(labels):
        return HostNameError("it has an empty label")
    if _NUMBER.match(labels[-1].lower()):
        # libc and URL parsers read such a name as an IPv4 address, in any of
        # several spellings (127.1, 0x7f.1, 2130706433, 0177.0.0.1).
        try:
            address = ipaddress.IPv4Address(host)
        except ValueError:
            address = None
        if address is None or str(address) != host:
            return HostNameError(
                "a name ending in a number must be an IPv4 address written a.b.c.d "
                "(decimal, no leading zeros)"
            )
        return host
    out = []
    for label in labels:
        ascii_label = _label(label)
        if isinstance(ascii_label, HostNameError):
            return ascii_label
        out.append(ascii_label)
    normalized = ".".join(out)
    if len(normalized) > MAX_NAME:
        return HostNameError(f"it is longer than {MAX_NAME} characters")
    return normalized


def _label(label: str) -> str | HostNameError:
    """One label in its ASCII form (IDNA), or why it is not a label."""
    if label.isascii():
        ascii_label = label.lower()
        if ascii_label.startswith("xn--"):
            # An A-label must be punycode that IDNA would itself write.
            try:
                unicode_label = encodings.idna.ToUnicode(ascii_label)
                valid = encodings.idna.ToASCII(unicode_label).decode() == ascii_label
            except UnicodeError:
                valid = False
            if not valid or unicode_label == ascii_label:
                return HostNameError(f"the label {label!r} is not valid IDNA (punycode)")
    else:
        try:
            ascii_label = encodings.idna.ToASCII(label.lower()).decode("ascii")
            back = encodings.idna.ToUnicode(ascii_label)
        except UnicodeError:
            return HostNameError(f"the label {label!r} is not a valid internationalized label")
        if back != label.lower():
            # IDNA maps the spelling to another one (fullwidth letters,
            # invisible joiners, ß): the name in the pattern and the one asked
            # for would not be the same string.
            return HostNameError(
                f"the label {label!r} is not in IDNA's normal form (that is {back!r})"
            )
    if len(ascii_label) > MAX_LABEL:
        return HostNameError(f"a label is longer than {MAX_LABEL} characters")
    if not _LDH.match(ascii_label):
        return HostNameError(
            f"the label {label!r} is not letters, digits and '-' (not at either end)"
        )
    if ascii_label[2:4] == "--" and not ascii_label.startswith("xn--"):
        return HostNameError(f"the label {label!r} has '--' in the 3rd and 4th places")
    return ascii_label


def normalize_host(host: str) -> str:
    """The form hosts are compared in (see check_host)."""
    return check_host(host)


def parse_pattern(spec: str) -> HostPattern:
    """`HOST:PORT` as a pattern, or HostSpecError naming what is wrong."""
    text = spec.strip()
    if text.startswith("["):
        host, sep, rest = text[1:].partition("]")
        if not sep or not rest.startswith(":"):
            raise HostSpecError(f"expected [ADDRESS]:PORT, got {spec!r}")
        port_text = rest[1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise HostSpecError(f"{host!r} is not an IPv6 address") from None
        host = f"[{host}]"
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host:
            raise HostSpecError(f"expected HOST:PORT (e.g. example.com:443), got {spec!r}")
        if ":" in host:
            raise HostSpecError(f"write an IPv6 address in brackets, e.g. [::1]:443, not {spec!r}")
    port = _port(port_text, spec)
    if host == "*":
        return HostPattern("*", port)
    wild = host.startswith("*.")
    try:
        name = check_host(host[2:] if wild else host)
    except HostNameError as error:
        why = str(error).partition(": ")[2]
        raise HostSpecError(
            f"{host!r} is not a host name, address, '*' or '*.domain' ({why})"
        ) from None
    if wild:
        if ":" in name or _NUMBER.match(name.rpartition(".")[2]):
            raise HostSpecError(f"{host!r}: '*.' goes before a name, not an address")
        name = "*." + name
    return HostPattern(name, port)


def as_pattern(value: str | HostPattern) -> HostPattern:
    return value if isinstance(value, HostPattern) else parse_pattern(value)


def _port(text: str, spec: str) -> int | None:
    if text == "*":
        return None
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise HostSpecError(f"the port of {spec!r} must be 1 to 65535 or '*'")
    return int(text)


def target(host: str, port: int) -> str:
    """How a connection's destination is written in events and messages; the
    host must be valid (HostNameError says why not)."""
    name = check_host(host)
    return f"[{name}]:{port}" if ":" in name else f"{name}:{port}"


def split_target(text: str) -> tuple[str, int] | None:
    """(host, port) of a target written by `target`, or None if it is not one."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]"), int(port)
