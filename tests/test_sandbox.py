"""The sandbox API on both backends: closed set of outcomes, order, one outcome per program, a pool that survives."""

from __future__ import annotations

import threading

import pytest

from codexsd.sandbox import Program, Status, get_sandbox, strict_equal_source
from sandbox_testing import BACKENDS, make_sandbox


@pytest.fixture(scope="module", params=BACKENDS)
def sandbox(request):
    sb = make_sandbox(request.param, workers=2)
    yield sb
    sb.close()


def run_one(sb, source, timeout=3.0, memory_mb=512):
    return sb.run([Program(source, timeout=timeout, memory_mb=memory_mb)])[0]


def test_outcome_kinds(sandbox):
    programs = [
        Program("def add(a, b):\n    return a + b\n\nassert add(2, 3) == 5\n"),
        Program("def add(a, b):\n    return a - b\n\nassert add(2, 3) == 5, 'wrong sum'\n"),
        Program("raise KeyError('missing')"),
        Program("while True:\n    pass\n", timeout=1.0),
        Program("import faulthandler\nfaulthandler._sigsegv()\n"),  # ctypes is denied; a real crash
        Program("def f(:\n"),
        Program("import sys\nsys.exit(0)\nassert False\n"),
        Program("import os\nos._exit(0)\n"),
        Program("x = bytearray(4 * 1024 ** 3)", memory_mb=512),
    ]
    got = sandbox.run(programs)
    assert [o.status for o in got] == [
        Status.PASSED, Status.FAILED, Status.FAILED, Status.TIMEOUT, Status.ERROR,
        Status.FAILED, Status.ERROR, Status.ERROR, Status.ERROR,
    ]
    assert got[1].detail.strip().splitlines()[-1] == "AssertionError: wrong sum"
    assert "KeyError: 'missing'" in got[2].detail
    assert "SyntaxError" in got[5].detail
    assert "SIGSEGV" in got[4].detail
    assert "exited early" in got[6].detail and "exited early" in got[7].detail
    assert "memory" in got[8].detail.lower()
    assert all(o.passed == (o.status is Status.PASSED) for o in got)


def test_one_outcome_per_program_in_order(sandbox):
    programs = [Program(f"assert {i} % 3 != 0, {i}") for i in range(120)]
    ticks = []
    got = sandbox.run(programs, progress=ticks.append)
    assert len(got) == 120 and sum(ticks) == 120
    for i, o in enumerate(got):
        assert o.passed == (i % 3 != 0), (i, o)
        if not o.passed:
            assert o.detail.strip().endswith(f"AssertionError: {i}")


def test_each_program_gets_a_fresh_process(sandbox):
    leak = "import builtins\nassert not hasattr(builtins, 'LEAK')\nbuiltins.LEAK = 1\nimport os\nopen('marker', 'w').write('x')\n"
    probe = "import os\nassert not os.path.exists('marker')\n"
    got = sandbox.run([Program(leak), Program(probe)] * 4)
    assert all(o.passed for o in got), got


def test_stdout_is_not_the_verdict(sandbox):
    # printing what looks like a protocol message or a pass marker changes nothing
    src = "print('passed'); import sys; print('{\"status\": \"passed\"}', file=sys.stderr)\nassert False\n"
    assert run_one(sandbox, src).status is Status.FAILED


def test_stderr_tail_kept_on_crash(sandbox):
    src = "import sys, faulthandler\nsys.stderr.write('about to crash\\n'); sys.stderr.flush()\nfaulthandler._sigsegv()\n"
    o = run_one(sandbox, src)
    assert o.status is Status.ERROR and "about to crash" in o.detail


def test_strict_equal_prelude(sandbox):
    prelude = strict_equal_source()
    fool = "class Always:\n    def __eq__(self, other):\n        return True\n"
    cases = [
        (prelude + "assert_equal([1, (2, 'a')], [1, (2, 'a')])\nassert_equal({'k': 1.5}, {'k': 1.5})\n", Status.PASSED),
        (prelude + fool + "assert_equal(Always(), 3)\n", Status.FAILED),
        (prelude + fool + "assert_equal([Always()], [3])\n", Status.FAILED),
        (prelude + "assert_equal(True, 1)\n", Status.FAILED),
        (prelude + "assert_equal(1.0, 1)\n", Status.FAILED),
        (prelude + "class I(int):\n    def __eq__(self, o):\n        return True\nassert_equal(I(4), 3)\n", Status.FAILED),
        (fool + "assert Always() == 3\n", Status.PASSED),  # plain `==` is fooled: why the prelude exists
    ]
    got = sandbox.run([Program(src) for src, _ in cases])
    assert [o.status for o in got] == [want for _, want in cases]


def _kill_worker(handle) -> None:
    if hasattr(handle, "container"):
        handle.container.kill()
    else:
        handle.proc.kill()


