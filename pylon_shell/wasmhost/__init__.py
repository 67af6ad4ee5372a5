"""The wasm host helpers every wasm user in pylon shares: the process-wide
engine and its compiled-code cache (engine.py), and the patches that make
wasmtime-py's component calls cheap (fasttypes.py, fastbytes.py).

Both the interpreters (pylon_shell.runtimes) and the component providers of
the caps (pylon_shell.caps.sqlite.provider) run on them, so they sit on the
ground floor, below both.
"""
