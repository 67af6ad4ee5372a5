"""The provider process: host libraries run confined, killable and crash-contained.

Each test runs a real guest through `pylon` (or a real runtime) and asserts
what the user sees: the one line a crash, a kill or a refusal gives, that the
interpreter's state outlived it, and that the host was not reached.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import Captured

from pylon_shell.caps import confine
from pylon_shell.launch import start_runtime
from pylon_shell.options import RuntimeOptions
from pylon_shell.runtimes.base import Ok

PYLON = [sys.executable, "-m", "pylon_shell"]
LANDLOCK = confine.landlock_abi()


def workers_of(pid: int) -> list[int]:
    """The provider processes a pylon process started (its children running the worker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and b"pylon_shell.caps.worker" in cmdline:
            found.append(int(entry.name))
    return found


@contextmanager
def busy_in_a_provider(flag: str, code: str, first_line: str) -> Iterator[tuple[Any, int]]:
    """pylon running `code` under the crypto cap, once it printed `first_line`
    and its provider process exists: (the pylon process, the worker's pid)."""
    proc = subprocess.Popen(
        [*PYLON, flag, "--cap", "crypto", "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == first_line
        deadline = time.monotonic() + 30
        while not (workers := workers_of(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert workers, "no provider process was started"
        yield proc, workers[0]
    finally:
        proc.kill()


def test_a_host_library_bug_the_guest_could_trigger_no_longer_reaches_the_library(pylon):
    # Host CPython 3.11's _lzma segfaulted on this (FIELD-NOTES); in the
    # launcher it took pylon down. The provider now answers it as CPython 3.14
    # does, and a crash of any other kind is contained (the tests below).
    code = (
        "import lzma\n"
        "print(lzma._decode_filter_properties(lzma.FILTER_X86, b''))\n"
        "print(lzma.decompress(lzma.compress(b'again')))\n"
    )
    result = pylon("--cap", "compression", "-c", code)
    assert result.status == 0, result.stderr
    assert result.stdout.splitlines() == [f"{{'id': {__import__('lzma').FILTER_X86}}}", "b'again'"]


@pytest.mark.parametrize("flag", ["--cp", "--mp"])
def test_a_provider_killed_by_a_signal_mid_call_ends_that_call_only(built, flag):
    """Any crash of the provider, whatever the library: here the test kills it
    with SIGSEGV while it is busy in a KDF."""
    code = textwrap.dedent(
        """
        import hashlib
        try:
            from pylon.crypto import pbkdf2_hmac
        except ImportError:
            pbkdf2_hmac = hashlib.pbkdf2_hmac
        state = "kept"
        print("busy", flush=True)
        try:
            pbkdf2_hmac("sha256", b"x", b"y", 10**9)
        except OSError as error:
            print("error:", error)
        print(state, pbkdf2_hmac("sha256", b"x", b"y", 1).hex()[:8])
        """
    )
    with busy_in_a_provider(flag, code, "busy\n") as (proc, worker):
        time.sleep(0.2)
        os.kill(worker, signal.SIGSEGV)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.splitlines() == [
        "error: the crypto provider crashed (SIGSEGV); its objects are gone",
        "kept " + __import__("hashlib").pbkdf2_hmac("sha256", b"x", b"y", 1).hex()[:8],
    ]


@pytest.mark.parametrize(
    ("flag", "code"),
    [
        ("--cp", "import hashlib\nhashlib.pbkdf2_hmac('sha256', b'x', b'y', 10**9)"),
        ("--mp", "from pylon.crypto import pbkdf2_hmac\npbkdf2_hmac('sha256', b'x', b'y', 10**9)"),
        (
            "--cp",
            "import duckdb\nduckdb.sql('select count(*) from range(100000000000) a').fetchall()",
        ),
        (
            "--mp",
            "import duckdb\n"
            "duckdb.connect().execute('select count(*) from range(100000000000) a').fetchall()",
        ),
    ],
    ids=["pbkdf2-cp", "pbkdf2-mp", "duckdb-cp", "duckdb-mp"],
)
def test_timeout_stops_host_work_that_does_not_return(pylon, flag, code):
    """A C call that runs for minutes (a KDF with 10**9 iterations, a huge
    DuckDB query) ends at --timeout: the worker is killed."""
    marked = "print('started')\n" + code
    started = time.monotonic()
    result = pylon(flag, "--cap", "crypto", "--cap", "duckdb", "--timeout", "2", "-c", marked)
    elapsed = time.monotonic() - started
    assert result.status == 124, result.stderr
    assert result.stdout == "started\n"  # the guest was in the host call, not starting up
    assert result.stderr.strip() == "pylon: timed out after 2 s (raise it with --timeout)"
    assert elapsed < 30  # the KDF alone runs for minutes


@pytest.mark.parametrize("flag", ["--cp", "--mp"])
def test_ctrl_c_stops_a_host_call_and_ends_with_130(built, flag):
    code = (
        "import hashlib\nprint('running', flush=True)\n"
        "hashlib.pbkdf2_hmac('sha256', b'x', b'y', 10**9)"
        if flag == "--cp"
        else "from pylon.crypto import pbkdf2_hmac\nprint('running')\n"
        "pbkdf2_hmac('sha256', b'x', b'y', 10**9)"
    )
    with busy_in_a_provider(flag, code, "running\n") as (proc, _worker):
        proc.send_signal(signal.SIGINT)
        status = proc.wait(timeout=30)
    assert status == 130
    assert not workers_of(proc.pid)


def test_a_session_without_host_caps_starts_no_provider_process(built):
    out = Captured()
    rt = start_runtime("cpython", RuntimeOptions(timeout=20), out)
    try:
        assert rt.run_input("x = sum(range(10))") == Ok()
        assert rt.caps.process.started == 0  # type: ignore[attr-defined]
        assert rt.caps.process.landlock_abi is None  # type: ignore[attr-defined]
    finally:
        rt.close()


def test_no_setting_or_error_shows_a_host_path(pylon, tmp_path):
    data = tmp_path / "granted"
    data.mkdir()
    code = textwrap.dedent(
        """
        import duckdb
        c = duckdb.connect()
        for name, value in c.sql("select name, value from duckdb_settings()").fetchall():
            print(name, value)
        try:
            c.sql("select * from read_csv('/data/missing.csv')").fetchall()
        except Exception as error:
            print(error)
        """
    )
    result = pylon("--cap", "duckdb", "--dir", f"{data}:/data", "-c", code)
    assert result.status == 0, result.stderr
    assert "allowed_directories [/data/]" in result.stdout
    assert '"/data/missing.csv"' in result.stdout
    for host in (str(tmp_path), str(Path.home()), "/tmp/pylon-provider", os.getcwd()):
        assert host not in result.stdout


def test_a_provider_call_past_the_memory_limit_is_memory_error(pylon):
    # Each preset-9 LZMA compressor holds about 674 MiB on the host: under
    # --memory 64 the first cannot be made, and the guest hears MemoryError.
    code = textwrap.dedent(
        """
        import lzma
        made = []
        try:
            for _ in range(16):
                made.append(lzma.LZMACompressor(preset=9))
        except MemoryError as error:
            print("MemoryError after", len(made))
        print(len(lzma.compress(b"small")) > 0)
        """
    )
    result = pylon("--cap", "compression", "--memory", "64", "-c", code)
    assert result.status == 0, result.stderr
    assert result.stdout.splitlines() == ["MemoryError after 0", "True"]


BOMB_MODULES = {"bz2": "bz2", "lzma": "lzma", "zstd": "compression.zstd"}


@pytest.mark.parametrize("codec", sorted(BOMB_MODULES))
@pytest.mark.parametrize("flag", ["--cp", "--mp"])
def test_a_decompression_bomb_never_fills_the_host(pylon, tmp_path, flag, codec):
    """1 GiB of zeros in a stream of a few hundred KiB at most: the provider
    makes at most one bounded piece at a time (CPython's stand-in asks for the
    rest into guest memory, which --memory bounds, so the guest hears
    MemoryError); MicroPython's one-shot stops at 64 MiB."""
    import importlib

    if codec == "zstd":
        try:
            host = importlib.import_module("compression.zstd")
        except ImportError:
            host = importlib.import_module("backports.zstd")
    else:
        host = importlib.import_module(codec)
    (tmp_path / "bomb").write_bytes(host.compress(b"\0" * (1 << 30)))
    module = BOMB_MODULES[codec]
    code = (
        f"import {module}\nbomb = open('/w/bomb', 'rb').read()\n"
        f"try:\n    {module}.decompress(bomb)\nexcept MemoryError as error:\n"
        "    print('MemoryError:', error)\n"
    )
    flags = ("--cap", "compression", "--memory", "128", "--dir", f"{tmp_path}:/w:ro")
    result = pylon(flag, *flags, "-c", code)
    assert result.status == 0, result.stderr
    assert result.stdout.startswith("MemoryError")
    if flag == "--mp":
        assert result.stdout.strip() == "MemoryError: the decompressed data is larger than 64 MiB"


def test_a_scrypt_memory_bomb_is_held_to_memory(pylon):
    """n=2**20, r=8 needs 1 GiB: under --memory 64 the guest's maxmem cannot
    lift the provider's ceiling, and OpenSSL refuses as CPython does."""
    code = (
        "import hashlib\ntry:\n"
        "    hashlib.scrypt(b'x', salt=b'y', n=2**20, r=8, p=1, maxmem=2**31 - 1)\n"
        "except ValueError as error:\n    print('ValueError:', error)\n"
    )
    result = pylon("--cap", "crypto", "--memory", "64", "--timeout", "30", "-c", code)
    assert result.status == 0, result.stderr
    assert result.stdout.startswith("ValueError:")
    assert "memory limit exceeded" in result.stdout


def test_a_guest_calling_the_wit_import_directly_gets_bounded_output(pylon):
    """The stand-in asks for at most 8 MiB, but the guest may call the
    interface itself with max_length -1: the host bounds it all the same."""
    bomb = __import__("bz2").compress(b"\0" * (256 << 20))
    code = textwrap.dedent(
        f"""
        import bz2, binascii
        from wit_world.imports import compression
        import pylon_caps
        h = compression.create("bz2-decompressor", [])
        out = compression.decompress(h, pylon_caps.octets(bytes.fromhex({bomb.hex()!r})), -1)
        print(len(pylon_caps.from_octets(out.data)), out.needs_input, out.eof)
        """
    )
    result = pylon("--cap", "compression", "-c", code)
    assert result.status == 0, result.stderr
    assert result.stdout.strip() == f"{8 << 20} False False"


CONFINED = textwrap.dedent(
    """
    import json, socket, sys
    from pathlib import Path
    from pylon_shell.caps import confine
    grant, ro, secret, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    confine.limit_resources(64)
    abi = confine.restrict_self(
        confine.Confinement(read_write=[Path(grant)], read_only=[Path(ro)], connect_ports={port})
    )
    seen = {"abi": abi}
    def attempt(name, action):
        try:
            action()
            seen[name] = "allowed"
        except OSError as error:
            seen[name] = type(error).__name__ + ":" + str(error.errno)
    attempt("read secret", lambda: open(secret).read())
    attempt("read through a link", lambda: open(grant + "/link").read())
    attempt("write grant", lambda: open(grant + "/new.txt", "w").write("x"))
    attempt("read ro", lambda: open(ro + "/in.txt").read())
    attempt("write ro", lambda: open(ro + "/new.txt", "w").write("x"))
    attempt("connect granted port", lambda: socket.create_connection(("127.0.0.1", port), 5))
    attempt("connect other port", lambda: socket.create_connection(("127.0.0.1", port + 1), 5))
    attempt("bind", lambda: socket.socket().bind(("127.0.0.1", 0)))
    attempt("signal the launcher", lambda: __import__("os").kill(__import__("os").getppid(), 0))
    import duckdb, lzma, ssl
    from cryptography.hazmat.primitives.ciphers import aead
    seen["libraries"] = "loaded"
    print(json.dumps(seen))
    """
)


@pytest.mark.skipif(LANDLOCK < 6, reason="needs Landlock ABI 6 (Linux 6.7+)")
def test_landlock_confines_the_worker_to_its_grants(tmp_path):
    """The kernel backstop on its own: what the worker's confinement lets
    through, checked with a planted secret by its host path."""
    import socketserver
    import threading

    grant, ro = tmp_path / "grant", tmp_path / "ro"
    grant.mkdir()
    ro.mkdir()
    (ro / "in.txt").write_text("readable")
    secret = tmp_path / "secret.txt"
    secret.write_text("pylon-host-secret")
    (grant / "link").symlink_to(secret)
    server = socketserver.TCPServer(("127.0.0.1", 0), socketserver.BaseRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        result = subprocess.run(
            [sys.executable, "-c", CONFINED, str(grant), str(ro), str(secret), str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "MALLOC_ARENA_MAX": "2"},
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 0, result.stderr
    seen = __import__("json").loads(result.stdout)
    assert seen == {
        "abi": LANDLOCK,
        "read secret": "PermissionError:13",
        "read through a link": "PermissionError:13",
        "write grant": "allowed",
        "read ro": "allowed",
        "write ro": "PermissionError:13",
        "connect granted port": "allowed",
        "connect other port": "PermissionError:13",
        "bind": "PermissionError:13",
        "signal the launcher": "PermissionError:1",
        "libraries": "loaded",
    }
    assert secret.read_text() == "pylon-host-secret"
    assert not (ro / "new.txt").exists()


def test_pylon_caps_says_which_confinement_is_in_force(pylon):
    result = pylon("caps")
    assert result.status == 0
    assert f"host:     runs in the session's provider process, confined by {confine.status()}" in (
        result.stdout
    )


@pytest.mark.parametrize(
    ("flag", "code"),
    [
        (
            "--cp",
            "import socket\ns = socket.create_connection(('127.0.0.1', {port}))\n"
            "print('started', flush=True)\ns.recv(1)",
        ),
        (
            "--cp",
            "import urllib.request\nprint('started', flush=True)\n"
            "urllib.request.urlopen('https://127.0.0.1:{port}/')",
        ),
        (
            "--mp",
            "import pylon\nprint('started')\npylon.https.get('https://127.0.0.1:{port}/')",
        ),
    ],
    ids=["socket-read-cp", "tls-handshake-cp", "https-get-mp"],
)
def test_timeout_stops_a_read_from_a_server_that_never_answers(pylon, flag, code):
    """A server that accepts and then says nothing: the host's read (plain, a
    TLS handshake, MicroPython's https) waits in the provider process, which
    --timeout kills."""
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]
    try:
        script = code.format(port=port)
        result = pylon(
            flag,
            *("--cap", "net", "--cap", "tls", "--host", f"127.0.0.1:{port}"),
            *("--timeout", "2", "-c", script),
        )
    finally:
        server.close()
    assert result.status == 124, result.stderr
    assert result.stdout == "started\n"
    assert result.stderr.strip() == "pylon: timed out after 2 s (raise it with --timeout)"


def test_a_repl_session_keeps_its_state_across_a_provider_crash(built):
    """The worker dies of SIGSEGV between two inputs: the next host call gets a
    fresh worker, the interpreter keeps its state, and an object of the dead
    worker names nothing in the new one (a crash during a call is one line:
    test_a_provider_killed_by_a_signal_mid_call_ends_that_call_only)."""
    from pylon_shell.caps.grants import Grants
    from pylon_shell.caps.layer import CapLayer

    out = Captured()
    caps = CapLayer("cpython", Grants(["compression"]), [])
    rt = start_runtime("cpython", RuntimeOptions(timeout=20), out, caps=caps)
    try:
        assert rt.run_input("import lzma\nx = 41\nkept = lzma.LZMACompressor()") == Ok()
        worker = caps.process._worker
        assert worker is not None
        os.kill(worker.process.pid, signal.SIGSEGV)
        worker.process.wait(timeout=10)
        out.clear()
        code = (
            "print(x + 1, len(lzma.compress(b'x')) > 0)\n"
            "try:\n    kept.compress(b'data')\nexcept ValueError as error:\n"
            "    print('stale:', error)"
        )
        assert rt.run_input(code) == Ok()
        assert out.text() == "42 True\nstale: the codec object is closed or of another kind\n"
        assert caps.process.started == 2
    finally:
        rt.close()
    assert caps.process.landlock_abi is None  # closed with the session


def test_scratch_directories_of_killed_launchers_are_removed(pylon, tmp_path):
    import tempfile

    dead = Path(tempfile.gettempdir()) / "pylon-provider-4194400-leftover"
    dead.mkdir(exist_ok=True)
    (dead / "x.duckdb").write_bytes(b"left by a launcher killed with kill -9")
    result = pylon("--cap", "compression", "-c", "import bz2; bz2.compress(b'x')")
    assert result.status == 0, result.stderr
    assert not dead.exists()


def test_the_kill_switch_holds_while_the_machine_is_loaded(pylon):
    """Two busy processes beside it (as many as this machine has cores): the
    timeout still stops the provider's KDF and pylon still says why."""
    hogs = [
        subprocess.Popen(
            [sys.executable, "-c", "import time\nt = time.time() + 60\nwhile time.time() < t: pass"]
        )
        for _ in range(os.cpu_count() or 2)
    ]
    try:
        code = "import hashlib\nprint('started')\nhashlib.pbkdf2_hmac('sha256', b'x', b'y', 10**9)"
        result = pylon("--cap", "crypto", "--timeout", "3", "-c", code)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert result.status == 124, result.stderr
    assert result.stdout == "started\n"
    assert result.stderr.strip() == "pylon: timed out after 3 s (raise it with --timeout)"
