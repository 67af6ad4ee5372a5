# Runs INSIDE the guest, CPython or MicroPython alike, as `lz4.frame`: the lz4
# package's frame API over the compression cap. The Python layer of the lz4
# package (LZ4FrameCompressor, LZ4FrameDecompressor, LZ4FrameFile) is here, with
# its rules; the C codec runs on the host (pylon_shell/caps/lz4/provider.py),
# on contexts named by handle that live only while a frame is being made or
# read. File I/O stays in the guest: only the codec's bytes cross.
#
# The host bounds every call: at most _INPUT bytes in and _OUTPUT bytes of
# decompressed data out, so longer data crosses in parts. Written for both
# runtimes: no f-string format specs, no keyword-only arguments, no dataclasses.

import builtins
import sys

import io

_MICRO = sys.implementation.name == "micropython"
#: Bytes to the codec in one call (the provider's MAX_INPUT). Data up to it
#: compresses in one call, to the very bytes the lz4 package makes.
_INPUT = 16 << 20
#: Compressed bytes sent per decompress call, and decompressed bytes asked
#: for (the provider makes at most 8 MiB a call). MicroPython's bridge carries
#: results as hex in JSON, so it asks for less at a time.
_PIECE = 1 << 20
_OUTPUT = (1 << 20) if _MICRO else (8 << 20)
#: LZ4FrameFile: compressed bytes read from the file, and decompressed bytes
#: made, at a time.
_RAW = 256 << 10
_CHUNK = 1 << 20
_INT_MAX = (1 << 31) - 1
_Base = object if _MICRO else io.BufferedIOBase


class UnsupportedOperation(OSError):
    """io.UnsupportedOperation, which MicroPython's io has not."""


_Unsupported = getattr(io, "UnsupportedOperation", UnsupportedOperation)

_VERSIONS = _cap_call("versions")
BLOCKSIZE_DEFAULT = _VERSIONS[3]
BLOCKSIZE_MAX64KB = _VERSIONS[4]
BLOCKSIZE_MAX256KB = _VERSIONS[5]
BLOCKSIZE_MAX1MB = _VERSIONS[6]
BLOCKSIZE_MAX4MB = _VERSIONS[7]
COMPRESSIONLEVEL_MIN = 0
COMPRESSIONLEVEL_MINHC = 3
COMPRESSIONLEVEL_MAX = 16


