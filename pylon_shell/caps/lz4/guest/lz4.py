# Runs INSIDE the guest, CPython or MicroPython alike, as `lz4`: the lz4
# package's top module over the compression cap. `_cap_call(method, *args)`
# comes from the runtime's loader; the versions are those of the host's lz4
# package and C library, which do the work. Its `frame` module is lz4.frame
# (guest/frame.py), loaded with it.

_VERSIONS = _cap_call("versions")
__version__ = VERSION = _VERSIONS[0]


def library_version_number():
    return _VERSIONS[1]


def library_version_string():
    return _VERSIONS[2]
