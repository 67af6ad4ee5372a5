"""Kernel confinement of the provider process: Landlock and resource limits.

The provider process runs DuckDB, OpenSSL, liblzma, libbz2 and zstd on input
the guest chose. Those libraries have had bugs and will again, so the process
that runs them is confined as if it were already compromised: Landlock (Linux
5.13+) limits its files to the session's grants, its scratch directory and,
read-only, what its own code loads; on ABI 4+ it may bind no TCP port and
connect only to the ports of the plan's host grants; on ABI 6+ it may not
signal other processes or reach abstract unix sockets. rlimits bound its
address space, open files and CPU. Landlock applies to the calling process
and cannot be lifted, which is why it is only ever applied in the worker.

Where the kernel has no Landlock (older Linux, macOS) the rlimits, the empty
environment and the launcher's checks remain; `status()` says which is in
force so `pylon caps` and docs/security.md can tell the user honestly.
"""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import ssl
import stat
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# The syscall numbers are the same on every architecture that has Landlock.
_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH, _RULE_NET_PORT = 1, 2
_PR_SET_NO_NEW_PRIVS = 38

# Filesystem access rights (include/uapi/linux/landlock.h) and the ABI that added them.
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
#: Rights that make sense on a file (the kernel refuses others on a file rule).
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
BIND_TCP, CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1

READ_ONLY = READ_FILE | READ_DIR
#: Code the worker loads (its Python, shared libraries) may also be executed.
LOADABLE = READ_ONLY | EXECUTE
READ_WRITE = (
    READ_FILE
    | READ_DIR
    | WRITE_FILE
    | REMOVE_DIR
    | REMOVE_FILE
    | MAKE_DIR
    | MAKE_REG
    | MAKE_SYM
    | MAKE_FIFO
    | MAKE_SOCK
    | REFER
    | TRUNCATE
)

#: What the worker's own code reads, besides its interpreter's prefixes:
#: shared libraries, the trust store, name resolution, time zones, and the
#: /proc and /sys files DuckDB and the allocator consult.
SYSTEM_READ = (
    "/usr/lib",
    "/usr/lib64",
    "/usr/local/lib",
    "/lib",
    "/lib64",
    "/etc/ssl",
    "/etc/pki",
    "/usr/share/ca-certificates",
    "/etc/ca-certificates",
    "/etc/ld.so.cache",
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/gai.conf",
    "/etc/host.conf",
    "/etc/localtime",
    "/usr/share/zoneinfo",
    "/dev/urandom",
    "/dev/random",
    "/proc/self",
    "/proc/meminfo",
    "/proc/cpuinfo",
    "/sys/devices/system/cpu",
    "/sys/fs/cgroup",
)
#: Written by libraries that log or discard output.
SYSTEM_WRITE = ("/dev/null",)

#: Address space the worker needs beyond the data it holds for the guest: its
#: interpreter and libraries, thread stacks and allocator arenas (DuckDB with
#: two threads peaks near 260 MiB of address space with MALLOC_ARENA_MAX=2).
ALLOWANCE_MIB = 512
#: The data a worker may hold when the plan sets no --memory.
DEFAULT_DATA_MIB = 4096
#: Open files (DuckDB's files, sockets, libraries).
MAX_FILES = 2048
#: CPU seconds over the worker's life: a backstop, the kill switch is the limit.
MAX_CPU_SECONDS = 6 * 3600


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _NetPortAttr(ctypes.Structure):
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


