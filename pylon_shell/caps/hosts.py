"""The host allowlist of the net and tls caps: which `host:port` a guest may reach.

A plan's `hosts` and each `--host` are patterns: an exact name or address
(`example.com:443`, `127.0.0.1:8443`, `[::1]:8443`), every subdomain of a name
(`*.example.com:443`, which does not include example.com itself), or any host
(`*:443`); the port is a number or `*`. Names compare without case and without
a trailing dot, since DNS does; nothing is resolved to decide, so a name and its
address are different entries.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


class HostSpecError(ValueError):
    """A host pattern that cannot be read; the message says what is wrong."""


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
        if self.port is not None and self.port != port:
            return False
        name = normalize_host(host)
        if self.host == "*":
            return True
        if self.host.startswith("*."):
            return name.endswith(self.host[1:])
        return name == self.host


def normalize_host(host: str) -> str:
    """The form hosts are compared in: lowercase, no trailing dot, addresses
    in their canonical text (so ::0001 and ::1 are the same host)."""
    host = host.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


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
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host:
            raise HostSpecError(f"expected HOST:PORT (e.g. example.com:443), got {spec!r}")
        if ":" in host:
            raise HostSpecError(f"write an IPv6 address in brackets, e.g. [::1]:443, not {spec!r}")
    port = _port(port_text, spec)
    name = normalize_host(host)
    if name != "*":
        labels = name[2:].split(".") if name.startswith("*.") else name.split(".")
        if ":" not in name and not all(_LABEL.match(label) for label in labels):
            raise HostSpecError(f"{host!r} is not a host name, address, '*' or '*.domain'")
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
    """How a connection's destination is written in events and messages."""
    name = normalize_host(host)
    return f"[{name}]:{port}" if ":" in name else f"{name}:{port}"


def split_target(text: str) -> tuple[str, int] | None:
    """(host, port) of a target written by `target`, or None if it is not one."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        return None
    return host.strip("[]"), int(port)
