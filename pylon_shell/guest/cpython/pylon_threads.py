"""Runs INSIDE the CPython guest as `_thread`: threads in a sandbox that has none.

The interpreter is built for wasm32-wasip2, which has one thread; its own
`_thread` can only say "can't start new thread". This stand-in gives the
stdlib's `threading` (and so `queue`, `concurrent.futures`, `asyncio`) one
rule under which the common patterns give CPython's results:

- `Thread.start()` runs the thread's target to completion, there and then,
  as that thread (its own ident, name and `threading.local` values), and
  returns once it has finished; `join()` then returns at once.
- `threading.Timer` is the exception: its `start()` only schedules it. It runs
  when it is joined, when any wait (`time.sleep`, a timed lock, queue or event
  wait, an asyncio wait) passes its due time, when a wait that would otherwise
  never end needs it, or when the program ends (unless it is a daemon);
  `cancel()` before then stops it, as in CPython.
- A blocking wait that no other thread could ever end (a Lock held by another
  thread, an unset Event, `Condition.wait`, `Queue.get` on an empty queue, a
  Semaphore at 0, `join()` of a thread still running further up) raises
  `RuntimeError` at once, with a line naming the call and the thread. Raised
  in a started thread, it ends that thread and is raised again from the
  `start()` that ran it, so the program stops where the pattern is.
- A wait with a timeout sleeps out its timeout (in slices, so --timeout and
  Ctrl+C still stop it) and then fails as CPython's would: False, or
  `queue.Empty`.

`concurrent.futures.ThreadPoolExecutor` is patched (`patch_futures`) so that
`submit` runs the call at once in the submitting thread and returns a finished
future.
"""

import _thread as _real
import sys
import time
import weakref

import pylon_waits

error = RuntimeError
TIMEOUT_MAX = _real.TIMEOUT_MAX
_excepthook = _real._excepthook
_ExceptHookArgs = _real._ExceptHookArgs
interrupt_main = _real.interrupt_main
_is_main_interpreter = _real._is_main_interpreter
_monotonic = time.monotonic
_MAIN = _real.get_ident()
#: The idents of the threads running now, the innermost last.
_stack = [_MAIN]
_next_ident = [_MAIN + 1]
#: Timers started and not yet run: their handles.
_pending = []
#: The deepest `start()`s may nest (a thread starting a thread ...).
_MAX_DEPTH = 64
#: The stdlib's own frames, skipped when naming the call that would block.
_STDLIB = "/python/"


class NoThreadError(RuntimeError):
    """A wait no other thread could ever end: pylon runs one thread at a time."""


# Shown as the builtin it is to the user (as pylon_caps.CapPermissionError).
NoThreadError.__module__ = "builtins"
NoThreadError.__name__ = NoThreadError.__qualname__ = "RuntimeError"


def get_ident():
    return _stack[-1]


def get_native_id():
    return _stack[-1]


def _get_main_thread_ident():
    return _MAIN


def daemon_threads_allowed():
    return True


def _count():
    return len(_stack) - 1


def stack_size(size=0, /):
    if size != 0 and size < 32768:
        raise ValueError("size not valid: %d bytes" % size)
    return 0


def exit():
    raise SystemExit


exit_thread = exit


def _shutdown():
    pass


def _thread_name():
    threading = sys.modules.get("threading")
    if threading is not None:
        thread = threading._active.get(_stack[-1])
        if thread is not None:
            return thread.name
    return "MainThread" if _stack[-1] == _MAIN else f"thread {_stack[-1]}"


