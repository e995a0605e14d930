"""Where shard functions run: this process, a local process pool, or a Ray cluster.

    with get_executor("ray") as ex:                 # RAY_ADDRESS, or a local Ray instance
        for i, result in ex.run(fn, [shard0, shard1, ...]):
            ...                                     # as each finishes; the caller orders them

One call `fn(args[i])` is one task; `run(fn, args, cpus=4)` says each task keeps 4 CPUs busy (a
task that runs its own worker processes), which Ray reserves for it. A task whose worker process died (killed, out of
memory, node lost) is run again, up to `max_retries` times; an exception raised by `fn`
itself is not retried: it propagates to the caller with its own type. Nothing else
crosses the boundary: `fn` and its arguments are pickled there, results pickled back.

Pool workers start from a fork server ("forkserver"; $CODEXSD_MP_START), never by forking the
driver: a driver that already ran torch (or started threads) would hand its children locks held
by threads that do not exist there, and a torch op in the child hangs. So `fn` must be
importable by name in a fresh process (a module-level function or class, not a closure). Each
worker takes the driver's `sys.path`, environment and working folder at pool start, as a forked
one would have.

Workers keep expensive things (a sandbox pool, a loaded sampler) across tasks through
`process_resource`, built on first use and closed when the worker process exits.
"""

from __future__ import annotations

import abc
import atexit
import logging
import os
import sys
from typing import Any, Callable, Iterator, Sequence

from codexsd.core.config import ConfigError

log = logging.getLogger(__name__)

EXECUTORS = ("local", "ray")
DEFAULT_MAX_RETRIES = 3
START_METHODS = ("forkserver", "spawn", "fork")
MP_START_METHOD = os.environ.get("CODEXSD_MP_START", "forkserver")  # fork hangs after torch ran in the driver


class WorkerDied(RuntimeError):
    """A task's worker died more often than the retry budget allows."""


class Executor(abc.ABC):
    """Runs `fn(arg)` for each arg; yields `(index, result)` as tasks finish."""

    name = "base"

    @abc.abstractmethod
    def run(self, fn: Callable[[Any], Any], args: Sequence[Any], cpus: float | None = None) -> Iterator[tuple[int, Any]]:
        """`cpus`: what one task keeps busy (default: the executor's own per-task figure)."""

    def close(self) -> None:
        pass

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LocalExecutor(Executor):
    """`workers` <= 1 (or a single task): in this process, in order. Otherwise a process pool.

    A pool whose worker died (`BrokenProcessPool`) is replaced and the unfinished tasks are
    submitted again, up to `max_retries` times. Its workers start by `start_method` (default
    `MP_START_METHOD`; `spawn` where the platform has no fork server). A task's `cpus` reserve
    nothing here: `workers` alone bounds how many tasks run at once.
    """

    name = "local"

    def __init__(self, workers: int = 1, max_retries: int = DEFAULT_MAX_RETRIES, start_method: str | None = None):
        self.workers = max(1, int(workers or 1))
        self.max_retries = max_retries
        self.start_method = start_method or MP_START_METHOD
        if self.start_method not in START_METHODS:
            raise ConfigError(f"process start method {self.start_method!r} (CODEXSD_MP_START) is not one of "
                              f"{', '.join(START_METHODS)}")

    def run(self, fn, args, cpus=None):
        if self.workers <= 1 or len(args) <= 1:
            for i, arg in enumerate(args):
                yield i, fn(arg)
            return
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from concurrent.futures.process import BrokenProcessPool

        todo = list(range(len(args)))
        for attempt in range(self.max_retries + 1):
            finished: set[int] = set()
            try:
                with ProcessPoolExecutor(max_workers=min(self.workers, len(todo)), mp_context=self._context(),
                                         initializer=_adopt_driver_state,
                                         initargs=(list(sys.path), dict(os.environ), os.getcwd())) as pool:
                    futures = {pool.submit(fn, args[i]): i for i in todo}
                    try:
                        for fut in as_completed(futures):
                            i = futures[fut]
                            result = fut.result()
                            finished.add(i)
                            yield i, result
                    except BaseException:
                        pool.shutdown(wait=True, cancel_futures=True)  # the running ones finish, no new ones
                        raise
                return
            except BrokenProcessPool as exc:
                todo = [i for i in todo if i not in finished]
                if attempt == self.max_retries:
                    raise WorkerDied(f"a worker process died {attempt + 1} times; {len(todo)} tasks unfinished") from exc
                log.warning("a worker process died; running %d unfinished tasks again", len(todo))

    def _context(self):
        import multiprocessing

        method = self.start_method
        if method not in multiprocessing.get_all_start_methods():
            method = "spawn"
        return multiprocessing.get_context(method)


