"""The compression cap: the stdlib's bz2, lzma and compression.zstd in the guest,
over the host's codecs, checked against host CPython's own codecs."""

from __future__ import annotations

import bz2
import io
import json
import lzma
import tarfile

import pytest

from pylon_shell.bench import host_run
from pylon_shell.caps.compression.provider import zstd_module

zstd = zstd_module()


def test_ten_megabytes_stream_through_every_codec_in_small_chunks(pylon):
    code = """
import bz2, lzma, os
from compression import zstd
data = os.urandom(1 << 16) * 160  # 10 MiB, compressible across chunks
CHUNK = 64 * 1024
for name, comp, decomp in (
    ("bz2", bz2.BZ2Compressor(), bz2.BZ2Decompressor()),
    ("lzma", lzma.LZMACompressor(), lzma.LZMADecompressor()),
    ("zstd", zstd.ZstdCompressor(), zstd.ZstdDecompressor()),
):
    packed = b"".join(comp.compress(data[i:i + CHUNK]) for i in range(0, len(data), CHUNK))
    packed += comp.flush()
    out = []
    for i in range(0, len(packed), 4096):
        out.append(decomp.decompress(packed[i:i + 4096]))
    assert b"".join(out) == data, name
    assert decomp.eof, name
    print(name, len(data), "ok")
"""
    result = pylon("--cap", "compression", "-c", code, timeout=300)
    assert result.status == 0, result.stderr
    assert result.stdout.split("\n")[:3] == [
        "bz2 10485760 ok",
        "lzma 10485760 ok",
        "zstd 10485760 ok",
    ]


DECOMPRESSOR_STEPS = """
import json, bz2, lzma
try:
    from compression import zstd
except ImportError:  # host CPython before 3.14
    from backports import zstd
payload = bytes(range(256)) * 400
trailing = b"TRAILER"
results = {}
for name, module, make in (
    ("bz2", bz2, bz2.BZ2Decompressor),
    ("lzma", lzma, lzma.LZMADecompressor),
    ("zstd", zstd, zstd.ZstdDecompressor),
):
    packed = module.compress(payload) + trailing
    d = make()
    steps = []
    steps_in = ((packed[:50], 10), (b"", 0), (b"", 1000), (packed[50:], 5000), (b"", -1))
    for chunk, max_length in steps_in:
        try:
            out = d.decompress(chunk, max_length)
            steps.append([len(out), out[:4].hex(), d.eof, d.needs_input, d.unused_data.hex()])
        except EOFError as e:
            steps.append(["EOFError", str(e)])
    try:
        d.decompress(b"more")
    except EOFError as e:
        steps.append(["EOFError", str(e)])
    results[name] = steps
print(json.dumps(results))
"""


def host_steps() -> dict[str, list]:
    """What host CPython's own decompressors do for the same calls: the same
    script, run here."""
    return json.loads(host_run(DECOMPRESSOR_STEPS))


def test_decompressors_follow_the_stdlib_step_by_step(pylon):
    result = pylon("--cap", "compression", "-c", DECOMPRESSOR_STEPS)
    assert result.status == 0, result.stderr
    assert json.loads(result.stdout) == host_steps()


def test_guest_and_host_read_each_others_files(pylon, tmp_path):
    data = b"pylon " * 50_000
    (tmp_path / "host.bz2").write_bytes(bz2.compress(data))
    (tmp_path / "host.xz").write_bytes(lzma.compress(data, check=lzma.CHECK_SHA256))
    (tmp_path / "host.zst").write_bytes(zstd.ZstdCompressor(level=19).compress(data, 2))
    code = """
import bz2, lzma
from compression import zstd
data = b"pylon " * 50_000
assert bz2.open("/data/host.bz2").read() == data
with lzma.open("/data/host.xz") as f:
    assert f.read() == data
assert zstd.open("/data/host.zst").read() == data
with bz2.open("/data/guest.bz2", "wb", compresslevel=1) as f:
    f.write(data)
with lzma.open("/data/guest.xz", "wb", preset=9 | lzma.PRESET_EXTREME) as f:
    f.write(data)
with zstd.open("/data/guest.zst", "wb", level=5) as f:
    f.write(data)
lzma.open("/data/guest.lzma", "wb", format=lzma.FORMAT_ALONE).write(data)
print("ok")
"""
    result = pylon("--cap", "compression", "--dir", f"{tmp_path}:/data", "-c", code)
    assert (result.status, result.stdout) == (0, "ok\n"), result.stderr
    assert bz2.decompress((tmp_path / "guest.bz2").read_bytes()) == data
    assert lzma.decompress((tmp_path / "guest.xz").read_bytes()) == data
    assert lzma.decompress((tmp_path / "guest.lzma").read_bytes()) == data
    assert zstd.ZstdDecompressor().decompress((tmp_path / "guest.zst").read_bytes()) == data


