"""The fork-server that runs inside every sandbox (a container's PID 1, or a local subprocess).

Stdlib only: it is sent as `python3 -I -c <this file> ...` so any image with Python 3 runs it.
It reads framed JSON requests from one connected socket, compiles each program, forks a fresh
child to run it under rlimits, and answers with one framed JSON outcome per request.

The verdict comes from the *direct* child only: a result line tagged with that child's pid and
a per-program nonce, and that child's exit status. Grandchildren inherit the result pipe, so
their lines are ignored. The nonce lives only in a generator's frame that writes for the
harness's frame alone, and a PEP 578 audit hook keeps the program from every frame, the heap
and raw memory (see `_child` and the README's reliability section for what remains possible). After each program every other process is killed: with
`kill(-1)` when this worker is PID 1 of its own PID namespace, otherwise by scanning /proc for
descendants (the worker is a child subreaper, so orphans stay in its tree).
"""

import ctypes
import errno
import gc
import json
import os
import resource
import select
import signal
import socket
import stat
import struct
import sys
import time
import traceback

import _signal  # signal's C core: `signal.signal` converts every answer to an enum, in each fork

# Modules HumanEval-style programs commonly import: loaded once here, shared by every fork.
# (A larger parent makes every fork dearer: only the common, light ones.)
# (random reseeds itself in every fork: it registers an after-fork hook.)
PRELOAD = ("math", "re", "collections", "itertools", "functools", "heapq", "bisect", "string", "typing",
           "hashlib", "operator", "random", "copy")
DETAIL_CHARS = 2000
STDERR_KEEP = 8192
STDOUT_KEEP = 1 << 22  # a program asked for its stdout gets its last 4 MiB back (call results are printed last)
HEADER = struct.Struct(">I")
PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER = 4, 36
RESET_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGCHLD, signal.SIGXFSZ)



def _prctl(option, value):
    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def recv_msg(sock):
    head = _recv_exact(sock, HEADER.size)
    if head is None:
        return None
    body = _recv_exact(sock, HEADER.unpack(head)[0])
    return None if body is None else json.loads(body)


def _recv_exact(sock, n):
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def send_msg(sock, obj):
    body = json.dumps(obj).encode()
    sock.sendall(HEADER.pack(len(body)) + body)


def _tail(text, n=DETAIL_CHARS):
    return text if len(text) <= n else "..." + text[-n:]


# ---------------------------------------------------------------- the child

class SandboxDenied(PermissionError, ValueError):
    """What a program gets for the introspection the sandbox forbids. A ValueError too, so that
    stdlib code that falls back when sys._getframe fails (namedtuple, typing, enum) still works."""


# PEP 578 audit events a program may not raise: each reaches the harness's frames, the heap or raw memory.
DENIED_EVENTS = frozenset((
    "sys._getframe", "sys._current_frames", "sys._current_exceptions", "sys._getframemodulename",
    "sys.settrace", "sys.setprofile", "sys.addaudithook",
    "gc.get_objects", "gc.get_referrers", "gc.get_referents",
    "code.__new__", "os.symlink", "os.chdir",  # (marshal.loads: the import system loads .pyc with it)
))
DENIED_PREFIXES = ("ctypes.", "sys.monitoring.")
FRAME_ATTRIBUTES = frozenset(("tb_frame", "gi_frame", "cr_frame", "ag_frame"))
DENIED_IMPORTS = frozenset(("_testcapi", "_testinternalcapi", "_testmultiphase", "_xxtestfuzz", "_testbuffer"))


def _audit_hook(proc_dev, stat, fspath, type_, issubclass_, str_, bytes_join, int_, Base, Denied):
    """The child's audit hook. Everything it uses is bound here: the program can patch builtins and
    modules, not this closure (which nothing the program can reach refers to)."""
    denied, prefixes, frame_attrs, imports = DENIED_EVENTS, DENIED_PREFIXES, FRAME_ATTRIBUTES, DENIED_IMPORTS

    def hook(event, args):
        if event in denied or event.startswith(prefixes):
            raise Denied("sandbox: %s is not allowed" % event)
        if event == "object.__getattr__":
            if args[1] in frame_attrs:
                raise Denied("sandbox: reading %s is not allowed" % args[1])
        elif event == "open":
            path = args[0]
            kind = type_(path)
            if kind is int_ or proc_dev is None:
                return
            if issubclass_(kind, str_):
                path = str_.__str__(path)  # the characters, not what a subclass's __str__ says
            elif issubclass_(kind, (bytes, bytearray)):
                path = bytes_join((path,))
            else:
                path = fspath(path)  # a PathLike: asked a second time (see the README)
            try:
                st = stat(path)
            except Base:
                return  # a new file: not on /proc
            if st.st_dev == proc_dev:
                raise Denied("sandbox: opening files under /proc is not allowed")
        elif event == "import" and args[0] in imports:
            raise Denied("sandbox: importing %s is not allowed" % args[0])

    return hook


