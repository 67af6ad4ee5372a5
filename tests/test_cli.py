"""The command line contract, run as a user runs `pylon`, on the real runtimes."""

from __future__ import annotations

import time

import pytest

RUNTIME_FLAGS = ("--cp", "--mp")


def test_cpython_is_314_on_wasi(pylon):
    result = pylon("-c", "import sys; print(sys.version_info[:2], sys.platform)")
    assert (result.status, result.stdout) == (0, "(3, 14) wasi\n")


def test_micropython_runs_with_mp(pylon):
    result = pylon("--mp", "-c", "import sys; print(sys.implementation.name)")
    assert (result.status, result.stdout) == (0, "micropython\n")


@pytest.mark.parametrize("flag", RUNTIME_FLAGS)
def test_script_gets_argv_and_its_exit_status_is_pylons(pylon, tmp_path, flag):
    script = tmp_path / "s.py"
    script.write_text("import sys\nprint(sys.argv)\nraise SystemExit(3)\n")
    result = pylon(flag, "s.py", "a", "b", cwd=tmp_path)
    assert result.status == 3
    assert result.stdout == "['s.py', 'a', 'b']\n"


@pytest.mark.parametrize("flag", RUNTIME_FLAGS)
def test_uncaught_exception_exits_1_with_traceback_on_stderr(pylon, tmp_path, flag):
    script = tmp_path / "boom.py"
    script.write_text("def f():\n    raise ValueError('boom')\n\nf()\n")
    result = pylon(flag, str(script))
    assert result.status == 1
    assert result.stderr.startswith("Traceback (most recent call last):")
    assert result.stderr.rstrip().endswith("ValueError: boom")
    assert "pylon_session" not in result.stderr and "<pylon>" not in result.stderr


def test_script_options_after_the_script_belong_to_the_script(pylon, tmp_path):
    (tmp_path / "s.py").write_text("import sys\nprint(sys.argv[1:])\n")
    result = pylon("s.py", "--timeout", "x", "-c", cwd=tmp_path)
    assert result.stdout == "['--timeout', 'x', '-c']\n"


def test_c_code_gets_remaining_arguments(pylon):
    result = pylon("-c", "import sys; print(sys.argv)", "a", "b")
    assert result.stdout == "['-c', 'a', 'b']\n"


@pytest.mark.parametrize("flag", RUNTIME_FLAGS)
def test_program_on_stdin(pylon, flag):
    result = pylon(flag, stdin="x = 2\nprint(x * 21)\n")
    assert (result.status, result.stdout) == (0, "42\n")


def test_host_files_are_invisible_by_default(pylon):
    result = pylon("-c", "open('/etc/passwd')")
    assert result.status == 1
    assert result.stderr == (
        "pylon: <string>:1: "
        "FileNotFoundError: /etc/passwd needs the fs cap, which this plan does not "
        "grant; grant it with --dir HOST:GUEST\n"
    )


def test_host_environment_does_not_leak(pylon):
    result = pylon("-c", "import os; print(dict(os.environ))", env={"PYLON_SECRET": "x"})
    assert result.stdout == "{'TMPDIR': '/tmp'}\n"  # the session's private /tmp, no more


def test_env_passes_one_variable(pylon):
    result = pylon("--env", "GREETING=hi", "-c", "import os; print(os.environ['GREETING'])")
    assert result.stdout == "hi\n"
    mp = pylon("--mp", "--env", "GREETING=hi", "-c", "import os; print(os.getenv('GREETING'))")
    assert mp.stdout == "hi\n"


def test_stdlib_is_mounted(pylon):
    result = pylon("-c", "import json, decimal, asyncio, sqlite3, zlib; print('ok')")
    assert (result.status, result.stdout) == (0, "ok\n")


@pytest.mark.parametrize("flag", RUNTIME_FLAGS)
def test_dir_lets_the_guest_write_and_ro_forbids_it(pylon, tmp_path, flag):
    shared = tmp_path / "somedir"
    shared.mkdir()
    write = "f = open('/data/out.txt', 'w'); f.write('from the guest'); f.close()"
    result = pylon(flag, "--dir", f"{shared}:/data", "-c", write)
    assert result.status == 0, result.stderr
    assert (shared / "out.txt").read_text() == "from the guest"

    (shared / "out.txt").unlink()
    result = pylon(flag, "--dir", f"{shared}:/data:ro", "-c", write)
    assert result.status == 1
    assert not (shared / "out.txt").exists()
    (shared / "in.txt").write_text("hello")
    read = pylon(flag, "--dir", f"{shared}:/data:ro", "-c", "print(open('/data/in.txt').read())")
    assert (read.status, read.stdout) == (0, "hello\n")


@pytest.mark.parametrize("flag", RUNTIME_FLAGS)
def test_timeout_ends_runaway_code_with_124(pylon, flag):
    started = time.monotonic()
    result = pylon(flag, "--timeout", "2", "-c", "while True: pass")
    elapsed = time.monotonic() - started
    assert result.status == 124
    assert result.stderr.strip() == "pylon: timed out after 2 s (raise it with --timeout)"
    assert elapsed < 10