def _waiting_call():
    """The call the program made that ends in this wait (`queue.Queue.get()`),
    from the outermost stdlib frame above this module's own."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back
    found = None
    while frame is not None and frame.f_code.co_filename.startswith(_STDLIB):
        found = frame
        frame = frame.f_back
    if found is None:
        return "Lock.acquire()"
    module = found.f_globals.get("__name__", "?")
    name = found.f_code.co_qualname.replace("_RLock.", "RLock.").replace("_PySimpleQueue", "SimpleQueue")
    return f"{module}.{name}()"


#: Why a stdlib wait can never end, by the call the program made.
_WHY = {
    "Event.wait": "the event is not set",
    "Condition.wait": "nothing else can notify the condition",
    "Condition.wait_for": "nothing else can make the predicate true",
    "Semaphore.acquire": "the semaphore is at 0",
    "Barrier.wait": "the other parties can never arrive",
    "Thread.join": "the thread is still running further up",
    "get": "the queue is empty",
    "put": "the queue is full",
    "join": "it waits for work no other thread is doing",
    "result": "the future is not done",
    "exception": "the future is not done",
}


def _never(why):
    call = _waiting_call()
    name = call[:-2]
    for key, reason in _WHY.items():
        if name.endswith("." + key):
            why = reason
            break
    raise NoThreadError(
        f"{call} in thread {_thread_name()!r} would wait forever: {why}; "
        "pylon has no threads (a thread runs to completion inside its start()), "
        "so no other thread can end this wait"
    )


def _wait(ready, timeout, why):
    """Wait until `ready()` (another thread's work, which can only be a timer's
    here) for `timeout` seconds, or forever when it is negative. True when
    ready, False after the timeout, NoThreadError when nothing could ever."""
    if ready():
        return True
    deadline = None if timeout < 0 else _monotonic() + timeout
    while True:
        if deadline is None:
            if not _pending:
                _never(why)
            _run_timer(min(_pending, key=lambda handle: handle._due))
        else:
            left = deadline - _monotonic()
            if left <= 0:
                return False
            run_due()
            if ready():
                return True
            soonest = min((handle._due for handle in _pending), default=deadline)
            pylon_waits.pause(max(0.0, min(left, soonest - _monotonic())))
        if ready():
            return True


def _check_timeout(blocking, timeout):
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        timeout = float(timeout)
    if not blocking and timeout != -1:
        raise ValueError("can't specify a timeout for a non-blocking call")
    if timeout < 0 and timeout != -1:
        raise ValueError("timeout value must be a non-negative number")
    if timeout > TIMEOUT_MAX:
        raise OverflowError("timeout value is too large")
    return timeout


class LockType:
    """_thread.lock: no owner, as CPython's; who took it is kept for messages."""

    __slots__ = ("_holder", "__weakref__")

    def __init__(self):
        self._holder = None

    def acquire(self, blocking=True, timeout=-1):
        timeout = _check_timeout(blocking, timeout)
        if self._holder is None:
            self._holder = _stack[-1]
            return True
        if not blocking:
            return False
        mine = self._holder == _stack[-1]
        why = ("the lock is held by this same thread" if mine
               else "the lock is held by a thread that is not running")
        if _wait(lambda: self._holder is None, timeout, why):
            self._holder = _stack[-1]
            return True
        return False

    acquire_lock = acquire

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()

    def release(self):
        if self._holder is None:
            raise RuntimeError("release unlocked lock")
        self._holder = None

    release_lock = release

    def locked(self):
        return self._holder is not None

    locked_lock = locked

    def _at_fork_reinit(self):
        self._holder = None

    def __repr__(self):
        state = "locked" if self._holder is not None else "unlocked"
        return f"<{state} _thread.lock object at {id(self):#x}>"


lock = LockType


def allocate_lock():
    return LockType()


allocate = allocate_lock


class _ThreadHandle:
    """What a Thread's `_os_thread_handle` is: its ident and whether it ended."""

    __slots__ = ("ident", "_done", "_due", "_start")

    def __init__(self):
        self.ident = 0
        self._done = False
        self._due = None
        self._start = None

    def is_done(self):
        return self._done

    def _set_done(self):
        self._done = True

    def join(self, timeout=None):
        if self._done:
            return
        if self in _pending:
            _run_timer(self)
            return
        if self.ident == _stack[-1]:
            raise RuntimeError("Cannot join current thread")
        wait = -1 if timeout is None else max(float(timeout), 0.0)
        _wait(lambda: self._done, wait, "the thread it joins is still running further up")

    def __repr__(self):
        return f"<_thread._ThreadHandle object: ident={self.ident}>"