def _adopt_driver_state(path: list[str], environ: dict[str, str], cwd: str) -> None:
    """A pool worker's first act: the driver's import path, environment and folder, as a fork would give."""
    sys.path[:] = path
    os.environ.clear()
    os.environ.update(environ)
    try:
        os.chdir(cwd)
    except OSError:  # the driver's folder is gone: paths the driver passed are absolute or fail on their own
        pass


class RayExecutor(Executor):
    """Tasks on a Ray cluster: `address` or $RAY_ADDRESS, else a Ray instance on this machine.

    Each task asks for `num_cpus` CPUs, or the `cpus` given to `run`, lowered to the largest
    live node's CPUs (a task no node can hold would wait forever). Ray reruns a task whose worker died (`max_retries`);
    it does not rerun one that raised (`retry_exceptions=False`), and that exception is
    raised here as its own type.
    """

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: float = 1, max_retries: int = DEFAULT_MAX_RETRIES,
                 init_kwargs: dict | None = None):
        ray = require_ray()
        self.num_cpus = num_cpus
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            _check_reachable(self.address)
            try:
                ray.init(address=self.address, logging_level=logging.WARNING, log_to_driver=False,
                         **(init_kwargs or {}))
            except (ConnectionError, RuntimeError, TimeoutError, SystemExit) as exc:  # Ray exits on a dead GCS
                raise ClusterUnavailable(_unreachable(self.address, f"{type(exc).__name__}: {exc}")) from None
        self._remote = ray.remote(num_cpus=num_cpus, max_retries=max_retries, retry_exceptions=False)(_call)

    def run(self, fn, args, cpus=None):
        import ray
        from ray.exceptions import RayTaskError

        remote = self._remote
        if cpus is not None and cpus != self.num_cpus:
            remote = remote.options(num_cpus=self._fitting(cpus))
        fn_ref = ray.put(fn)  # shipped once, not once per task
        refs = {remote.remote(fn_ref, arg): i for i, arg in enumerate(args)}
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                if pending:  # everything else already finished, in one call
                    more, pending = ray.wait(pending, num_returns=len(pending), timeout=0)
                    done += more
                for ref in done:
                    try:
                        result = ray.get(ref)
                    except RayTaskError as exc:  # the shard function raised: its own exception, no retry
                        cause = exc.cause if isinstance(getattr(exc, "cause", None), BaseException) else None
                        raise (cause or exc.as_instanceof_cause()) from exc  # the remote traceback stays attached
                    except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                            ray.exceptions.OutOfMemoryError) as exc:
                        raise WorkerDied(f"task {refs[ref]}: its worker died more than the retry budget allows: "
                                         f"{type(exc).__name__}") from exc
                    yield refs[ref], result
        finally:
            for ref in pending:  # a failure or an abandoned generator: stop what still runs
                ray.cancel(ref, force=True)

    @staticmethod
    def _fitting(cpus: float) -> float:
        """`cpus`, or the largest live node's CPU count where that is less."""
        import ray

        largest = max((n.get("Resources", {}).get("CPU", 0) for n in ray.nodes() if n.get("Alive")), default=0)
        if largest and cpus > largest:
            log.warning("a task asks for %g CPUs but the largest node has %g; asking for %g", cpus, largest, largest)
            return largest
        return cpus

    def close(self) -> None:
        import ray

        if self._owns_ray and ray.is_initialized():
            ray.shutdown()


def _call(fn, arg):
    return fn(arg)


class ClusterUnavailable(ConfigError):
    """The Ray cluster that RAY_ADDRESS (or `address`) names does not answer."""


RAY_CONNECT_TIMEOUT_S = float(os.environ.get("CODEXSD_RAY_CONNECT_TIMEOUT", "5"))


def _unreachable(address: str | None, why: str) -> str:
    return (f"cannot reach the Ray cluster at {address or 'a local instance'} ({why}); start one with "
            f"`ray start --head` and set RAY_ADDRESS to the address it prints, or unset RAY_ADDRESS to run Ray on "
            f"this machine, or use --executor local")