def _libc() -> ctypes.CDLL | None:
    if platform.system() != "Linux":
        return None
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 where there is none."""
    libc = _libc()
    if libc is None:
        return 0
    abi = libc.syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION)
    return abi if abi > 0 else 0


@dataclass
class Confinement:
    """What one provider process may reach, computed by the launcher."""

    read_write: list[Path] = field(default_factory=list)
    read_only: list[Path] = field(default_factory=list)
    #: TCP ports it may connect to; None means any port (a grant with port *).
    connect_ports: set[int] | None = field(default_factory=set)
    memory_mib: int | None = None


def status() -> str:
    """One line on what confines provider processes on this machine."""
    abi = landlock_abi()
    limits = f"rlimits (address space: --memory + {ALLOWANCE_MIB} MiB, files, CPU)"
    if abi == 0:
        return f"{limits} and an empty environment (no Landlock on this kernel: files not confined)"
    parts = ["files"]
    if abi >= 4:
        parts.append("TCP ports")
    if abi >= 6:
        parts.append("signals and abstract sockets")
    return f"Landlock ABI {abi} ({', '.join(parts)}), {limits}, an empty environment"


def own_code_paths() -> list[Path]:
    """Where the worker's Python and the packages it imports live."""
    import pylon_shell

    roots = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix)}
    roots.update(Path(entry) for entry in sys.path if entry)
    roots.add(Path(pylon_shell.__file__).resolve().parent)
    roots.add(Path(sys.executable).resolve().parent)
    paths = ssl.get_default_verify_paths()
    for found in (paths.cafile, paths.capath, paths.openssl_cafile, paths.openssl_capath):
        if found:
            roots.add(Path(found))
    return sorted(roots)


def limit_resources(memory_mib: int | None) -> None:
    """rlimits: address space, open files, CPU, no core files."""
    data = memory_mib if memory_mib is not None else DEFAULT_DATA_MIB
    address_space = (data + ALLOWANCE_MIB) << 20
    for which, value in (
        (resource.RLIMIT_AS, address_space),
        (resource.RLIMIT_NOFILE, MAX_FILES),
        (resource.RLIMIT_CPU, MAX_CPU_SECONDS),
        (resource.RLIMIT_CORE, 0),
    ):
        _, hard = resource.getrlimit(which)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            # Not every OS enforces every limit (macOS refuses RLIMIT_AS);
            # the others still apply.
            continue


def restrict_self(confinement: Confinement, extra_read: Iterable[Path] = ()) -> int:
    """Apply Landlock to this process; the ABI used, or 0 where there is none.

    Paths that do not exist are skipped (not every system has /lib64)."""
    libc = _libc()
    abi = landlock_abi()
    if libc is None or abi == 0:
        return 0
    fs_rights = _FS_BY_ABI[max(k for k in _FS_BY_ABI if k <= abi)]
    attr = _RulesetAttr(handled_access_fs=fs_rights)
    if abi >= 4:
        attr.handled_access_net = BIND_TCP | (
            CONNECT_TCP if confinement.connect_ports is not None else 0
        )
    if abi >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
    ruleset = libc.syscall(
        _CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)), 0
    )
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        rules = [(p, LOADABLE) for p in (*own_code_paths(), *map(Path, SYSTEM_READ), *extra_read)]
        rules += [(Path(p), READ_WRITE & ~(MAKE_DIR | MAKE_REG)) for p in SYSTEM_WRITE]
        rules += [(p, READ_ONLY) for p in confinement.read_only]
        rules += [(p, READ_WRITE) for p in confinement.read_write]
        for path, rights in rules:
            _add_path_rule(libc, ruleset, path, rights & fs_rights)
        if abi >= 4 and confinement.connect_ports:
            for port in sorted(confinement.connect_ports):
                rule = _NetPortAttr(allowed_access=CONNECT_TCP, port=port)
                if libc.syscall(_ADD_RULE, ruleset, _RULE_NET_PORT, ctypes.byref(rule), 0) < 0:
                    raise OSError(ctypes.get_errno(), f"landlock rule for port {port} failed")
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.syscall(_RESTRICT_SELF, ruleset, 0) < 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)
    return abi


def _add_path_rule(libc: ctypes.CDLL, ruleset: int, path: Path, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= _FILE_RIGHTS
        rule = _PathBeneathAttr(allowed_access=rights, parent_fd=fd)
        if libc.syscall(_ADD_RULE, ruleset, _RULE_PATH_BENEATH, ctypes.byref(rule), 0) < 0:
            raise OSError(ctypes.get_errno(), f"landlock rule for {path} failed")
    finally:
        os.close(fd)
