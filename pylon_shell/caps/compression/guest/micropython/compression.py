# Runs INSIDE the MicroPython guest as `compression` (with .bz2, .lzma, .zstd):
# one-shot codecs over the host bridge to the compression cap's provider.
# `_bridge_bytes` and `BridgeError` come from the session loop (pylon_boot.py).


class _Namespace:
    pass


class ZstdError(Exception):
    pass


def _zstd_call(operation, data, options):
    try:
        return _bridge_bytes("compression." + operation, ["zstd", options], data)
    except BridgeError as error:
        raise (ZstdError if error.kind == "ZstdError" else ValueError)(error.message)


def _zstd_compress(data, level=None):
    return _zstd_call("compress", data, {"level": level})


def _zstd_decompress(data):
    return _zstd_call("decompress", data, {})


zstd = _Namespace()
zstd.compress = _zstd_compress
zstd.decompress = _zstd_decompress
zstd.ZstdError = ZstdError
zstd.COMPRESSION_LEVEL_DEFAULT = 3

import bz2  # noqa: E402 - the sibling shims, through the same gate
import lzma  # noqa: E402