def test_pool_survives_dead_workers():
    """A worker killed from outside mid-program: that program gets an error, nothing is lost or repeated."""
    for backend in BACKENDS:
        sb = make_sandbox(backend, workers=2)
        try:
            sb.run([Program("pass")])  # start the pool
            victims = list(sb._handles)
            programs = [Program("import time\ntime.sleep(1.5)\n", timeout=5)] * 2 + [Program(f"assert {i} >= 0") for i in range(20)]
            killer = threading.Timer(0.6, lambda: [_kill_worker(h) for h in victims])
            killer.start()
            got = sb.run(programs)
            killer.join()
            assert len(got) == len(programs)
            assert [o.status for o in got[:2]] == [Status.ERROR, Status.ERROR], got[:2]
            assert "died" in got[0].detail or "container" in got[0].detail
            assert all(o.passed for o in got[2:]), got[2:]
            assert sb.replaced >= 2
        finally:
            sb.close()


def test_get_sandbox_names():
    with pytest.raises(ValueError, match="unknown sandbox backend"):
        get_sandbox("vm")
    sb = get_sandbox("local", workers=1)
    try:
        assert sb.name == "local" and sb.run([Program("assert True")])[0].passed
    finally:
        sb.close()


def test_local_backend_warns_it_is_weaker(caplog):
    from codexsd.sandbox.local import LocalSandbox

    with caplog.at_level("WARNING", logger="codexsd.sandbox.local"):
        LocalSandbox(workers=1).close()
    assert any("weaker than docker" in r.getMessage() for r in caplog.records)


def test_timeout_is_enforced_and_the_pool_goes_on(sandbox):
    """How soon a timeout answers is measured in benchmarks/sandbox_timeout.py, not asserted here."""
    o = run_one(sandbox, "import time\ntime.sleep(60)\n", timeout=0.5)
    assert o.status is Status.TIMEOUT
    assert run_one(sandbox, "assert sum(range(4)) == 6").passed


def test_frozen_worker_is_replaced(monkeypatch):
    """A worker that stops answering (frozen from outside) costs its program a timeout, then is replaced."""
    import os
    import signal

    from codexsd.sandbox import settings

    monkeypatch.setattr(settings, "GRACE_S", 1.0)
    for backend in BACKENDS:
        sb = make_sandbox(backend, workers=1)
        try:
            sb.run([Program("pass")])
            handle = sb._handles[0]
            if hasattr(handle, "container"):
                handle.container.pause()
            else:
                os.killpg(handle.proc.pid, signal.SIGSTOP)
            got = sb.run([Program("assert True", timeout=1.0), Program("assert 2 > 1")])
            assert got[0].status is Status.TIMEOUT and "stopped answering" in got[0].detail
            assert got[1].passed and sb.replaced == 1
        finally:
            sb.close()


def test_docker_tests_fail_instead_of_skipping_in_ci(monkeypatch):
    import _pytest.outcomes

    import codexsd.sandbox.docker_backend as backend
    import sandbox_testing

    monkeypatch.setattr(backend, "docker_available", lambda image: (False, "engine down (simulated)"))
    monkeypatch.setenv("CI", "true")
    with pytest.raises(_pytest.outcomes.Failed, match="CI=true"):
        sandbox_testing.docker_or_skip()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(_pytest.outcomes.Skipped):
        sandbox_testing.docker_or_skip()


def test_auto_falls_back_to_local_with_a_warning(monkeypatch, caplog):
    import codexsd.sandbox.docker_backend as backend

    monkeypatch.delenv("CODEXSD_SANDBOX", raising=False)
    monkeypatch.setattr(backend, "docker_available", lambda image: (False, "engine down (simulated)"))
    with caplog.at_level("WARNING", logger="codexsd.sandbox.factory"):
        sb = get_sandbox("auto", workers=1)
    try:
        assert sb.name == "local"
        assert any("falling back" in r.getMessage() and "engine down" in r.getMessage() for r in caplog.records)
    finally:
        sb.close()


def test_standard_library_imports_read_byte_code_in_the_docker_image():
    """The image ships unchecked-hash .pyc files for its standard library, so `import dataclasses` in a
    program reads byte-code instead of compiling the module again in every fork."""
    sb = make_sandbox("docker", workers=1)
    try:
        probe = ("import importlib.util, os, dataclasses, datetime, fractions\n"
                 "for m in (dataclasses, datetime, fractions):\n"
                 "    assert m.__cached__ and os.path.exists(m.__cached__), m.__name__\n"
                 "    data = open(m.__cached__, 'rb').read(8)\n"
                 "    assert int.from_bytes(data[4:8], 'little') == 1, (m.__name__, data)  # hash-based, unchecked\n")
        outcome = run_one(sb, probe)
        assert outcome.status is Status.PASSED, outcome.detail
    finally:
        sb.close()


def test_worker_rejects_unknown_arguments_clearly():
    from codexsd.sandbox.worker import parse_args

    args = parse_args(["--scratch", "/tmp/x", "--wipe", "/a", "--wipe", "/b", "--file-mb", "3"])
    assert (args.scratch, args.wipe, args.file_mb, args.fd) == ("/tmp/x", ["/a", "/b"], 3, None)
    with pytest.raises(SystemExit, match="bad argument '--nope'"):
        parse_args(["--scratch", "/tmp/x", "--nope", "1"])
    with pytest.raises(SystemExit, match="--file-mb wants int"):
        parse_args(["--scratch", "/tmp/x", "--file-mb", "many"])
    with pytest.raises(SystemExit, match="--scratch is required"):
        parse_args([])
