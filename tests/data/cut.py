"""Cut the small third-party slices in tests/data from the full files (see README.md here).

    python3 tests/data/cut.py [SOURCE_DIR]    # default: $CODEXSD_SHARED_DATA or ../shared/data

Rerunning it on the same source files rewrites the same bytes.
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

# MBPP (task_id): the tests' random sample (random.Random(0), 48 of 1..974) and two known rejects,
# the first ten train rows, and evaluation rows spread over the three evaluation splits so that
# decontamination has something to catch: few-shot 1..10, test 11..510, validation 511..600.
MBPP_SAMPLE = set(random.Random(0).sample(range(1, 975), 48))
MBPP_IDS = sorted(MBPP_SAMPLE | {56, 414} | set(range(601, 611)) | {1, 2} | set(range(11, 511, 25)) | {511, 555, 600})
SANITIZED_ROWS = 10  # the first rows of sanitized-mbpp.json
# APPS (problem_id): stdin/stdout and call-based rows the collector tests name, plus a few short ones
APPS_IDS = [0, 3, 24, 32, 2002, 2020, 2030, 2363, 2375, 2401, 2404, 2405, 2407, 2409, 2412]


def main(source: Path) -> None:
    if not (source / "mbpp" / "mbpp.jsonl").exists():
        raise SystemExit(f"source data not found at {source} (pass its folder or set CODEXSD_SHARED_DATA)")
    mbpp = [line for line in (source / "mbpp" / "mbpp.jsonl").read_text(encoding="utf-8").splitlines()
            if json.loads(line)["task_id"] in MBPP_IDS]
    assert len(mbpp) == len(MBPP_IDS)
    (HERE / "mbpp.jsonl").write_text("\n".join(mbpp) + "\n", encoding="utf-8")

    sanitized = json.loads((source / "mbpp" / "sanitized-mbpp.json").read_text(encoding="utf-8"))
    (HERE / "sanitized-mbpp.json").write_text(json.dumps(sanitized[:SANITIZED_ROWS]), encoding="utf-8")

    apps = [line for line in (source / "apps" / "apps_train_sample150.jsonl").read_text(encoding="utf-8").splitlines()
            if json.loads(line)["problem_id"] in APPS_IDS]
    assert len(apps) == len(APPS_IDS)
    (HERE / "apps_train.jsonl").write_text("\n".join(apps) + "\n", encoding="utf-8")
    print(f"mbpp.jsonl: {len(mbpp)} rows, sanitized-mbpp.json: {SANITIZED_ROWS}, apps_train.jsonl: {len(apps)}")


if __name__ == "__main__":
    default = Path(os.environ.get("CODEXSD_SHARED_DATA", REPO.parent / "shared" / "data"))
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