class _LocalImpl:
    __slots__ = ("args", "dicts", "__weakref__")


#: Every threading.local's per-thread dicts, to drop a thread's when it ends.
_locals = weakref.WeakSet()


class _local:
    """threading.local: one __dict__ per thread ident (the stdlib's pure-Python
    _threading_local imports threading at its top, so it cannot serve here)."""

    __slots__ = ("_local__impl", "__dict__")

    def __new__(cls, /, *args, **kw):
        if (args or kw) and (cls.__init__ is object.__init__):
            raise TypeError("Initialization arguments are not supported")
        self = object.__new__(cls)
        impl = _LocalImpl()
        impl.args = (args, kw)
        impl.dicts = {_stack[-1]: object.__getattribute__(self, "__dict__")}
        object.__setattr__(self, "_local__impl", impl)
        _locals.add(impl)
        return self

    def __getattribute__(self, name):
        _local_dict(self)
        return object.__getattribute__(self, name)

    def __setattr__(self, name, value):
        if name == "__dict__":
            raise AttributeError(f"{type(self).__name__!r} object attribute '__dict__' is read-only")
        _local_dict(self)
        return object.__setattr__(self, name, value)

    def __delattr__(self, name):
        if name == "__dict__":
            raise AttributeError(f"{type(self).__name__!r} object attribute '__dict__' is read-only")
        _local_dict(self)
        return object.__delattr__(self, name)


def _local_dict(self):
    """Point `self.__dict__` at the running thread's (made, and __init__ run
    again, on a thread's first use, as CPython does)."""
    impl = object.__getattribute__(self, "_local__impl")
    ident = _stack[-1]
    found = impl.dicts.get(ident)
    if found is not None:
        object.__setattr__(self, "__dict__", found)
        return
    found = impl.dicts[ident] = {}
    object.__setattr__(self, "__dict__", found)
    cls = type(self)
    if cls.__init__ is not object.__init__:
        args, kw = impl.args
        cls.__init__(self, *args, **kw)


def _make_thread_handle(ident):
    handle = _ThreadHandle()
    handle.ident = ident
    return handle


def _new_ident():
    ident = _next_ident[0]
    _next_ident[0] += 1
    return ident


def start_joinable_thread(function, handle=None, daemon=True):
    if handle is None:
        handle = _ThreadHandle()
    elif handle.ident or handle._done:
        raise RuntimeError("thread already started")
    if len(_stack) >= _MAX_DEPTH:
        raise RuntimeError(f"can't start new thread: pylon runs threads one inside another, "
                           f"at most {_MAX_DEPTH} deep")
    handle.ident = _new_ident()
    thread = getattr(function, "__self__", None)
    threading = sys.modules.get("threading")
    if threading is not None and isinstance(thread, threading.Timer):
        # Scheduled, not run: its start() must return (so it can be cancelled).
        thread._ident = handle.ident
        thread._started.set()
        handle._due = _monotonic() + max(float(thread.interval), 0.0)
        handle._start = (function, thread, daemon)
        _pending.append(handle)
        return handle
    _run(function, handle)
    return handle


