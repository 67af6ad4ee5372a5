"""Runs INSIDE the CPython guest: local time that follows `TZ`.

wasi-libc has no time zone support: its localtime, mktime and strftime
are UTC whatever `TZ` says. This module gives the `time` module what
glibc would give it, computed from the zone data the launcher preopens at
/usr/share/zoneinfo (tzdata) or from a POSIX TZ string, and nothing else:

- `time.localtime`, `mktime`, `ctime`, `asctime()`, `strftime` (the current
  time's or a tuple's %Z and %z) and `tzset`, which re-reads
  `os.environ['TZ']` (the WASI build has none of its own) and sets `timezone`, `altzone`, `daylight`, `tzname`
  as CPython does on glibc (from the offsets of 1 January and 1 July).
- `datetime`: its C module reads local time from wasi-libc, so once local
  time is anything but plain UTC the `datetime` module's classes become
  the pure-Python `_pydatetime` ones (which ask `time.localtime`), and
  `zoneinfo.ZoneInfo` its pure-Python twin (the C one needs C datetimes).

Without `TZ` local time stays UTC and the originals do the work. Names are
found as glibc finds them: a TZif file first (relative to `TZDIR`, default
/usr/share/zoneinfo, or an absolute path; a leading `:` is dropped), else a
POSIX TZ string; what is neither is UTC named by its leading letters, as
glibc does (`TZ=Foo/Bar` gives ('Foo', 'Foo')).
"""

import bisect
import os
import sys
import time


# zoneinfo and _pydatetime are imported when a TZ needs them, not baked into
# the snapshot: that would raise every session's smallest --memory.

_gmtime = time.gmtime
_localtime = time.localtime
_mktime = time.mktime
_strftime = time.strftime
_asctime = time.asctime
_ctime = time.ctime
_time = time.time
_struct_time = time.struct_time

#: glibc's rule for a TZ string with a DST name and no rule (its posixrules).
_DEFAULT_RULE = ",M3.2.0,M11.1.0"
_ZONEINFO = "/usr/share/zoneinfo"


class _Fixed:
    """One offset all the time (`UTC0`, `JST-9`, an unknown name)."""

    def __init__(self, offset, abbr, isdst=0, dst_name=None):
        self.offset, self.abbr, self.isdst = offset, abbr, isdst
        self.utc = offset == 0 and abbr == "UTC" and not isdst
        #: glibc's C `tzname`, which names a plain tuple's %Z
        self.names = (abbr, abbr if dst_name is None else dst_name)

    def info(self, t):
        return self.offset, self.isdst, self.abbr


class _Rule:
    """A POSIX TZ string with a DST rule, evaluated by zoneinfo's own code."""

    utc = False

    def __init__(self, tzstr):
        self._rule = tzstr
        self.names = (tzstr.std.tzname, tzstr.dst.tzname)

    def info(self, t):
        year = _gmtime(t).tm_year
        if year < 1970:  # glibc applies a TZ string's rule from 1970 on
            std = self._rule.std
            return int(std.utcoff.total_seconds()), 0, std.tzname
        tti, _fold = self._rule.get_trans_info_fromutc(t, year)
        isdst = 1 if tti is self._rule.dst else 0
        return int(tti.utcoff.total_seconds()), isdst, tti.tzname


class _File:
    """A TZif file: its transitions, then its footer's rule."""

    utc = False

    def __init__(self, data):
        trans_idx, trans_utc, utcoff, isdst, abbr, footer = data
        self._times = list(trans_utc)
        self._types = [(utcoff[i], isdst[i], abbr[i]) for i in trans_idx]
        types = list(zip(utcoff, isdst, abbr))
        first = next((ty for ty in types if not ty[1]), types[0] if types else (0, 0, "UTC"))
        self._before = first
        self._after = _posix(footer.decode("ascii", "replace")) if footer else None
        if not self._times and self._after is None:
            self._after = _Fixed(*first[::2], first[1])
        if footer:  # glibc names a tuple's %Z by the footer's rule
            self.names = self._after.names
        else:
            latest = {}
            for _offset, flag, name in reversed(self._types):
                latest.setdefault(flag, name)
            std = latest.get(0, latest.get(1, first[2]))
            self.names = (std, latest.get(1, std))

    def info(self, t):
        times = self._times
        if times and t < times[0]:
            return self._before
        if self._after is not None and (not times or t >= times[-1]):
            return self._after.info(t)
        return self._types[bisect.bisect_right(times, t) - 1]


