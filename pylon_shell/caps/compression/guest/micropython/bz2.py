# Runs INSIDE the MicroPython guest as `bz2`: one-shot compress/decompress over
# the host bridge to the compression cap's provider (CPython's own codec).
# `_bridge_bytes` and `BridgeError` come from the session loop (pylon_boot.py).


def _call(operation, data, options):
    try:
        return _bridge_bytes("compression." + operation, ["bz2", options], data)
    except BridgeError as error:
        raise (OSError if error.kind == "OSError" else ValueError)(error.message)


def compress(data, compresslevel=9):
    return _call("compress", data, {"compresslevel": compresslevel})


def decompress(data):
    return _call("decompress", data, {})