def _vault(fn, guard):
    """A generator holding `fn`: sent a tuple of arguments, it answers (True, fn(*guard(args))) or
    (False, exception). Its frame, where `fn` lives, is out of a program's reach (gi_frame is denied)."""
    out = None
    while True:
        args = yield out
        try:
            out = (True, fn(*guard(args)))
        except BaseException as exc:
            out = (False, exc)


def _proxy(send):
    def call(*args):
        ok, value = send(args)
        if ok:
            return value
        raise value
    return call


def _frameless(handler):
    def on_signal(signum, frame):
        return handler(signum, None)
    return on_signal


class _Spec:
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


def _seal(signal_module, imp_module, Denied):
    """Python signal handlers get None for the frame (a frame leads up the stack to the harness);
    the `_signal` module cannot be created or executed again to get the original back."""
    type_, str_, callable_ = type, str, callable

    def signal_args(args):
        signum, handler = args
        return (signum, _frameless(handler) if callable_(handler) else handler)

    def create_args(args):
        name = args[0].name
        if type_(name) is not str_ or name == "_signal":
            raise Denied("sandbox: creating the _signal module again is not allowed")
        return (_Spec(name),)

    def exec_args(args):
        if args[0] is signal_module:
            raise Denied("sandbox: executing the _signal module again is not allowed")
        return args

    for module, name, guard in ((signal_module, "signal", signal_args), (imp_module, "create_builtin", create_args),
                                (imp_module, "exec_builtin", exec_args)):
        vault = _vault(getattr(module, name), guard)
        next(vault)
        setattr(module, name, _proxy(vault.send))
    wrapper = sys.modules.get("signal")
    if wrapper is not None:  # signal.signal's functools.wraps kept the original in __wrapped__
        getattr(wrapper.signal, "__dict__", {}).pop("__wrapped__", None)


def _reporter(fd, nonce, harness, write, pid, getframe):
    """A generator that writes the verdict line `pid nonce status detail-hex` for the harness frame
    only: the nonce stays in this generator's frame, and a send from any other caller is ignored."""
    me = getframe()
    msg = yield
    while True:
        if me.f_back is harness:
            status, detail = msg
            try:
                write(fd, b"%d %s %s %s\n" % (pid, nonce, status, detail))
            except BaseException:
                pass
        msg = yield


def _child(code, result_w, err_w, out_w, workdir, req, cfg, nonce_box):
    """Runs in the fresh fork; never returns. The worker did the shared setup once (environment,
    /dev/null, no-new-privs and the capability bounding set): this is only what differs per program.

    Once the program runs it may patch every module and builtin, and everything it could reach is
    guarded by the audit hook; so everything this function uses afterwards is bound before."""
    harness = sys._getframe()
    reporter = _reporter(result_w, nonce_box.pop().encode(), harness, os.write, os.getpid(), sys._getframe)
    next(reporter)
    exit_now, getpid, gc_disable, describe = os._exit, os.getpid, gc.disable, _describe
    Exit, NoMemory, Base = SystemExit, MemoryError, BaseException
    try:
        os.setsid()
        os.chdir(workdir)
        devnull = cfg["devnull"]
        os.dup2(devnull, 0)
        os.dup2(devnull if out_w is None else out_w, 1)
        os.dup2(err_w, 2)
        _close_fds_except(result_w, cfg.get("close_range"))
        if cfg.get("drop_uid") is not None:
            uid = cfg["drop_uid"]
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        elif cfg.get("capset") is not None:
            if cfg["capset"]() != 0:
                raise OSError(ctypes.get_errno(), "capset failed")
        mem = int(req.get("memory_mb") or 0) * 1024 * 1024
        if mem > 0:
            resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
        cpu = int(float(req["timeout"])) + 2
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        fsize = cfg["file_mb"] * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_NOFILE, (cfg["nofile"], cfg["nofile"]))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if cfg.get("nproc"):
            resource.setrlimit(resource.RLIMIT_NPROC, (cfg["nproc"], cfg["nproc"]))
        for sig in RESET_SIGNALS:
            _signal.signal(sig, _signal.SIG_DFL)
        _seal(_signal, sys.modules["_imp"], SandboxDenied)
        sys.addaudithook(_audit_hook(cfg.get("proc_dev"), os.stat, os.fspath, type, issubclass, str, b"".join, int,
                                     BaseException, SandboxDenied))
    except BaseException as exc:  # setup failure is the sandbox's, not the program's
        reporter.send((b"error", ("sandbox setup failed: %r" % (exc,)).encode("utf-8", "replace").hex().encode()))
        exit_now(3)
    me = getpid()
    try:
        exec(code, {"__name__": "__main__", "__builtins__": __builtins__})
    except Exit as exc:
        status, detail = b"error", "exited early: SystemExit before the program's end"
    except NoMemory:
        status, detail = b"error", "out of memory (MemoryError)"
    except Base as exc:
        status, detail = b"failed", describe(exc)
    else:
        status, detail = b"passed", ""
    gc_disable()  # no finalizer of the program's runs while the verdict is written
    if getpid() == me:
        try:
            hexed = detail.encode("utf-8", "replace").hex().encode()
        except Base:
            hexed = b""
        reporter.send((status, hexed))
    exit_now(0)