def _letters(text, at):
    """glibc's parse_tzname: a name of 3+ letters or a <quoted> one; (name, end)."""
    if text[at:at + 1] == "<":
        end = text.find(">", at)
        name = text[at + 1:end] if end > 0 else ""
        if end > 0 and len(name) >= 3 and all(c.isalnum() or c in "+-" for c in name):
            return name, end + 1
        return None, at
    end = at
    while end < len(text) and text[end].isascii() and text[end].isalpha():
        end += 1
    return (text[at:end], end) if end - at >= 3 else (None, at)


def _offset(text, at):
    """glibc's parse_offset: [+-]hh[:mm[:ss]] west of UTC; (seconds east, end)."""
    sign = -1
    if text[at:at + 1] in ("+", "-"):
        sign = 1 if text[at] == "-" else -1
        at += 1
    parts, end = [], at
    while len(parts) < 3:
        start = end
        while end < len(text) and text[end].isdigit():
            end += 1
        if end == start:
            break
        parts.append(int(text[start:end]))
        if len(parts) < 3 and text[end:end + 1] == ":" and text[end + 1:end + 2].isdigit():
            end += 1
        else:
            break
    if not parts:
        return None, at
    hh, mm, ss = (parts + [0, 0])[:3]
    return sign * (min(hh, 24) * 3600 + min(mm, 59) * 60 + min(ss, 59)), end


def _posix(text):
    """A zone from a POSIX TZ string, with glibc's leniency for what is not one."""
    std, at = _letters(text, 0)
    if std is None:
        return _Fixed(0, "")
    offset, at = _offset(text, at)
    if offset is None:
        return _Fixed(0, std, dst_name="")
    if at == len(text):
        return _Fixed(offset, std)
    dst, _end = _letters(text, at)
    if dst is None:
        return _Fixed(offset, std)
    rule = text if "," in text.rstrip(",") else text.rstrip(",") + _DEFAULT_RULE
    _common, _zoneinfo = _zoneinfo_modules()
    try:
        parsed = _zoneinfo._parse_tz_str(rule)
    except (ValueError, AssertionError):
        return _Fixed(offset, std)
    if not isinstance(parsed, _zoneinfo._TZStr):
        return _Fixed(offset, std)
    return _Rule(parsed)


def _zoneinfo_modules():
    """zoneinfo's TZif reader and TZ-string parser, imported once with the
    session's own `datetime` in sys.modules (a test may have put a fresh one
    there, which C `_zoneinfo` cannot use)."""
    if "zoneinfo" not in _state:
        saved = sys.modules.get("datetime")
        sys.modules["datetime"] = _state["datetime"]
        try:
            from zoneinfo import _common, _zoneinfo

            _state["zoneinfo"] = (_common, _zoneinfo)
        finally:
            if saved is None:
                sys.modules.pop("datetime", None)
            else:
                sys.modules["datetime"] = saved
    return _state["zoneinfo"]


def _file(name):
    if name.startswith("/"):
        path = name
    else:
        path = os.path.join(os.environ.get("TZDIR") or _ZONEINFO, name)
    try:
        with open(path, "rb") as fobj:
            if fobj.read(4) != b"TZif":
                return None
            fobj.seek(0)
            return _File(_zoneinfo_modules()[0].load_data(fobj))
    except (OSError, ValueError, IndexError, UnicodeError, EOFError):
        return None


