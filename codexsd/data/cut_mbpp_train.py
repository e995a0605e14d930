"""Rewrite mbpp_train.jsonl.gz from MBPP's full mbpp.jsonl (how the bundled file was cut).

    python -m codexsd.data.cut_mbpp_train PATH/mbpp.jsonl 

Takes MBPP's train split only (task_ids 601-974), converts each row to a problem as `codexsd
collect competitive` does (without running it: a sandbox verdict under load is not reproducible,
and the build validates anyway), runs `codexsd dedup` against HumanEval and MBPP's evaluation rows
1-600, and writes the original rows of the problems it keeps, verbatim, gzipped with a fixed header
(same input, same bytes). The evaluation rows are read only to decide what to drop; none is written.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import sys
import tempfile
from pathlib import Path

from codexsd.data import MBPP_TRAIN

TRAIN_IDS = (601, 974)


def main(argv: list[str] | None = None) -> int:
    from codexsd.core.stage import chunk, read_artifact, run_stage
    from curation.competitive import CompetitiveConfig
    from curation.competitive.convert import build_problem
    from curation.competitive.pysource import SourceError
    from curation.competitive.loaders import load_tasks
    from filters.dedup import DedupConfig, dedup_stage

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mbpp", type=Path, help="MBPP's full mbpp.jsonl (google-research/google-research mbpp/)")
    ap.add_argument("-o", "--out", type=Path, default=Path(__file__).resolve().parent / MBPP_TRAIN)
    args = ap.parse_args(argv)
    if not args.mbpp.is_file():
        print(f"cut_mbpp_train: no such file: {args.mbpp}", file=sys.stderr)
        return 2
    lines = [line for line in args.mbpp.read_text(encoding="utf-8").splitlines() if line.strip()]
    train = {json.loads(line)["task_id"]: line for line in lines if TRAIN_IDS[0] <= json.loads(line)["task_id"] <= TRAIN_IDS[1]}
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "mbpp_train_all.jsonl"
        source.write_text("".join(line + "\n" for line in train.values()), encoding="utf-8")
        problems, unconverted = [], {}
        for task in load_tasks(str(source), CompetitiveConfig()):
            try:
                if task.get("reject"):
                    raise SourceError(task["reject"], task.get("detail", ""))
                problems.append(build_problem(task, task["solutions"][0]))
            except SourceError as exc:
                unconverted[task["task_id"]] = exc.reason
        run_stage("collect", Path(tmp) / "raw", chunk(problems, 100), lambda items: iter(items), progress=False)
        cfg = DedupConfig(benchmarks=["humaneval", "mbpp"], mbpp=str(args.mbpp), mbpp_task_ids=[1, 600])
        clean = dedup_stage(Path(tmp) / "raw", Path(tmp) / "clean", cfg, progress=False)
        kept = sorted(int(p.task_id.rsplit("/", 1)[1]) for p in read_artifact(Path(tmp) / "clean"))
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as fh:
        fh.write("".join(train[i] + "\n" for i in kept).encode("utf-8"))
    args.out.write_bytes(buffer.getvalue())
    print(f"{len(train)} train rows; {len(problems)} converted (not: {unconverted}); "
          f"dedup kept {clean.kept} ({clean.reasons}); wrote {len(kept)} rows to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
