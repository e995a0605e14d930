"""Hostile programs, each through both backends: each ends as a non-pass, and the same worker then
serves a probe program that checks nothing was left behind (processes, files, broken builtins)."""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass

import pytest

from codexsd.sandbox import Program, Status, strict_equal_source
from sandbox_testing import BACKENDS, make_sandbox

SECRET = "codexsd-hostile-secret-8f3a"
NON_PASS = {Status.FAILED, Status.TIMEOUT, Status.ERROR}


@dataclass(frozen=True)
class Hostile:
    name: str
    source: str
    expect: frozenset = frozenset(NON_PASS)
    timeout: float = 1.5


def H(name, source, *expect, timeout=1.5):
    return Hostile(name, textwrap.dedent(source), frozenset(expect or NON_PASS), timeout)


F, T, E = Status.FAILED, Status.TIMEOUT, Status.ERROR

HOSTILE = [
    H("fork_bomb", """
        import os
        while True:
            os.fork()
    """),
    H("fork_bomb_setsid", """
        import os
        while True:
            if os.fork() == 0:
                os.setsid()
    """),
    H("memory_bomb", """
        chunks = []
        while True:
            chunks.append(bytearray(50 * 1024 * 1024))
    """, E, timeout=5),
    H("memory_bomb_string", "s = 'x' * (64 * 1024 ** 3)\n", E),
    H("infinite_loop", "while True:\n    pass\n", T),
    H("sleep_forever", "import time\ntime.sleep(10 ** 6)\n", T),
    H("ignores_sigterm", """
        import signal
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        while True:
            pass
    """, T),
    H("stops_itself", "import os, signal\nos.kill(os.getpid(), signal.SIGSTOP)\n", T, E),
    H("kills_its_parent", """
        import os, signal, time
        os.kill(os.getppid(), signal.SIGKILL)
        time.sleep(0.3)
        assert False, "parent survived"
    """, F, E),
    H("kills_everything", """
        import os, signal, time
        os.kill(-1, signal.SIGKILL)
        time.sleep(0.3)
        assert False, "still here"
    """, F, E),
    H("closes_stdout_stderr", "import os\nos.close(1)\nos.close(2)\nos.close(0)\nassert False, 'closed'\n", F),
    H("floods_stdout", "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n", T),
    H("floods_stderr", "import sys\nwhile True:\n    sys.stderr.write('y' * 65536)\n", T),
    H("fills_disk_one_file", """
        with open('big', 'wb') as fh:
            while True:
                fh.write(b'0' * 1024 * 1024)
    """, F, E),
    H("fills_disk_many_files", """
        for i in range(200):
            with open(f'f{i}', 'wb') as fh:
                fh.write(b'0' * 1024 * 1024)
        open('/tmp/leftover', 'w').write('x')
        open('../leftover', 'w').write('x')
        assert False, 'wrote 200 MB'
    """, F, timeout=10),
    H("network_connect", """
        import socket
        socket.create_connection(('1.1.1.1', 53), timeout=1).close()
    """, F),
    H("network_dns", "import socket\nsocket.getaddrinfo('deb.debian.org', 80)\n", F, T),
    H("reads_host_environment", f"import os\nassert os.environ.get('CODEXSD_HOSTILE') == {SECRET!r}, sorted(os.environ)\n", F),
    H("reads_worker_environ", f"""
        import os
        data = open('/proc/%d/environ' % os.getppid(), 'rb').read()
        assert {SECRET!r}.encode() in data
    """, F),
    H("writes_protected_places", """
        import os, sys
        open(os.path.join(os.path.dirname(os.__file__), 'os.py'), 'a').write('\\nraise SystemExit')
    """, F),
    H("writes_etc", "open('/etc/codexsd-pwned', 'w').write('x')\n", F),
    H("ptrace_worker_memory", "import os\nopen('/proc/%d/mem' % os.getppid(), 'r+b')\n", F),
    H("leaves_subprocess", """
        import subprocess, sys
        subprocess.Popen(['sleep', '1000'])
        subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(1000)'], start_new_session=True)
        assert False, 'left children'
    """, F),
    H("leaves_daemon", """
        import os, time
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                time.sleep(1000)
            os._exit(0)
        time.sleep(0.1)
        assert False, 'left a daemon'
    """, F),
    H("leaves_thread", """
        import threading, time
        threading.Thread(target=lambda: time.sleep(1000)).start()
        assert False, 'left a thread'
    """, F),
    H("segfault_ctypes", "import ctypes\nctypes.string_at(0)\n", F, E),  # ctypes is denied
    H("segfault", "import faulthandler\nfaulthandler._sigsegv()\n", E),
    H("deep_recursion", """
        import sys
        sys.setrecursionlimit(10 ** 7)
        def f(n):
            return f(n + 1) + 1
        f(0)
    """, timeout=3),  # a crash, a RecursionError/MemoryError, or a timeout: all fine, as long as it is no pass
    H("early_sys_exit", "import sys\nsys.exit(0)\nassert False\n", E),
    H("early_os_exit", "import os\nos._exit(0)\n", E),
    H("early_exit_in_thread_race", "import os, threading\nthreading.Thread(target=os._exit, args=(0,)).start()\nimport time\ntime.sleep(1)\nassert False\n", E),
    H("forges_pass_message", """
        import os, json
        msg = json.dumps({'pid': os.getpid(), 'nonce': '0' * 16, 'status': 'passed', 'detail': ''}).encode() + b'\\n'
        for fd in range(3, 64):
            try:
                os.write(fd, msg)
            except OSError:
                pass
        os._exit(0)
    """, E),
    H("tampers_builtins", """
        import builtins
        builtins.__dict__.clear()
        raise ValueError('after clearing builtins')
    """, F, E),
    H("tampers_os_and_modules", """
        import os, sys
        os._exit = lambda *a: None
        os.write = lambda *a: 0
        sys.modules['json'] = None
        sys.modules['traceback'] = None
        assert False, 'tampered'
    """, F),
    H("always_equal_object", strict_equal_source() + textwrap.dedent("""
        class AlwaysEqual:
            def __eq__(self, other):
                return True
            __ne__ = lambda self, other: False
        def candidate():
            return AlwaysEqual()
        assert_equal(candidate(), [1, 2, 3])
    """), F),
]