def load(value):
    """The zone `TZ=value` names (None: TZ is unset, plain UTC)."""
    if value is None:
        return None
    if value == "":
        return _Fixed(0, "UTC")
    name = value[1:] if value.startswith(":") else value
    return (_file(name) if name else None) or _posix(name)


_state = {"tz": None, "zone": None}


def _zone():
    return _state["zone"]


def _struct(t, zone):
    offset, isdst, abbr = zone.info(t)
    g = _gmtime(t + offset)
    return _struct_time(tuple(g)[:8] + (isdst, abbr, offset))


def _seconds(secs):
    """`secs` as time.localtime takes it: None is now, floats are floored;
    the C gmtime's own checks give CPython's errors for the rest."""
    if secs is None:
        secs = _time()
    _gmtime(secs)
    if isinstance(secs, float):
        return int(secs // 1)
    return secs.__index__()


def localtime(seconds=None, /):
    zone = _zone()
    if zone is None:
        return _localtime(seconds)
    return _struct(_seconds(seconds), zone)


def _nearby_offset(zone, t, isdst):
    """The offset of the nearest instant (within 8.5 years, in steps of a
    week) whose DST flag is `isdst`, as glibc's mktime looks for one."""
    stride = 601200
    for delta in range(stride, 536454000 // 2 + stride, stride):
        for probe in (t - delta, t + delta):
            offset, flag, _abbr = zone.info(probe)
            if bool(flag) == bool(isdst):
                return offset
    return None


def mktime(t, /):
    if _state["tz"] != os.environ.get("TZ"):
        tzset()  # glibc's mktime re-reads TZ, as if tzset() were called
    zone = _zone()
    wall = _mktime(t)  # wasi-libc's is UTC: the checks, and the fields normalized
    if zone is None:
        return wall
    wall = int(wall)
    isdst = t[8]
    offsets = sorted({zone.info(wall - delta)[0] for delta in (-86400, 0, 86400)})
    found = []
    for offset in offsets:
        info = zone.info(wall - offset)
        if info[0] == offset:
            found.append((wall - offset, info[1]))
    if not found:
        # In a gap: the offset whose DST flag was asked for, else the one before.
        around = [zone.info(wall - offset) for offset in offsets]
        if isdst >= 0:
            for offset, flag, _abbr in around:
                if bool(flag) == bool(isdst):
                    return float(wall - offset)
        # Unasked, glibc prefers the offset that makes the result DST.
        for offset in offsets:
            if zone.info(wall - offset)[1]:
                return float(wall - offset)
        return float(wall - zone.info(wall - offsets[-1])[0])
    if isdst < 0:  # in a fold, the DST time first, as glibc
        return float(min(found, key=lambda found: (not found[1], found[0]))[0])
    wanted = [moment for moment, flag in found if bool(flag) == bool(isdst)]
    if wanted:
        return float(min(wanted))
    moment, flag = min(found)
    other = _nearby_offset(zone, moment, isdst)
    if other is None:  # no such time: glibc takes DST as one hour ahead
        return float(moment + 3600 * ((1 if flag else 0) - (1 if isdst else 0)))
    return float(wall - other)


def ctime(seconds=None, /):
    if _zone() is None:
        return _ctime(seconds)
    return _asctime(localtime(seconds))


def asctime(t=None, /):
    return _asctime(localtime() if t is None else t)


def strftime(format, t=None, /):
    zone = _zone()
    if t is None:
        return _strftime(format, localtime())
    if zone is not None and not (isinstance(t, _struct_time) and t.tm_zone is not None):
        if isinstance(t, tuple) and len(t) == 9:
            isdst = t[8]
            if isdst < 0:
                return _strftime(_no_zone(format), t)
            t = _struct_time(tuple(t) + (zone.names[1 if isdst else 0], 0))
    return _strftime(format, t)


def _no_zone(format):
    """glibc's %Z and %z for a tuple whose DST flag is unknown: nothing."""
    out, i = [], 0
    while i < len(format):
        if format[i] == "%" and i + 1 < len(format):
            pair = format[i:i + 2]
            out.append("" if pair in ("%Z", "%z") else pair)
            i += 2
        else:
            out.append(format[i])
            i += 1
    return "".join(out)


def _set_names(zone):
    """time.timezone, altzone, daylight and tzname, as CPython computes them
    on glibc: from local time at the start of the year and half a year on."""
    if zone is None:
        values = (0, 0, 0, ("UTC", "UTC"))
    else:
        year = (365 * 24 + 6) * 3600
        t = (int(_time()) // year) * year
        jan = _struct(t, zone)
        jul = _struct(t + year // 2, zone)
        janzone, julzone = -jan.tm_gmtoff, -jul.tm_gmtoff
        janname, julname = jan.tm_zone[:9], jul.tm_zone[:9]
        if janzone < julzone:
            values = (julzone, janzone, int(janzone != julzone), (julname, janname))
        else:
            values = (janzone, julzone, int(janzone != julzone), (janname, julname))
    time.timezone, time.altzone, time.daylight, time.tzname = values


def tzset():
    """Initialize, or reinitialize, the local timezone to the value of the
    environment variable TZ (a zone name, a POSIX TZ string, or unset: UTC)."""
    value = os.environ.get("TZ")
    zone = load(value)
    _state["tz"], _state["zone"] = value, zone
    _set_names(zone)
    if zone is not None and not zone.utc:
        _pure_datetime()


_DATETIME_NAMES = (
    "date", "datetime", "time", "timedelta", "timezone", "tzinfo", "MINYEAR", "MAXYEAR", "UTC",
)


def _pure_datetime():
    """The `datetime` module's classes become `_pydatetime`'s, in place, so
    that modules holding the module (email.utils, the program's own) see them;
    objects made before keep the C classes, whose local time is UTC. Only the
    session's own `datetime` module is changed (a test's fresh import of it,
    test.support.import_fresh_module, is left alone), and nothing is blocked:
    `_datetime` and `_zoneinfo` stay importable."""
    module = _state.get("datetime")
    if module is None or module.__dict__.get("_pylon_pure"):
        return
    try:
        import _pydatetime

        _common, _zoneinfo = _zoneinfo_modules()
    except ImportError:  # a test blocked them: keep the C classes
        return
    for name in _DATETIME_NAMES:
        setattr(module, name, getattr(_pydatetime, name))
    module._pylon_pure = True
    if sys.modules.get("datetime") is not module:
        return
    import importlib

    # The C ZoneInfo needs C datetimes: zoneinfo's own pure-Python one instead.
    sys.modules["zoneinfo"].ZoneInfo = importlib.reload(_zoneinfo).ZoneInfo


class _Builtin:
    """A Python function that behaves as the C one it replaces: no binding
    as a class attribute (logging's `Formatter.converter = time.localtime`)."""

    __slots__ = ("_function", "__name__", "__qualname__", "__dict__")
    __module__ = "time"

    def __init__(self, function, original):
        self._function = function
        self.__name__ = self.__qualname__ = function.__name__
        self.__doc__ = original.__doc__ if original is not None else function.__doc__

    def __call__(self, *args, **kwargs):
        if kwargs:
            raise TypeError(f"{self.__name__}() takes no keyword arguments")
        return self._function(*args)

    def __repr__(self):
        return f"<built-in function {self.__name__}>"

    def __reduce__(self):
        return self.__name__


def install():
    """Build time: the `time` functions that depend on local time become
    these, which stay the originals' while TZ is unset."""
    import datetime

    _state["datetime"] = datetime
    for function, original in (
        (localtime, _localtime), (mktime, _mktime), (ctime, _ctime),
        (asctime, _asctime), (strftime, _strftime), (tzset, None),
    ):
        setattr(time, function.__name__, _Builtin(function, original))


def configure():
    """Run time, before the program: the zone of the session's TZ."""
    if os.environ.get("TZ") is not None or _state["zone"] is not None:
        tzset()
