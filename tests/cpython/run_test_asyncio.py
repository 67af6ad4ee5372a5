"""Run CPython 3.14's own test_asyncio modules inside pylon's CPython guest.

    python tests/cpython/run_test_asyncio.py [TEST_TREE] [MODULE ...]

TEST_TREE is a directory holding CPython 3.14's `test` package (Debian's
libpython3.14-testsuite puts it at /usr/lib/python3.14/test; a CPython
checkout has it at Lib/test), else $PYLON_CPYTHON_TESTS, else the tree
tests/cpython/fetch_testsuite.sh fetched into build/cpython-tests/test, else
that Debian path. Nothing is downloaded: without a tree the script says why and exits 0
(skipped), so CI can run it everywhere.

Each module runs in its own `pylon --no-caps` process (the tree mounted
read-only), under unittest, and one line per module reports its result.
The exit status is 1 when a module expected to pass (PASSING below, the list
docs/runtimes.md shows) does not.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DEBIAN = "/usr/lib/python3.14/test"
#: Modules that need subprocesses, threads, signals, fork or listening sockets:
#: not run (docs/runtimes.md says why).
NEEDS_WHAT_WASM_LACKS = {
    "test_subprocess",
    "test_threads",
    "test_unix_events",
    "test_windows_events",
    "test_windows_utils",
    "test_sendfile",
    "test_server",
    "test_sock_lowlevel",
    "test_ssl",
    "test_sslproto",
    "test_events",
    "test_base_events",
    "test_proactor_events",
    "test_selector_events",
    "test_streams",
    "test_signals",
    "test_free_threading",
    "test_tools",
    "test_graph",
    "test_buffered_proto",
}
#: Modules measured to pass with Debian's 3.14.10 tree (docs/runtimes.md).
PASSING: set[str] = {
    "test_context",
    "test_eager_task_factory",
    "test_futures2",
    "test_locks",
    "test_pep492",
    "test_protocols",
    "test_queues",
    "test_runners",
    "test_staggered",
    "test_taskgroups",
    "test_timeouts",
    "test_transports",
    "test_waitfor",
}

_RUN = """
import sys, sysconfig, unittest
sys.path.append('/cpython-tests')  # after the guest's own stdlib
# The interpreter's CONFIG_ARGS is truncated (an unclosed quote), on which
# test.support's import fails; close it (as tests/cpython/guest_runner.py does).
_get = sysconfig.get_config_var
def _fixed(name, _get=_get):
    value = _get(name)
    if name == 'CONFIG_ARGS' and isinstance(value, str) and value.count("'") % 2:
        value += "'"
    return value
sysconfig.get_config_var = _fixed
import test.support
# test_asyncio skips itself on WASI (no sockets there); pylon's socket stand-in has them.
test.support.has_socket_support = True
suite = unittest.defaultTestLoader.loadTestsFromName('test.test_asyncio.{name}')
result = unittest.TextTestRunner(verbosity=0).run(suite)
counts = (result.testsRun, len(result.failures), len(result.errors), len(result.skipped))
print('PYLON-RESULT', *counts)
sys.exit(0 if result.wasSuccessful() else 1)
"""


def main(argv: list[str]) -> int:
    fetched = Path(__file__).resolve().parents[2] / "build" / "cpython-tests" / "test"
    default = fetched if fetched.is_dir() else Path(DEBIAN)
    tree = Path(argv[0]) if argv else Path(os.environ.get("PYLON_CPYTHON_TESTS", default))
    package = tree / "test_asyncio"
    if not (package / "__init__.py").is_file():
        print(
            f"skipped: no CPython 3.14 test tree at {tree} (install libpython3.14-testsuite "
            "or pass a CPython checkout's Lib/test)"
        )
        return 0
    names = argv[1:] or sorted(
        path.stem for path in package.glob("test_*.py") if path.stem not in NEEDS_WHAT_WASM_LACKS
    )
    failed = []
    for name in names:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pylon_shell",
                "--no-caps",
                "--timeout",
                "300",
                "--dir",
                f"{tree.parent}:/cpython-tests:ro",
                "-c",
                _RUN.format(name=name),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        found = re.search(r"PYLON-RESULT (\d+) (\d+) (\d+) (\d+)", proc.stdout)
        if found:
            ran, failures, errors, skipped = map(int, found.groups())
            status = "pass" if proc.returncode == 0 else "FAIL"
            print(
                f"{name}: {status} ({ran} run, {failures} failures, {errors} errors, "
                f"{skipped} skipped)"
            )
        else:
            status = "FAIL"
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"{name}: FAIL (did not run: {last})")
        if status != "pass" and name in PASSING:
            failed.append(name)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
