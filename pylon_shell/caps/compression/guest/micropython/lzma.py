# Runs INSIDE the MicroPython guest as `lzma`: one-shot compress/decompress over
# the host bridge to the compression cap's provider (CPython's own codec).
# `_bridge`, `_bridge_bytes` and `BridgeError` come from the session loop (pylon_boot.py).

FORMAT_AUTO = 0
FORMAT_XZ = 1
FORMAT_ALONE = 2
FORMAT_RAW = 3
CHECK_NONE = 0
CHECK_CRC32 = 1
CHECK_CRC64 = 4
CHECK_SHA256 = 10
PRESET_DEFAULT = 6
PRESET_EXTREME = 0x80000000


class LZMAError(Exception):
    pass


def _call(operation, data, options):
    try:
        return _bridge_bytes("compression." + operation, ["lzma", options], data)
    except BridgeError as error:
        raise (LZMAError if error.kind == "LZMAError" else ValueError)(error.message)


def is_check_supported(check_id):
    """Whether the host's liblzma has this integrity check (CPython's answer)."""
    try:
        return _bridge("compression.lzma_check", check_id)
    except BridgeError as error:
        kind = {"TypeError": TypeError, "OverflowError": OverflowError}.get(error.kind, ValueError)
        raise kind(error.message)


def compress(data, format=FORMAT_XZ, check=-1, preset=None):
    return _call("compress", data, {"format": format, "check": check, "preset": preset})


def decompress(data, format=FORMAT_AUTO, memlimit=None):
    return _call("decompress", data, {"format": format, "memlimit": memlimit})