def _prepare_capability_drop():
    """Root without capabilities: no ptrace, no DAC override, no mounts; execve cannot regain them.
    The worker sets no-new-privs and empties the bounding set once (both inherited by every fork; the
    worker keeps its own effective set); it returns the one call each child makes to empty its sets."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
    for cap in range(64):
        libc.prctl(24, cap, 0, 0, 0)  # PR_CAPBSET_DROP (fails harmlessly past the last capability)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable x 2: all empty
    capset = libc.capset
    return lambda: capset(header, data)


def _close_fds_except(keep, close_range=None):
    """Close inherited fds >= 3 but `keep`: close_range(2) where the worker found it works (two
    system calls), else by listing /proc/self/fd, which beats closerange(3, 65536): that closes one
    fd at a time where seccomp hides close_range(2) (docker 20.10)."""
    if close_range is not None and close_range(3, keep - 1, 0) == 0 and close_range(keep + 1, 0x7FFFFFFF, 0) == 0:
        return
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        os.closerange(3, keep)
        os.closerange(keep + 1, 65536)
        return
    for fd in fds:
        if fd >= 3 and fd != keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _describe(exc, _tail=_tail, _only=traceback.format_exception_only, _type=type, _Base=BaseException):
    """The error's last lines: the line numbers it passed through and `Type: message` (frames,
    which name the files, are out of reach once the program runs)."""
    try:
        lines = []
        tb = exc.__traceback__
        tb = tb.tb_next if tb is not None else None  # the harness's exec call
        while tb is not None and len(lines) < 64:
            lines.append("  line %d\n" % tb.tb_lineno)
            tb = tb.tb_next
        head = "Traceback (most recent call last):\n" + "".join(lines) if lines else ""
        return _tail(head + "".join(_only(_type(exc), exc)))
    except _Base:
        try:
            return "%s: %s" % (_type(exc).__name__, exc)
        except _Base:
            return "exception (unprintable)"


# ---------------------------------------------------------------- the worker

class Worker:
    def __init__(self, sock, cfg):
        self.sock = sock
        self.cfg = cfg
        self.pid1 = os.getpid() == 1
        self.scratch = cfg["scratch"]
        self.counter = 0

    def serve(self):
        _prctl(PR_SET_DUMPABLE, 0)  # programs (same uid) may not ptrace or read this process
        if not self.pid1:
            _prctl(PR_SET_CHILD_SUBREAPER, 1)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_IGN)
        for name in PRELOAD:
            try:
                __import__(name)
            except ImportError:
                pass
        workdir = os.path.join(self.scratch, "run")  # every program's environment, set once for all forks
        os.environ.clear()
        os.environ.update({"PATH": "/usr/bin:/bin", "HOME": workdir, "LANG": "C.UTF-8", "TMPDIR": workdir})
        self.cfg["devnull"] = os.open(os.devnull, os.O_RDWR)
        self.cfg["close_range"] = _find_close_range()
        try:
            self.cfg["proc_dev"] = os.stat("/proc/self").st_dev  # the audit hook denies opening files there
        except OSError:
            self.cfg["proc_dev"] = None
        if self.cfg.get("drop_uid") is None and os.geteuid() == 0:
            self.cfg["capset"] = _prepare_capability_drop()
        self.cleanup()
        gc.collect()
        gc.freeze()  # children's collections skip everything loaded so far: fewer copy-on-write faults
        send_msg(self.sock, {"ready": True, "pid": os.getpid(), "pid1": self.pid1, "uid": os.getuid(),
                             "private_tmp": bool(self.cfg.get("private_tmp")),
                             "readonly_root": bool(self.cfg.get("readonly_root")),
                             "python": sys.version.split()[0]})
        while True:
            req = recv_msg(self.sock)
            if req is None:
                return
            outcome = self.run_one(req)
            outcome["n"] = req.get("n")
            send_msg(self.sock, outcome)

    def run_one(self, req):
        t0 = time.monotonic()
        try:
            code = compile(req["source"], "<program>", "exec")
        except BaseException as exc:  # SyntaxError, ValueError (NUL bytes), RecursionError, MemoryError
            return {"status": "failed", "detail": _describe(exc), "duration": time.monotonic() - t0}
        workdir = self.prepare_workdir()
        result_r, result_w = os.pipe()
        err_r, err_w = os.pipe()
        out_r, out_w = os.pipe() if req.get("stdout") else (None, None)
        nonce = os.urandom(8).hex()
        pid = os.fork()
        if pid == 0:
            box, nonce = [nonce], None  # the child's copy of this frame keeps no nonce
            os.close(result_r)
            os.close(err_r)
            if out_r is not None:
                os.close(out_r)
            try:
                self.sock.close()
            except BaseException:
                pass
            _child(code, result_w, err_w, out_w, workdir, req, self.cfg, box)
        os.close(result_w)
        os.close(err_w)
        if out_w is not None:
            os.close(out_w)
        try:
            reply = self._watch(pid, result_r, err_r, out_r, nonce, float(req["timeout"]), t0)
        finally:
            self.cleanup()
            for fd in (result_r, err_r, out_r):
                if fd is not None:
                    os.close(fd)
        return reply

    def _watch(self, pid, result_r, err_r, out_r, nonce, timeout, t0):
        deadline = t0 + timeout
        results, stderr, stdout = bytearray(), bytearray(), bytearray()
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        status = None
        timed_out = False
        open_fds = [result_r, err_r] + ([out_r] if out_r is not None else [])
        while status is None:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            watch = open_fds + ([pidfd] if pidfd is not None else [])
            ready, _, _ = select.select(watch, [], [], left if pidfd is not None else min(left, 0.005))
            for fd in ready:
                if fd == pidfd:
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    open_fds.remove(fd)
                elif fd == result_r:
                    if len(results) < 1 << 20:
                        results += chunk
                elif fd == out_r:
                    stdout += chunk
                    if len(stdout) > 2 * STDOUT_KEEP:
                        del stdout[:-STDOUT_KEEP]
                else:
                    stderr += chunk
                    del stderr[:-STDERR_KEEP]
            got, st = os.waitpid(pid, os.WNOHANG)
            if got == pid:
                status = st
        if pidfd is not None:
            os.close(pidfd)
        duration = time.monotonic() - t0
        if timed_out:
            return {"status": "timeout", "detail": "ran past its %.3g s time limit" % timeout, "duration": duration}
        self.kill_others()
        for fd in open_fds:  # what the child wrote before exiting (grandchildren are dead now)
            _drain(fd, results if fd == result_r else stdout if fd == out_r else stderr)
        verdict = _verdict(pid, nonce, status, bytes(results), bytes(stderr)[-STDERR_KEEP:], duration)
        if out_r is not None:
            verdict["stdout"] = bytes(stdout[-STDOUT_KEEP:]).decode("utf-8", "replace")
        return verdict

    def kill_others(self):
        """SIGKILL every process but this one, and reap them all."""
        if not _has_children():  # orphans reparent to us (PID 1 or subreaper): no children, no descendants
            return
        if self.pid1:
            for _ in range(1000):
                try:
                    os.kill(-1, signal.SIGKILL)
                except ProcessLookupError:
                    break
                _reap(block=False)
        else:
            for _ in range(1000):
                victims = _descendants(os.getpid())
                if not victims:
                    break
                for p in victims:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except OSError:
                        pass
                _reap(block=False)
        _reap(block=True)

    def cleanup(self):
        self.kill_others()
        workdir = os.path.join(self.scratch, "run")
        try:
            clean = os.listdir(self.scratch) == ["run"] and not os.listdir(workdir)
        except OSError:
            clean = False
        if not clean:
            _wipe(self.scratch)
        for root in self.cfg.get("wipe", ()):
            _wipe(root, keep=self.scratch)

    def prepare_workdir(self):
        """The program's directory: empty, owned by the program's uid, mode 0700 (reused while clean)."""
        workdir = os.path.join(self.scratch, "run")
        uid = self.cfg.get("drop_uid")
        want_uid = os.getuid() if uid is None else uid
        try:
            st = os.lstat(workdir)
            if st.st_uid == want_uid and stat.S_ISDIR(st.st_mode) and (st.st_mode & 0o7777) == 0o700:  # lstat: no link
                return workdir
            _wipe(self.scratch)
        except FileNotFoundError:
            pass
        os.mkdir(workdir, 0o700)
        if uid is not None:
            os.chown(workdir, uid, uid)
        return workdir


def _verdict(pid, nonce, status, results, stderr, duration):
    report = None
    want = b"%d %s " % (pid, nonce.encode())
    for line in results.splitlines():
        if line.startswith(want):
            parts = line.split(b" ")
            if len(parts) == 4 and parts[2] in (b"passed", b"failed", b"error"):
                try:
                    detail = bytes.fromhex(parts[3].decode("ascii")).decode("utf-8", "replace")
                except ValueError:
                    continue
                report = {"status": parts[2].decode(), "detail": detail}
                break
    err = stderr.decode("utf-8", "replace")
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        if sig == signal.SIGXCPU:
            return {"status": "timeout", "detail": "CPU time limit exceeded (SIGXCPU)", "duration": duration}
        why = {signal.SIGSEGV: "crashed", signal.SIGKILL: "killed (out of memory?)", signal.SIGXFSZ: "file size limit exceeded"}
        detail = "%s: signal %s" % (why.get(sig, "killed"), name)
        return {"status": "error", "detail": _tail(detail + ("\n" + err if err else "")), "duration": duration}
    code = os.WEXITSTATUS(status)
    if report is None:
        if code == 0:
            detail = "exited early with status 0 before the program's end"
        else:
            detail = "exited with status %d" % code
        return {"status": "error", "detail": _tail(detail + ("\n" + err if err else "")), "duration": duration}
    if report.get("status") == "passed" and code != 0:
        return {"status": "error", "detail": "exit status %d after the end" % code, "duration": duration}
    st = report.get("status") if report.get("status") in ("passed", "failed", "error") else "error"
    return {"status": st, "detail": str(report.get("detail", "")), "duration": duration}


def _has_children():
    try:
        pid, status = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT) or (0, 0), None
    except ChildProcessError:
        return False
    return True


def _drain(fd, buf):
    os.set_blocking(fd, False)
    try:
        while len(buf) < (1 << 21):
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            buf += chunk
    except (BlockingIOError, OSError):
        pass


def _reap(block):
    while True:
        try:
            pid, _ = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return
        except InterruptedError:
            continue
        if pid == 0:
            return


def _descendants(root):
    parent = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as fh:
                raw = fh.read()
        except OSError:
            continue
        fields = raw[raw.rfind(b")") + 2:].split()
        parent[int(name)] = int(fields[1])
    out = []
    for pid in parent:
        p, hops = pid, 0
        while p in parent and p != root and hops < 4096:
            p, hops = parent[p], hops + 1
        if p == root and pid != root:
            out.append(pid)
    return out


def _wipe(root, keep=None):
    try:
        names = os.listdir(root)
    except OSError:
        return
    for name in names:
        path = os.path.join(root, name)
        if path == keep:
            continue
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                _make_writable(path)
                _rmtree(path)
            else:
                os.unlink(path)
        except OSError:
            pass


def _rmtree(path):
    """Remove a directory tree without following symlinks (shutil, unneeded otherwise, would make
    every fork dearer)."""
    try:
        entries = list(os.scandir(path))
    except OSError:
        entries = []
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                _rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:
            pass
    try:
        os.rmdir(path)
    except OSError:
        pass


def _find_close_range():
    """libc's close_range(2) if this kernel and seccomp profile allow it, else None."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).close_range
    except (OSError, AttributeError):
        return None
    r, w = os.pipe()
    try:
        ok = fn(w, w, 0) == 0  # closes w: a real test of the system call
    except BaseException:
        ok = False
    os.close(r)
    if not ok:
        os.close(w)
    return fn if ok else None