def _run(function, handle):
    threading = sys.modules.get("threading")
    stuck = []
    hook = None
    if threading is not None:
        hook = threading.excepthook

        def keep_no_thread(args, hook=hook):
            # A thread stopped by a wait that can never end: re-raised by start().
            if isinstance(args.exc_value, NoThreadError) and args.thread is not None \
                    and args.thread.ident == handle.ident:
                stuck.append(args.exc_value)
            else:
                hook(args)

        threading.excepthook = keep_no_thread
    _stack.append(handle.ident)
    try:
        function()
    finally:
        _stack.pop()
        handle._done = True
        for impl in list(_locals):
            impl.dicts.pop(handle.ident, None)
        if threading is not None and threading.excepthook is keep_no_thread:
            threading.excepthook = hook
    if stuck:
        thread = getattr(function, "__self__", None)
        if threading is not None and isinstance(thread, threading.Thread):
            # Thread.start() takes it out of _limbo when starting fails.
            threading._limbo[thread] = thread
        raise NoThreadError(str(stuck[0])) from stuck[0]


def start_new_thread(function, args, kwargs=None, /):
    if not callable(function):
        raise TypeError("first arg must be callable")
    if not isinstance(args, tuple):
        raise TypeError("2nd arg must be a tuple")
    handle = _ThreadHandle()
    handle.ident = _new_ident()

    def bootstrap():
        try:
            function(*args, **(kwargs or {}))
        except SystemExit:
            pass
        except BaseException as exc:
            if isinstance(exc, NoThreadError):
                raise
            sys.unraisablehook(_Unraisable(exc, function))

    _run(bootstrap, handle)
    return handle.ident


start_new = start_new_thread


class _Unraisable:
    def __init__(self, exc, function):
        self.exc_type, self.exc_value, self.exc_traceback = type(exc), exc, exc.__traceback__
        self.err_msg = f"Exception ignored in thread started by {function!r}"
        self.object = None


def _run_timer(handle):
    """Run a scheduled Timer now, once its due time has come (at once when it
    was cancelled: its run() then does nothing)."""
    if handle not in _pending:
        return
    _pending.remove(handle)
    function, thread, _daemon = handle._start
    if not thread.finished.is_set():
        while True:
            left = handle._due - _monotonic()
            if left <= 0 or thread.finished.is_set():
                break
            run_due()
            pylon_waits.pause(min(left, pylon_waits.SLICE))
    interval = thread.interval
    thread.interval = 0
    try:
        _run(function, handle)
    finally:
        thread.interval = interval


def run_due():
    """Run the timers whose time has come (called between a wait's slices)."""
    if not _pending:
        return
    now = _monotonic()
    for handle in sorted(_pending, key=lambda handle: handle._due):
        if handle._due <= now:
            _run_timer(handle)


def finish():
    """The program's end: CPython joins its non-daemon threads, so the timers
    still scheduled run (daemon ones are dropped)."""
    while _pending:
        handle = min(_pending, key=lambda handle: handle._due)
        if handle._start[2]:
            _pending.remove(handle)
            continue
        _run_timer(handle)


# -- concurrent.futures: ThreadPoolExecutor without worker threads -------------

def patch_futures(module):
    """concurrent.futures.thread: submit runs the call at once and returns
    its finished future (a worker thread would wait forever on the empty
    work queue after its first item)."""
    executor = module.ThreadPoolExecutor

    def submit(self, fn, /, *args, **kwargs):
        with self._shutdown_lock, module._global_shutdown_lock:
            if self._broken:
                raise self.BROKEN(self._broken)
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            if module._shutdown:
                raise RuntimeError("cannot schedule new futures after interpreter shutdown")
            future = module._base.Future()
            item = module._WorkItem(future, self._resolve_work_item_task(fn, args, kwargs))
        context = self.__dict__.get("_pylon_context")
        if context is None:
            context = self._create_worker_context()
            try:
                context.initialize()
            except BaseException:
                module._base.LOGGER.critical("Exception in initializer:", exc_info=True)
                self._work_queue.put(item)
                self._initializer_failed()
                return future
            self._pylon_context = context
        item.run(context)
        return future

    submit.__doc__ = executor.submit.__doc__
    executor.submit = submit


def install():
    """Serve this module as `_thread` (before `threading` is first imported)."""
    module = sys.modules[__name__]
    sys.modules["_thread"] = module
    pylon_waits.on_slice.append(run_due)
