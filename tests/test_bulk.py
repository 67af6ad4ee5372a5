"""Large bulk values from the host reach the guest as files in a read-only
directory; the guest's own bulk bytes stay base64, so guest code can write
nothing on the host through the channel."""

from __future__ import annotations

import pytest

from pylon_shell.caps.bulk import THRESHOLD, BulkChannel, base64_bytes
from pylon_shell.caps.values import ProviderError


@pytest.fixture
def channel():
    channel = BulkChannel()
    yield channel
    channel.close()


def test_small_values_are_base64_and_large_ones_files_until_the_next_call(channel):
    assert base64_bytes(channel.encode(b"small")) == b"small"
    big = bytes(range(256)) * (THRESHOLD // 256 + 1)
    text = channel.encode(big)
    assert text.startswith("@h")
    assert (channel.dir / text[1:]).read_bytes() == big
    channel.collect()  # the guest called again: it has read the file
    assert list(channel.dir.iterdir()) == []


@pytest.mark.parametrize("text", ["@g1", "@../etc/passwd", "not base64!"])
def test_the_guest_can_only_send_base64(text):
    with pytest.raises(ProviderError, match="not base64"):
        base64_bytes(text)


def test_the_directory_goes_when_the_session_closes():
    channel = BulkChannel()
    channel.encode(b"x" * THRESHOLD)
    channel.close()
    assert not channel.dir.exists()


ATTEMPT = """
import os
for attempt in (lambda: open('/.pylon-bulk/g1', 'wb').write(b'x' * 10),
                lambda: os.symlink('/etc/hostname', '/.pylon-bulk/g2'),
                lambda: os.mkdir('/.pylon-bulk/d')):
    try:
        attempt()
        print('wrote')
    except OSError as error:
        print(type(error).__name__)
"""


def test_guest_code_cannot_write_into_the_bulk_directory(pylon):
    result = pylon("-c", ATTEMPT)
    assert result.status == 0, result.stderr
    assert result.stdout.splitlines() == ["PermissionError"] * 3


def test_large_values_reach_the_guest_whole(pylon):
    code = (
        "import bz2\n"
        "data = bytes(range(256)) * 40960\n"
        "packed = bz2.compress(data)\n"
        "assert bz2.decompress(packed) == data\n"
        "print(len(bz2.decompress(packed)))\n"
    )
    result = pylon("--cap", "compression", "-c", code)
    assert result.status == 0, result.stderr
    assert result.stdout == "10485760\n"