@pytest.mark.parametrize(("mode", "suffix"), [("r:xz", "tar.xz"), ("r:bz2", "tar.bz2")])
def test_tarfile_reads_a_compressed_archive_from_a_granted_dir(pylon, tmp_path, mode, suffix):
    archive = tmp_path / f"a.{suffix}"
    with tarfile.open(archive, f"w:{mode[2:]}") as tar:
        for name, body in (("a.txt", b"alpha\n"), ("dir/b.txt", b"beta\n" * 1000)):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    code = f"""
import tarfile
with tarfile.open("/data/a.{suffix}", "{mode}") as tar:
    print(tar.getnames())
    print(tar.extractfile("dir/b.txt").read().count(b"beta"))
"""
    result = pylon("--cap", "compression", "--dir", f"{tmp_path}:/data:ro", "-c", code)
    assert result.status == 0, result.stderr
    assert result.stdout == "['a.txt', 'dir/b.txt']\n1000\n"


def test_lzma_formats_checks_and_filters(pylon):
    code = """
import lzma
data = b"filters and formats " * 1000
filters = [{"id": lzma.FILTER_DELTA, "dist": 4}, {"id": lzma.FILTER_LZMA2, "preset": 7}]
raw = lzma.compress(data, format=lzma.FORMAT_RAW, filters=filters)
assert lzma.decompress(raw, format=lzma.FORMAT_RAW, filters=filters) == data
xz = lzma.compress(data, check=lzma.CHECK_SHA256)
d = lzma.LZMADecompressor()
assert d.check == lzma.CHECK_UNKNOWN
assert d.decompress(xz) == data
print(d.check == lzma.CHECK_SHA256, lzma.is_check_supported(lzma.CHECK_CRC64))
props = lzma._encode_filter_properties({"id": lzma.FILTER_LZMA1, "dict_size": 1 << 20})
print(lzma._decode_filter_properties(lzma.FILTER_LZMA1, props)["dict_size"])
try:
    lzma.decompress(b"not xz at all")
except lzma.LZMAError as e:
    print("LZMAError", e)
"""
    result = pylon("--cap", "compression", "-c", code)
    assert result.status == 0, result.stderr
    assert result.stdout == "True True\n1048576\nLZMAError Input format not supported by decoder\n"


def test_zstd_levels_options_dictionaries_and_frames(pylon):
    code = """
from compression import zstd
from compression.zstd import CompressionParameter as P
samples = [f"record {i}: status=ok user={i % 7}".encode() for i in range(2000)]
zd = zstd.train_dict(samples, 4096)
print(zd.dict_id != 0, len(zd.dict_content) <= 4096)
options = {P.checksum_flag: 1, P.compression_level: 10}
frame = zstd.compress(samples[5], zstd_dict=zd, options=options)
info = zstd.get_frame_info(frame)
print(info.dictionary_id == zd.dict_id, info.decompressed_size == len(samples[5]))
print(zstd.decompress(frame, zstd_dict=zd.as_undigested_dict) == samples[5])
print(zstd.get_frame_size(frame + b"junk") == len(frame))
print(P.compression_level.bounds()[1] >= 19)
c = zstd.ZstdCompressor(level=3)
part = c.compress(b"abc", c.FLUSH_BLOCK)
print(c.last_mode == c.FLUSH_BLOCK, zstd.decompress(part + c.flush()) == b"abc")
try:
    zstd.decompress(b"\\x28\\xb5\\x2f\\xfd broken")
except zstd.ZstdError as e:
    print("ZstdError")
"""
    result = pylon("--cap", "compression", "-c", code)
    assert result.status == 0, result.stderr
    assert result.stdout.split() == ["True"] * 9 + ["ZstdError"]