def _make_writable(path):
    for dirpath, dirnames, _ in os.walk(path):
        for d in dirnames:
            try:
                os.chmod(os.path.join(dirpath, d), 0o700)
            except OSError:
                pass


def _remount_readonly():
    """Make every inherited mount read-only (in this private mount namespace only); True if / is."""
    libc = ctypes.CDLL(None, use_errno=True)
    MS_RDONLY, MS_REMOUNT, MS_BIND = 1, 32, 4096
    try:
        with open("/proc/self/mountinfo") as fh:
            targets = [line.split()[4] for line in fh]
    except OSError:
        return False
    root_ok = False
    for target in targets:
        if target.startswith(("/proc", "/sys", "/dev")):
            continue
        path = target.encode().decode("unicode_escape").encode()
        ok = libc.mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY, None) == 0
        root_ok = root_ok or (ok and target == "/")
    return root_ok


def _mount_private_tmp(size_mb):
    """Mount tmpfs over the world-writable places (needs a private mount namespace); True if all mounted."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return False
    opts = ("size=%dm,mode=1777" % size_mb).encode()
    ok = True
    for target in (b"/tmp", b"/var/tmp", b"/dev/shm"):
        if os.path.isdir(target) and libc.mount(b"tmpfs", target, b"tmpfs", 2 | 4, opts) != 0:  # MS_NOSUID|MS_NODEV
            ok = False
    return ok


OPTIONS = {  # name: (type, default); argparse is not used: it would stay in memory and make every fork dearer
    "fd": (int, None),  # an inherited connected socket
    "connect": (str, None),  # a unix socket path to connect to
    "scratch": (str, None),  # the writable directory programs run in (wiped after each)
    "wipe": (list, ()),  # other writable places to wipe after each program (repeatable)
    "drop_uid": (int, None),
    "file_mb": (int, 16),
    "nofile": (int, 256),
    "nproc": (int, 0),
    # in a private mount namespace: remount everything read-only, then fresh tmpfs on /tmp, /var/tmp, /dev/shm
    "private_tmp_mb": (int, 0),
}


class Args:
    def __init__(self, values):
        self.__dict__.update(values)


def parse_args(argv):
    """`--name value` pairs for OPTIONS (dashes or underscores); anything else is an error."""
    values = {name: (list(default) if kind is list else default) for name, (kind, default) in OPTIONS.items()}
    i = 0
    while i < len(argv):
        name = argv[i][2:].replace("-", "_") if argv[i].startswith("--") else None
        if name not in OPTIONS or i + 1 >= len(argv):
            raise SystemExit("codexsd-worker: bad argument %r (options: %s, each with a value)"
                             % (argv[i], ", ".join("--" + n.replace("_", "-") for n in OPTIONS)))
        kind, value = OPTIONS[name][0], argv[i + 1]
        if kind is list:
            values[name].append(value)
        else:
            try:
                values[name] = kind(value)
            except ValueError:
                raise SystemExit("codexsd-worker: --%s wants %s, got %r" % (name.replace("_", "-"), kind.__name__, value))
        i += 2
    if values["scratch"] is None:
        raise SystemExit("codexsd-worker: --scratch is required")
    return Args(values)


def main(argv):
    args = parse_args(argv)
    readonly_root = bool(args.private_tmp_mb) and _remount_readonly()
    private_tmp = bool(args.private_tmp_mb) and _mount_private_tmp(args.private_tmp_mb)
    if private_tmp:
        args.scratch = "/tmp/sbx"
        args.wipe = sorted(set(args.wipe) | {"/tmp", "/var/tmp", "/dev/shm"})
    if args.fd is not None:
        sock = socket.socket(fileno=args.fd)
    else:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        for _ in range(200):
            try:
                sock.connect(args.connect)
                break
            except OSError as exc:
                if exc.errno not in (errno.ENOENT, errno.ECONNREFUSED):
                    raise
                time.sleep(0.05)
    os.makedirs(args.scratch, exist_ok=True)
    cfg = {"scratch": args.scratch, "wipe": args.wipe, "drop_uid": args.drop_uid, "file_mb": args.file_mb,
           "nofile": args.nofile, "nproc": args.nproc, "private_tmp": private_tmp, "readonly_root": readonly_root}
    Worker(sock, cfg).serve()


if __name__ == "__main__":
    main(sys.argv[1:])