def _data(value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError("a bytes-like object is required, not '%s'" % type(value).__name__)


def _int(value):
    """An argument the lz4 package reads as a C int."""
    if not isinstance(value, int):
        raise TypeError("'%s' object cannot be interpreted as an integer" % type(value).__name__)
    value = int(value)
    if value > _INT_MAX:
        raise OverflowError("signed integer is greater than maximum")
    if value < -_INT_MAX - 1:
        raise OverflowError("signed integer is less than minimum")
    return value


def _size(value):
    """source_size, which the lz4 package reads as a C unsigned long."""
    if not isinstance(value, int):
        raise TypeError("'%s' object cannot be interpreted as an integer" % type(value).__name__)
    return int(value) % (1 << 64)


def _settings(level, block_size, content_checksum, block_checksum, block_linked):
    return (_int(level), _int(block_size), bool(content_checksum), bool(block_checksum),
            bool(block_linked))


def _view(data):
    """Parts of `data` without copies; MicroPython's memoryview reaches no
    offset past 16 MiB, so there its parts are copies."""
    return data if _MICRO else memoryview(data)


def _result(data, as_bytearray):
    return bytearray(data) if as_bytearray else data


def _drop(handle):
    if handle:
        try:
            _cap_call("drop", handle)
        except Exception:
            pass  # the session is ending: the host drops what is left


def compress(data, compression_level=0, block_size=0, content_checksum=False,
             block_checksum=False, block_linked=True, store_size=True, return_bytearray=False):
    data = _data(data)
    settings = _settings(compression_level, block_size, content_checksum, block_checksum,
                         block_linked)
    if len(data) <= _INPUT:
        out = _cap_call("compress", data, *(settings + (bool(store_size),)))
        return _result(out, return_bytearray)
    # Longer data: the same frame, made in parts (auto-flushed, as the
    # library's one-shot function makes it).
    source_size = len(data) if store_size else 0
    handle, header = _cap_call("compressor", *(settings + (True, source_size)))
    parts = [header]
    view = _view(data)
    try:
        for start in range(0, len(data), _INPUT):
            parts.append(_cap_call("compress_chunk", handle, view[start:start + _INPUT]))
        parts.append(_cap_call("compress_flush", handle))
    except BaseException:
        _drop(handle)
        raise
    return _result(b"".join(parts), return_bytearray)


def decompress(data, return_bytearray=False, return_bytes_read=False):
    data = _data(data)
    view = _view(data)
    first = view[:_INPUT]
    out, read, end, handle = _cap_call("decompress", first, len(first) == len(data))
    parts = [out]
    try:
        while not end:
            # A frame past the host's one-call bounds: the rest in parts.
            out, got, end = _cap_call("decompress_chunk", handle, view[read:read + _PIECE],
                                      _OUTPUT)
            parts.append(out)
            read += got
            if not end and read >= len(data) and len(out) < _OUTPUT:
                raise RuntimeError("Frame incomplete.")
    finally:
        _drop(handle)
    result = _result(b"".join(parts), return_bytearray)
    return (result, read) if return_bytes_read else result


def get_frame_info(frame):
    info = _cap_call("frame_info", _data(frame)[:_INPUT])
    keys = ("block_size", "block_size_id", "block_linked", "content_checksum",
            "block_checksum", "skippable", "content_size")
    return dict(zip(keys, info))


class LZ4FrameCompressor(object):
    """An LZ4 frame made in parts: begin(), compress() and flush()."""

    def __init__(self, block_size=BLOCKSIZE_DEFAULT, block_linked=True,
                 compression_level=COMPRESSIONLEVEL_MIN, content_checksum=False,
                 block_checksum=False, auto_flush=False, return_bytearray=False):
        self.block_size = block_size
        self.block_linked = block_linked
        self.compression_level = compression_level
        self.content_checksum = content_checksum
        self.block_checksum = block_checksum
        self.auto_flush = auto_flush
        self.return_bytearray = return_bytearray
        self._context = None
        self._started = False

    def __enter__(self):
        return self

    def __exit__(self, exception_type, exception, traceback):
        self.reset()
        self.block_size = None
        self.block_linked = None
        self.compression_level = None
        self.content_checksum = None
        self.block_checksum = None
        self.auto_flush = None
        self.return_bytearray = None

    def begin(self, source_size=0):
        if self._started:
            raise RuntimeError("LZ4FrameCompressor.begin() called after already initialized")
        settings = _settings(self.compression_level, self.block_size, self.content_checksum,
                             self.block_checksum, self.block_linked)
        handle, header = _cap_call(
            "compressor", *(settings + (bool(self.auto_flush), _size(source_size)))
        )
        self._context = handle
        self._started = True
        return _result(header, self.return_bytearray)

    def compress(self, data):
        if self._context is None:
            raise RuntimeError("compress called after flush()")
        if not self._started:
            raise RuntimeError("compress called before compress_begin()")
        data = _data(data)
        if len(data) <= _INPUT:
            out = _cap_call("compress_chunk", self._context, data)
        else:
            view = _view(data)
            out = b"".join(_cap_call("compress_chunk", self._context, view[i:i + _INPUT])
                           for i in range(0, len(data), _INPUT))
        return _result(out, self.return_bytearray)

    def flush(self):
        if self._context is None:
            raise ValueError("No compression context supplied")
        handle = self._context
        self._context = None
        self._started = False
        return _result(_cap_call("compress_flush", handle), self.return_bytearray)

    def reset(self):
        handle = self._context
        self._context = None
        self._started = False
        _drop(handle)

    def has_context(self):
        return self._context is not None

    def started(self):
        return self._started

    def __del__(self):
        self.reset()


class LZ4FrameDecompressor(object):
    """An LZ4 frame read in parts: decompress(data, max_length), eof,
    unused_data, needs_input."""

    def __init__(self, return_bytearray=False):
        self._context = None
        self._closed = False
        self.eof = False
        self.needs_input = True
        self.unused_data = None
        self._unconsumed_data = b""
        self._return_bytearray = return_bytearray

    def __enter__(self):
        return self

    def __exit__(self, exception_type, exception, traceback):
        self._release()
        self._closed = True
        self.eof = None
        self.needs_input = None
        self.unused_data = None
        self._unconsumed_data = None
        self._return_bytearray = None

    def _release(self):
        handle = self._context
        self._context = None
        _drop(handle)

    def reset(self):
        if self._closed:
            raise ValueError("No valid decompression context supplied")
        self._release()
        self.eof = False
        self.needs_input = True
        self.unused_data = None
        self._unconsumed_data = b""

    def decompress(self, data, max_length=-1):
        if self._closed:
            raise ValueError("No valid decompression context supplied")
        data = _data(data)
        if not isinstance(max_length, int):
            raise TypeError("an integer is required")
        if self._unconsumed_data:
            data = self._unconsumed_data + data
        decompressed, bytes_read, eoframe = self._chunk(data, max_length)
        if bytes_read < len(data):
            if eoframe:
                self.unused_data = data[bytes_read:]
            else:
                self._unconsumed_data = data[bytes_read:]
                self.needs_input = False
        else:
            self._unconsumed_data = b""
            self.needs_input = True
            self.unused_data = None
        self.eof = eoframe
        if eoframe:
            self._release()  # the frame is over: the host holds nothing for it
        return _result(decompressed, self._return_bytearray)

    def _chunk(self, data, max_length):
        """The lz4 package's decompress_chunk(context, data, max_length), in
        calls the host bounds: the input in parts of _PIECE, the output in
        parts of _OUTPUT (asking on while the host stopped at its bound and
        not at the caller's max_length)."""
        view = _view(data)
        parts = []
        produced = 0
        pos = 0
        while True:
            if self._context is None:
                self._context = _cap_call("decompressor")
            want = _OUTPUT
            bounded = True  # stopped by the host's bound, not by max_length
            if max_length >= 0 and max_length - produced <= _OUTPUT:
                want = max_length - produced
                bounded = False
            out, read, end = _cap_call("decompress_chunk", self._context,
                                       view[pos:pos + _PIECE], want)
            parts.append(out)
            produced += len(out)
            pos += read
            if end:
                break
            full = len(out) == want
            if full and not bounded:
                break  # max_length reached
            if pos >= len(data) and not full:
                break  # all input read, nothing held back
            if not read and not out and pos < len(data) and not full:
                break  # no progress (cannot happen with room for output)
        return b"".join(parts), pos, end

    def __del__(self):
        self._release()


_MODE_CLOSED = 0
_MODE_READ = 1
_MODE_WRITE = 3


class LZ4FrameFile(_Base):
    """A file of LZ4 frames, read or written through the guest's own file."""

    def __init__(self, filename=None, mode="r", block_size=BLOCKSIZE_DEFAULT,
                 block_linked=True, compression_level=COMPRESSIONLEVEL_MIN,
                 content_checksum=False, block_checksum=False, auto_flush=False,
                 return_bytearray=False, source_size=0):
        self._fp = None
        self._closefp = False
        self._mode = _MODE_CLOSED
        if mode in ("r", "rb"):
            mode_code = _MODE_READ
        elif mode in ("w", "wb", "a", "ab", "x", "xb"):
            mode_code = _MODE_WRITE
            self._compressor = LZ4FrameCompressor(
                block_size, block_linked, compression_level, content_checksum,
                block_checksum, auto_flush, return_bytearray,
            )
            self._pos = 0
        else:
            raise ValueError("Invalid mode: %r" % (mode,))
        if hasattr(filename, "__fspath__"):
            filename = filename.__fspath__()
        if isinstance(filename, (str, bytes)):
            if "b" not in mode:
                mode += "b"
            self._fp = builtins.open(filename, mode)
            self._closefp = True
            self._mode = mode_code
        elif hasattr(filename, "read") or hasattr(filename, "write"):
            self._fp = filename
            self._mode = mode_code
        else:
            raise TypeError("filename must be a str, bytes, file or PathLike object")
        if self._mode == _MODE_READ:
            self._rewind()
        if self._mode == _MODE_WRITE:
            self._source_size = source_size
            self._fp.write(self._compressor.begin(source_size))

    # -- the state ----------------------------------------------------------

    def close(self):
        if self._mode == _MODE_CLOSED:
            return
        try:
            if self._mode == _MODE_READ:
                self._decompressor._release()
                self._buffer = b""
            elif self._mode == _MODE_WRITE:
                self.flush()
                self._compressor = None
        finally:
            try:
                if self._closefp:
                    self._fp.close()
            finally:
                self._fp = None
                self._closefp = False
                self._mode = _MODE_CLOSED

    @property
    def closed(self):
        return self._mode == _MODE_CLOSED

    def fileno(self):
        self._check_not_closed()
        return self._fp.fileno()

    def seekable(self):
        if not self.readable():
            return False
        seekable = getattr(self._fp, "seekable", None)
        return seekable() if seekable is not None else hasattr(self._fp, "seek")

    def readable(self):
        self._check_not_closed()
        return self._mode == _MODE_READ

    def writable(self):
        self._check_not_closed()
        return self._mode == _MODE_WRITE

    def _check_not_closed(self):
        if self.closed:
            raise ValueError("I/O operation on closed file")

    def _check_can_read(self):
        if not self.readable():
            raise _Unsupported("File not open for reading")

    def _check_can_write(self):
        if not self.writable():
            raise _Unsupported("File not open for writing")

    def __enter__(self):
        self._check_not_closed()
        return self

    def __exit__(self, exception_type, exception, traceback):
        self.close()

    def __iter__(self):
        self._check_can_read()
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    # -- reading: the frames one after another, as the lz4 package reads them

    def _rewind(self):
        self._decompressor = LZ4FrameDecompressor()
        self._buffer = b""
        self._offset = 0
        self._pos = 0
        self._eof = False
        self._size = -1

    def _more(self):
        """More decompressed data into the buffer; False at the end of the file."""
        if self._eof:
            return False
        data = b""
        while True:
            decompressor = self._decompressor
            if decompressor.eof:
                raw = decompressor.unused_data or self._fp.read(_RAW)
                if not raw:
                    break
                decompressor._release()
                self._decompressor = decompressor = LZ4FrameDecompressor()
            elif decompressor.needs_input:
                raw = self._fp.read(_RAW)
                if not raw:
                    raise EOFError(
                        "Compressed file ended before the end-of-stream marker was reached"
                    )
            else:
                raw = b""
            data = decompressor.decompress(raw, _CHUNK)
            if data:
                break
        if not data:
            self._eof = True
            self._size = self._pos + len(self._buffer) - self._offset
            return False
        self._buffer = self._buffer[self._offset:] + data
        self._offset = 0
        return True

    def _take(self, size):
        end = self._offset + size
        out = self._buffer[self._offset:end]
        self._offset += len(out)
        self._pos += len(out)
        return out

    def _held(self):
        return len(self._buffer) - self._offset

    def read(self, size=-1):
        self._check_can_read()
        if size is None or size < 0:
            return self.readall()
        while self._held() < size and self._more():
            pass
        return self._take(size)

    def readall(self):
        self._check_can_read()
        while self._more():
            pass
        return self._take(self._held())

    def read1(self, size=-1):
        self._check_can_read()
        if size < 0:
            size = _CHUNK
        if size and not self._held():
            self._more()
        return self._take(size)

    def readinto(self, buffer):
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def peek(self, size=-1):
        self._check_can_read()
        if not self._held():
            self._more()
        return self._buffer[self._offset:]

    def readline(self, size=-1):
        self._check_can_read()
        if size is None:
            size = -1
        while True:
            at = self._buffer.find(b"\n", self._offset)
            if at >= 0:
                length = at + 1 - self._offset
                break
            if 0 <= size <= self._held() or not self._more():
                length = self._held()
                break
        if size >= 0:
            length = min(length, size)
        return self._take(length)

    def readlines(self, hint=-1):
        lines = []
        total = 0
        for line in self:
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def seek(self, offset, whence=0):
        """Emulated, as the lz4 package does: forward by reading, back by
        reading again from the file's start."""
        self._check_can_read()
        if not self.seekable():
            raise _Unsupported("The underlying file object does not support seeking")
        if whence == 1:
            offset = self._pos + offset
        elif whence == 2:
            if self._size < 0:
                while self._more():
                    pass
            offset = self._size + offset
        elif whence != 0:
            raise ValueError("Invalid value for whence: %r" % (whence,))
        if offset < self._pos:
            self._fp.seek(0)
            self._decompressor._release()
            self._rewind()
        while offset > self._pos:
            if not self._held() and not self._more():
                break
            self._take(offset - self._pos)
        return self._pos

    def tell(self):
        self._check_not_closed()
        return self._pos

    # -- writing ---------------------------------------------------------------

    def write(self, data):
        if isinstance(data, (bytes, bytearray)):
            length = len(data)
        else:
            data = _data(data)
            length = len(data)
        self._check_can_write()
        if not self._compressor.started():
            self._fp.write(self._compressor.begin(self._source_size))
        self._fp.write(self._compressor.compress(data))
        self._pos += length
        return length

    def flush(self):
        if self.writable() and self._compressor.has_context():
            self._fp.write(self._compressor.flush())
        flush = getattr(self._fp, "flush", None)
        if flush is not None:
            flush()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class _TextFile(object):
    """Text mode on MicroPython, which has no io.TextIOWrapper: lines and
    whole reads decoded, writes encoded."""

    def __init__(self, binary, encoding, errors):
        self._binary = binary
        self._encoding = encoding or "utf-8"
        self._errors = errors or "strict"

    def read(self, size=-1):
        if size is not None and size >= 0:
            raise ValueError("a text lz4 file reads whole or by lines on MicroPython")
        return self._binary.read().decode(self._encoding, self._errors)

    def readline(self, size=-1):
        return self._binary.readline().decode(self._encoding, self._errors)

    def readlines(self, hint=-1):
        return [line.decode(self._encoding, self._errors) for line in self._binary.readlines()]

    def write(self, text):
        self._binary.write(text.encode(self._encoding, self._errors))
        return len(text)

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def flush(self):
        self._binary.flush()

    def close(self):
        self._binary.close()

    @property
    def closed(self):
        return self._binary.closed

    def __enter__(self):
        return self

    def __exit__(self, exception_type, exception, traceback):
        self.close()


def open(filename, mode="rb", encoding=None, errors=None, newline=None,
         block_size=BLOCKSIZE_DEFAULT, block_linked=True,
         compression_level=COMPRESSIONLEVEL_MIN, content_checksum=False,
         block_checksum=False, auto_flush=False, return_bytearray=False, source_size=0):
    if "t" in mode:
        if "b" in mode:
            raise ValueError("Invalid mode: %r" % (mode,))
    else:
        if encoding is not None:
            raise ValueError("Argument 'encoding' not supported in binary mode")
        if errors is not None:
            raise ValueError("Argument 'errors' not supported in binary mode")
        if newline is not None:
            raise ValueError("Argument 'newline' not supported in binary mode")
    binary_file = LZ4FrameFile(
        filename, mode.replace("t", ""), block_size, block_linked, compression_level,
        content_checksum, block_checksum, auto_flush, return_bytearray, source_size,
    )
    if "t" not in mode:
        return binary_file
    if _MICRO:
        return _TextFile(binary_file, encoding, errors)
    return io.TextIOWrapper(binary_file, encoding, errors, newline)