@pytest.mark.parametrize("flag", ["--cp", "--mp"])
@pytest.mark.parametrize("module", ["bz2", "lzma", "compression.zstd"])
def test_each_module_needs_the_cap(pylon, flag, module):
    result = pylon(flag, "--no-caps", "-c", f"import {module}")
    assert result.status == 1
    assert result.stderr == (
        "pylon: <string>:1: "
        f"import of {module} needs the compression cap, which this plan does not "
        "grant; grant it with --cap compression\n"
    )


def test_zlib_and_gzip_need_no_cap(pylon):
    code = "import gzip, zlib, compression.zlib; print(gzip.decompress(gzip.compress(b'x')))"
    result = pylon("--no-caps", "-c", code)
    assert (result.status, result.stdout) == (0, "b'x'\n"), result.stderr


def test_micropython_one_shot_codecs_match_the_host(pylon, tmp_path):
    data = bytes(range(256)) * 2000
    (tmp_path / "in.bz2").write_bytes(bz2.compress(data))
    code = """
import bz2, lzma
from compression import zstd
data = bytes(range(256)) * 2000
assert bz2.decompress(open("/data/in.bz2", "rb").read()) == data
for name, module in (("bz2", bz2), ("xz", lzma), ("zst", zstd)):
    packed = module.compress(data)
    assert module.decompress(packed) == data
    open("/data/out." + name, "wb").write(packed)
try:
    bz2.decompress(b"garbage")
except OSError as e:
    print("OSError", e)
"""
    result = pylon("--mp", "--cap", "compression", "--dir", f"{tmp_path}:/data", "-c", code)
    assert (result.status, result.stdout) == (0, "OSError Invalid data stream\n"), result.stderr
    assert bz2.decompress((tmp_path / "out.bz2").read_bytes()) == data
    assert lzma.decompress((tmp_path / "out.xz").read_bytes()) == data
    assert zstd.ZstdDecompressor().decompress((tmp_path / "out.zst").read_bytes()) == data


def test_revoking_compression_stops_the_next_call(built):
    from dataclasses import replace

    from conftest import Captured

    from pylon_shell.plan import shipped
    from pylon_shell.runtimes.base import Ok, Raised
    from pylon_shell.session import Session

    session = Session(replace(shipped("default"), capabilities=("compression",)), Captured())
    try:
        rt = session.runtime
        assert rt.run_input("import bz2\nc = bz2.BZ2Compressor()\nc.compress(b'a')") == Ok()
        session.grants.revoke("compression")
        outcome = rt.run_input("c.compress(b'b')")
        assert isinstance(outcome, Raised) and outcome.type_name == "PermissionError"
        assert "the compression cap is not granted" in outcome.traceback
    finally:
        session.close()


def test_host_codec_errors_keep_their_class():
    from pylon_shell.caps.compression.provider import CompressionProvider
    from pylon_shell.caps.grants import Grants
    from pylon_shell.caps.values import ProviderError

    provider = CompressionProvider(Grants(["compression"]))
    handle = provider.create("bz2-decompressor", [])
    with pytest.raises(ProviderError) as raised:
        provider.decompress(handle, b"nope", -1)
    assert (raised.value.kind, raised.value.message) == ("OSError", "Invalid data stream")
    provider.drop(handle)
    with pytest.raises(ProviderError, match="closed"):
        provider.decompress(handle, b"", -1)
    with pytest.raises(ProviderError, match="unknown codec"):
        provider.create("gzip-compressor", [])


@pytest.mark.runtime
def test_micropython_lzma_answers_is_check_supported_as_cpython(pylon):
    code = (
        "import lzma\n"
        "print(lzma.is_check_supported(lzma.CHECK_CRC64), lzma.is_check_supported(3))\n"
        "for bad in ('x', 10 ** 100):\n"
        "    try:\n"
        "        lzma.is_check_supported(bad)\n"
        "    except (TypeError, OverflowError) as e:\n"
        "        print(type(e).__name__, e)\n"
    )
    result = pylon("--mp", "--cap", "compression", "-c", code)
    assert (result.status, result.stderr) == (0, "")
    assert result.stdout == (
        "True False\nTypeError 'str' object cannot be interpreted as an integer\n"
        "OverflowError Python int too large to convert to C int\n"
    )