def _check_reachable(address: str | None) -> None:
    """Fail in seconds on a `host:port` that nothing listens on (`ray.init` waits minutes, then exits)."""
    if not address or address in ("auto", "local") or ("://" in address and not address.startswith("ray://")):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ClusterUnavailable(_unreachable(address, "not a host:port address"))
    import socket

    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=RAY_CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ClusterUnavailable(_unreachable(address, exc.strerror or type(exc).__name__)) from None


def require_ray():
    """Ray, or MissingDependency naming the install command (the CLI prints it on one line)."""
    from codexsd.core.imports import require

    return require("ray")


def task_cpus(executor: Executor | None) -> int | None:
    """The CPUs one task of `executor` holds where it reserves them (Ray): the processes a worker's
    sandbox should run at once. None where nothing is reserved (this process, a local pool)."""
    cpus = getattr(executor, "num_cpus", None)
    return max(1, int(cpus)) if cpus else None


def runs_here(executor: Executor | None) -> bool:
    """Whether `executor`'s tasks run in this process (none, or a local pool of one worker), so
    they may use an open sandbox or sampler."""
    return executor is None or (isinstance(executor, LocalExecutor) and executor.workers <= 1)


def get_executor(name: str | None = "local", workers: int = 1, **kwargs) -> Executor:
    """`local` (a pool of `workers` processes; 1 = this process) or `ray` (RAY_ADDRESS or a local instance)."""
    name = name or "local"
    if name == "local":
        return LocalExecutor(workers, **kwargs)
    if name == "ray":
        return RayExecutor(**kwargs)
    raise ValueError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")


# -- per-process resources ----------------------------------------------------------------

_RESOURCES: dict[tuple, Any] = {}


def process_resource(key: tuple, factory: Callable[[], Any]) -> Any:
    """One `factory()` result per process and key (a sandbox, a sampler), closed at process exit.

    Closed by `atexit` (this process, Ray workers) and by multiprocessing's exit hooks (pool
    workers, which leave without running `atexit`). A worker killed outright cannot close
    anything: the sandboxes' own workers exit when their socket to it closes.
    """
    if key not in _RESOURCES:
        if not _RESOURCES:
            _register_exit_hooks()
        _RESOURCES[key] = factory()
    return _RESOURCES[key]


def close_process_resources() -> None:
    while _RESOURCES:
        _, obj = _RESOURCES.popitem()
        try:
            obj.close()
        except Exception as exc:  # noqa: BLE001 - at exit, one failing close must not skip the others
            log.debug("closing %r: %s", obj, exc)


_HOOKS_REGISTERED = False


_INHERITED: list[Any] = []  # a forked child's copies of its parent's resources: kept, never used or closed


def _forget_inherited() -> None:
    """A forked child must not use (or close) its parent's sandboxes: it builds its own.

    The copies stay referenced: dropping them would run their `__del__` in the child (also in
    the short-lived child of a `subprocess` with `preexec_fn`), which closes the parent's
    sandbox workers.
    """
    global _HOOKS_REGISTERED
    _INHERITED.extend(_RESOURCES.values())
    _RESOURCES.clear()
    _HOOKS_REGISTERED = False


os.register_at_fork(after_in_child=_forget_inherited)


def _register_exit_hooks() -> None:
    global _HOOKS_REGISTERED
    if _HOOKS_REGISTERED:
        return
    _HOOKS_REGISTERED = True
    atexit.register(close_process_resources)
    try:
        from multiprocessing import util

        util.Finalize(None, close_process_resources, exitpriority=10)
    except Exception:  # noqa: BLE001
        pass


# -- the command-line flag (codexsd build, collect, validate, filter, dedup, eval) ----------------
EXECUTOR_HELP = ("where shards run: local (this machine) or ray (the Ray cluster $RAY_ADDRESS names, else a Ray on this "
                 "machine; see README 'Running on a cluster')")


def add_executor_argument(parser) -> None:
    """`--executor local|ray` on an argparse parser: the one flag every command that runs shards takes."""
    parser.add_argument("--executor", metavar="|".join(EXECUTORS), help=EXECUTOR_HELP + " (default: local)")


def open_executor(args, workers: int | None = 1) -> Executor:
    """The executor `args.executor` names; `workers`: the local pool's processes (1: this process)."""
    return get_executor(getattr(args, "executor", None) or "local", workers=workers or 1)
