"""How soon a program that runs past its timeout comes back as `timeout`, per sandbox backend.

    python benchmarks/sandbox_timeout.py [--timeout 0.5] [--repeat 5] [--backends docker,local]

A program sleeps for 60 s under a short timeout; the time from `run()` to its outcome is printed
with its ratio to the timeout (1.0 would be no overhead at all). The pool is started before the
clock runs, so container or namespace start-up is not counted. Measured on the 2-core VM under
heavy load (3 runs): docker 0.53 s for 0.50 s (x1.06), local 0.54 s (x1.09). (tests/test_sandbox.py checks only
that the outcome is `timeout` and that the pool goes on: a wall-clock bound belongs here.)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codexsd.sandbox import Program, Status, get_sandbox  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--timeout", type=float, default=0.5)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--backends", default="docker,local")
    args = ap.parse_args()
    sleeper = Program("import time\ntime.sleep(60)\n", timeout=args.timeout)
    for backend in args.backends.split(","):
        try:
            sandbox = get_sandbox(backend, workers=1)
            sandbox.run([Program("pass")])  # start the pool outside the clock
        except Exception as exc:  # noqa: BLE001 - a missing engine is a line, not a traceback
            print(f"{backend:>7}: unavailable ({exc})", file=sys.stderr)
            continue
        waits = []
        try:
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                outcome = sandbox.run([sleeper])[0]
                waits.append(time.perf_counter() - t0)
                if outcome.status is not Status.TIMEOUT:
                    print(f"{backend:>7}: expected timeout, got {outcome.status.value}", file=sys.stderr)
                    return 1
        finally:
            sandbox.close()
        med = statistics.median(waits)
        print(f"{backend:>7}: timeout {args.timeout:.2f} s answered after median {med:.2f} s "
              f"(min {min(waits):.2f}, max {max(waits):.2f}, x{med / args.timeout:.2f} the timeout, {args.repeat} runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