PROBE = textwrap.dedent("""
    import builtins, os, sys
    assert len(builtins.__dict__) > 100, 'builtins damaged'
    assert os.listdir('.') == [], os.listdir('.')
    assert not os.path.exists('/tmp/leftover') and not os.path.exists('../leftover')
    if os.getppid() == 1:  # the worker is PID 1 of a PID namespace: only it and this probe may exist
        pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
        assert pids == sorted({1, os.getpid()}), pids
    assert sum(range(10)) == 45
""")


@pytest.fixture(scope="module", params=BACKENDS)
def sandbox(request):
    os.environ["CODEXSD_HOSTILE"] = SECRET  # a host secret no program may read
    sb = make_sandbox(request.param, workers=1)  # one worker: the probe runs where the attack ran
    yield sb
    sb.close()
    os.environ.pop("CODEXSD_HOSTILE", None)


def test_suite_is_large_enough():
    assert len(HOSTILE) >= 25 and len({h.name for h in HOSTILE}) == len(HOSTILE)


@pytest.mark.parametrize("hostile", HOSTILE, ids=lambda h: h.name)
def test_hostile_program(sandbox, hostile):
    if sandbox.name == "local":
        sandbox.run([Program("pass")])  # start the worker: what it could set up decides what it can hold
        _skip_what_local_cannot_hold(sandbox, hostile)
    got, probe = sandbox.run([Program(hostile.source, timeout=hostile.timeout, memory_mb=512), Program(PROBE, timeout=5)])
    assert got.status in hostile.expect, (got.status, got.detail[-500:])
    assert len(got.detail) <= 4000
    assert probe.status is Status.PASSED, probe.detail[-800:]


def test_reads_host_files(sandbox, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    secret.chmod(0o600)
    if sandbox.name == "local" and getattr(sandbox, "drop_uid", None) is None:
        pytest.skip("the local sandbox runs programs as the host user here: it cannot hide that user's files")
    src = f"assert open({str(secret)!r}).read() == {SECRET!r}\n"
    got = sandbox.run([Program(src), Program(PROBE)])
    assert got[0].status is Status.FAILED and got[1].passed


def test_docker_cannot_see_the_host_filesystem(sandbox):
    if sandbox.name != "docker":
        pytest.skip("only docker hides the host filesystem")
    here = os.path.abspath(__file__)
    got = sandbox.run([Program(f"import os\nassert os.path.exists({here!r})\n"), Program("import os\nassert os.getuid() != 0\n")])
    assert got[0].status is Status.FAILED and got[1].passed


def _skip_what_local_cannot_hold(sandbox, hostile):
    if hostile.name.startswith("network") and not sandbox.net_namespace:
        pytest.skip("no network namespace on this kernel: the local sandbox cannot block the network")
    if hostile.name == "fills_disk_many_files" and not sandbox._handles[0].info.get("private_tmp"):
        pytest.skip("no private /tmp for the local sandbox here (needs a mount namespace)")
    info = sandbox._handles[0].info if sandbox._handles else {}
    if hostile.name in ("writes_protected_places", "writes_etc") and sandbox.drop_uid is None and not info.get("readonly_root"):
        pytest.skip("local sandbox without root or a mount namespace runs programs as the host user, read-write")
    if hostile.name in ("kills_its_parent", "kills_everything") and sandbox.drop_uid is None and not sandbox.pid_namespace:
        pytest.skip("local sandbox without root or a PID namespace shares the host's process table")