def test_missing_script_is_a_usage_error(pylon, tmp_path):
    result = pylon("nope.py", cwd=tmp_path)
    assert result.status == 2
    assert result.stderr == "pylon: can't open file 'nope.py': No such file or directory\n"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--timeout", "soon", "-c", "1"], "--timeout: expected a number of seconds"),
        (["--memory", "0", "-c", "1"], "--memory: expected a number of MiB"),
        (["--dir", "/no/such/dir", "-c", "1"], "/no/such/dir is not a directory"),
        (["--dir", "/tmp:relative", "-c", "1"], "must be an absolute guest path"),
        (["--cp", "--mp", "-c", "1"], "not allowed with argument"),
        (["--env", "=x", "-c", "1"], "--env =x: expected KEY=VALUE"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_command_lines_get_one_line_and_status_2(args, fragment, tmp_path):
    from conftest import run_pylon

    result = run_pylon(*args, cwd=tmp_path)
    assert result.status == 2
    assert fragment in result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("pylon: ")
    assert "Traceback" not in result.stderr


RESERVED = (
    "is reserved (the runtime mounts its own files at /, /python, /world, /bundled, "
    "/.pylon-bulk and /0, /1, ...); choose another guest path such as /data"
)


@pytest.mark.parametrize(
    ("guest", "problem"),
    [
        ("/.", f"'/.' {RESERVED}"),
        ("//", f"'//' {RESERVED}"),
        ("/./", f"'/./' {RESERVED}"),
        ("/python", f"'/python' {RESERVED}"),
        ("/python/lib", f"'/python/lib' {RESERVED}"),
        ("/0", f"'/0' {RESERVED}"),
        ("/.pylon-bulk", f"'/.pylon-bulk' {RESERVED}"),
        ("relative", "'relative' must be an absolute guest path such as /data"),
        ("/data/../x", "'/data/../x' must not contain .."),
        ("/data/", "'/data/' is not a normalized guest path; write it as /data"),
        ("/a//b", "'/a//b' is not a normalized guest path; write it as /a/b"),
        ("/a/./b", "'/a/./b' is not a normalized guest path; write it as /a/b"),
        ("/da\nta", "'/da\\nta' must not contain control characters (NUL, newline, ...)"),
    ],
)
def test_a_bad_guest_path_for_dir_is_one_line_naming_it(tmp_path, guest, problem):
    """Once `/.`, `//` and `/./` ended in `internal error: IndexError`."""
    from conftest import run_pylon

    spec = f"{tmp_path}:{guest}"
    shown = spec.replace("\n", "\\n")
    result = run_pylon("--dir", spec, "-c", "print('ran')", cwd=tmp_path)
    assert (result.status, result.stdout) == (2, "")
    assert result.stderr == f"pylon: --dir {shown}: {problem}\n"


def test_an_empty_guest_path_after_the_colon_is_refused(tmp_path):
    from conftest import run_pylon

    for spec in (f"{tmp_path}:", f"{tmp_path}::ro"):
        result = run_pylon("--dir", spec, "-c", "print('ran')", cwd=tmp_path)
        assert (result.status, result.stdout) == (2, "")
        assert result.stderr == (
            f"pylon: --dir {spec}: the guest path after ':' is empty; "
            f"write --dir {tmp_path}:/data, or leave out the ':'\n"
        )


@pytest.mark.parametrize(
    ("flags", "least", "name"),
    [(["--mp", "--memory", "16"], 17, "MicroPython"), (["--memory", "13"], 14, "CPython")],
)
def test_too_little_memory_is_a_usage_error_naming_the_minimum(tmp_path, flags, least, name):
    """`pylon --mp --memory 16` was an internal error (MicroPython did not start)."""
    from conftest import run_pylon

    result = run_pylon(*flags, "-c", "print('ran')", cwd=tmp_path)
    assert (result.status, result.stdout) == (2, "")
    given = flags[-1]
    assert result.stderr == (
        f"pylon: --memory {given}: {given} MiB is too little for {name}, "
        f"which needs at least {least} MiB to start\n"
    )


@pytest.mark.parametrize(("flag", "least"), [("--mp", 17), ("--cp", 14)])
def test_the_smallest_memory_limit_named_does_start(pylon, flag, least):
    result = pylon(flag, "--memory", str(least), "-c", "print('ran')")
    assert (result.status, result.stdout) == (0, "ran\n"), result.stderr


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["--provider", "sqlite=x", "-c", "pass"],
            "pylon: --provider sqlite=x: the sqlite cap has no provider 'x' "
            "(it has builtin, component)",
        ),
        (
            ["--provider", "sqlite", "-c", "pass"],
            "pylon: --provider sqlite: expected CAP=PROVIDER, see `pylon caps`",
        ),
        (
            ["trace"],
            "pylon: pylon trace needs the script to run: pylon trace [FLAGS] SCRIPT [ARGS]",
        ),
        (
            ["--cap", "nope", "-c", "pass"],
            "pylon: --cap nope: unknown cap 'nope' (known: "
            "compression, crypto, duckdb, env, fs, hash, net, sqlite, tls)",
        ),
    ],
)
def test_usage_errors_say_what_is_wrong_in_one_line(pylon, args, line):
    result = pylon(*args)
    assert result.status == 2
    assert result.stderr.splitlines() == [line]
