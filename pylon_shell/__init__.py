"""pylon shell: sandboxed Python (CPython 3.14 wasip2 or MicroPython) in wasmtime, with caps."""

__version__ = "0.1.0"
