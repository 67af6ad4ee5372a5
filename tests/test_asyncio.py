"""asyncio in the real CPython guest (docs/runtimes.md#asyncio): with no grant,
over the net cap (a loopback HTTP server) and over the tls cap (the trustme CA
of test_net_tls)."""

from __future__ import annotations

import textwrap

from test_net_tls import https, plain  # noqa: F401 - the servers, as fixtures


def test_asyncio_runs_with_no_grant(pylon):
    code = """
        import asyncio, time
        async def job(n, delay):
            await asyncio.sleep(delay); return n
        async def forever():
            await asyncio.sleep(3600)
        async def main():
            t0 = time.monotonic()
            print(await asyncio.gather(job(1, 0.2), job(2, 0.1)), time.monotonic() - t0 < 0.5)
            try:
                await asyncio.wait_for(forever(), 0.1)
            except TimeoutError:
                print('wait_for timed out')
            try:
                async with asyncio.timeout(0.1):
                    await forever()
            except TimeoutError:
                print('timeout() timed out')
            q = asyncio.Queue()
            async def produce():
                for i in range(3):
                    await q.put(i); await asyncio.sleep(0.01)
                await q.put(None)
            async def consume():
                got = []
                while (item := await q.get()) is not None:
                    got.append(item)
                return got
            print(await asyncio.gather(consume(), produce()))
            task = asyncio.create_task(forever()); await asyncio.sleep(0.01); task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                print('cancelled', task.cancelled())
            print(await asyncio.to_thread(sum, [1, 2, 3]))
        asyncio.run(main())
    """
    result = pylon("--no-caps", "-c", textwrap.dedent(code))
    assert result.status == 0, result.stderr
    assert result.stdout.splitlines() == [
        "[1, 2] True",
        "wait_for timed out",
        "timeout() timed out",
        "[[0, 1, 2], None]",
        "cancelled True",
        "6",
    ]


def test_socketpair_and_select_stay_inside_the_guest(pylon):
    code = """
        import select, selectors, socket
        a, b = socket.socketpair()
        print(select.select([b], [a], [], 0.1))
        a.send(b'ping')
        sel = selectors.DefaultSelector(); sel.register(b, selectors.EVENT_READ)
        print([key.fileobj is b for key, _ in sel.select(1)], b.recv(10))
        b.setblocking(False)
        try:
            b.recv(10)
        except BlockingIOError:
            print('would block')
        b.setblocking(True)
        b.recv(10)
    """
    result = pylon("--no-caps", "-c", textwrap.dedent(code))
    assert result.status == 1
    assert result.stdout.splitlines()[1:] == ["[True] b'ping'", "would block"]
    assert result.stdout.startswith("([], [<socket.socket fd=1000")
    assert result.stderr.splitlines()[-1] == (
        "RuntimeError: recv() on an empty socketpair() end would wait forever: pylon has no "
        "threads, so nothing else can write to (or read from) its other end"
    )


def test_create_subprocess_is_refused_with_one_line(pylon):
    code = "import asyncio\nasyncio.run(asyncio.create_subprocess_exec('ls', '-l'))\n"
    result = pylon("--no-caps", "-c", code)
    assert result.status == 1
    assert result.stderr.splitlines()[-1] == (
        "OSError: [Errno 58] asyncio cannot start a subprocess (exec ls): the pylon guest has "
        "no processes (WebAssembly/WASI)"
    )


_GET = """
import asyncio, ssl
async def main():
    {context}
    reader, writer = await asyncio.open_connection('{host}', {port}{tls})
    writer.write(b'GET /{path} HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n')
    await writer.drain()
    print((await reader.read()).split(b'\\r\\n\\r\\n')[-1].decode())
    writer.close()
    await writer.wait_closed()
asyncio.run(main())
"""


def test_streams_over_the_net_cap(pylon, plain):  # noqa: F811
    code = _GET.format(context="", host="127.0.0.1", port=plain, tls="", path="plain")
    result = pylon("--cap", "net", "--host", f"127.0.0.1:{plain}", "-c", code)
    assert (result.status, result.stdout) == (0, "hello /plain\n"), result.stderr
    refused = pylon("--no-caps", "-c", code)
    assert refused.status == 1
    assert refused.stderr == (
        "pylon: <string>:5: "
        f"PermissionError: the tls cap is not granted (connect 127.0.0.1:{plain}); "
        f"grant it with --host 127.0.0.1:{plain} (or --cap net for plaintext connections too)\n"
    )


def test_tls_streams_over_the_tls_cap_alone(pylon, https):  # noqa: F811
    context = "ctx = ssl.create_default_context(cafile='/certs/ca.pem')"
    code = _GET.format(
        context=context, host="localhost", port=https.port, tls=", ssl=ctx", path="tls"
    )
    certs = f"{https.certs}:/certs:ro"
    result = pylon("--dir", certs, "--host", https.target, "-c", code)
    assert (result.status, result.stdout) == (0, "hello /tls\n"), result.stderr
    refused = pylon("--dir", certs, "-c", code)
    assert refused.status == 1
    assert refused.stderr == (
        f"pylon: <string>:5: PermissionError: the tls cap is not granted (connect {https.target}); "
        f"grant it with --host {https.target} (or --cap net for plaintext connections too)\n"
    )
    other = code.replace("/certs/ca.pem", "/certs/other.pem")
    untrusted = pylon("--dir", certs, "--host", https.target, "-c", other)
    assert untrusted.status == 1
    assert untrusted.stderr.splitlines()[-1].startswith(
        "ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"
    )


def test_a_tls_only_connection_carries_no_plaintext(pylon, https):  # noqa: F811
    # Under tls alone, the guest may only send bytes the host's TLS made.
    code = _GET.format(context="", host="localhost", port=https.port, tls="", path="x")
    result = pylon("--host", https.target, "-c", code)
    assert result.status == 1
    assert result.stderr == (
        f"pylon: <string>:7: PermissionError: the net cap is not granted (send {https.target}); "
        "grant it with --cap net\n"
    )
