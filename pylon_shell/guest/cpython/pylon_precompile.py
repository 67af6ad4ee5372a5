# Runs INSIDE the CPython component at build time, with the extracted stdlib
# mounted writable at /python: writes a .pyc next to every module so that the
# first `import json` of a session does not pay for compiling it.
#
# The .pyc files are unchecked-hash ones: the stdlib is mounted read-only and
# never changes under a built runtime, so checking sources would only cost stat
# calls. They are written through buffered files because one large WASI write
# is cut short (py_compile's os.write path fails on big modules).
import importlib._bootstrap_external as bootstrap
import importlib.util
import os
import sys

SKIP = {"__pycache__", "test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip"}
written = failed = 0
for folder, dirs, files in os.walk(sys.argv[1]):
    dirs[:] = sorted(d for d in dirs if d not in SKIP)
    for name in sorted(files):
        if not name.endswith(".py"):
            continue
        path = os.path.join(folder, name)
        with open(path, "rb") as handle:
            source = handle.read()
        try:
            code = compile(source, path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            failed += 1
            continue
        data = bootstrap._code_to_hash_pyc(code, importlib.util.source_hash(source), False)
        target = importlib.util.cache_from_source(path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as handle:
            handle.write(data)
        written += 1
print(f"{written} {failed} {sys.version.split()[0]}")
