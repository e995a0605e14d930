"""Train tiny random models as Codex-S and Codex-D: checkpoints, resume after an interruption,
early stopping, and model folders that transformers and the sampling layer load."""

from __future__ import annotations

import dataclasses
import json

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import train_d  # noqa: E402
import train_s  # noqa: E402
from codexsd.evaluation.prompts import docstring_last_pair, split_prompt  # noqa: E402
from codexsd.core.record import read_problems  # noqa: E402
from tiny_models import build_tiny_causal_lm  # noqa: E402


def _write_split(folder, name, rows):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture(scope="module")
def data(humaneval_file, tmp_path_factory):
    """standard/ and docstring_last/ folders in the format helper's row shape, built from HumanEval."""
    root = tmp_path_factory.mktemp("data")
    problems = read_problems(humaneval_file)[:40]
    s_rows, d_rows = [], []
    for p in problems:
        s_rows.append({"task_id": p.task_id, "prompt": p.prompt, "target": p.canonical_solution, "source": "humaneval"})
        prompt, target = docstring_last_pair(split_prompt(p), p.canonical_solution)
        d_rows.append({"task_id": p.task_id, "prompt": prompt, "target": target, "source": "humaneval"})
    for name, rows in (("standard", s_rows), ("docstring_last", d_rows)):
        _write_split(root / name, "train", rows[:32])
        _write_split(root / name, "validation", rows[32:])
    return root


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_causal_lm(tmp_path_factory.mktemp("tiny") / "lm", chat_template=True)


def _config(cls, tiny, data_dir, out, **kw):
    base = dict(model=str(tiny), data=str(data_dir), output_dir=str(out), max_steps=4, batch_size=2,
                learning_rate=1e-3, max_length=384, eval_every_steps=2, logging_steps=1, early_stopping_patience=0,
                save_total_limit=5, max_train_examples=8, max_eval_examples=4)
    base.update(kw)
    return cls(**base)


class InterruptAt(transformers.TrainerCallback):
    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise KeyboardInterrupt


def _weights(folder):
    model = transformers.AutoModelForCausalLM.from_pretrained(folder)
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_s_interrupted_and_resumed_matches_an_uninterrupted_run(tiny, data, tmp_path):
    straight = train_s.train(_config(train_s.SConfig, tiny, data / "standard", tmp_path / "straight"))
    assert straight.global_step == 4 and straight.resumed_from is None
    stats = json.loads((tmp_path / "straight" / "codexsd_training.json").read_text())["data"]["train"]
    assert straight.train_examples == stats["kept"] > 0 and straight.eval_examples > 0
    assert stats["kept"] + stats["dropped_too_long"] + stats["dropped_empty_target"] == 8

    cfg = _config(train_s.SConfig, tiny, data / "standard", tmp_path / "resumed")
    with pytest.raises(KeyboardInterrupt):
        train_s.train(cfg, callbacks=[InterruptAt(3)])
    assert (tmp_path / "resumed" / "checkpoints" / "checkpoint-2").is_dir()
    assert not (tmp_path / "resumed" / "model.safetensors").exists()
    resumed = train_s.train(cfg)
    assert resumed.resumed_from.endswith("checkpoint-2")
    assert resumed.global_step == 4

    a, b = _weights(tmp_path / "straight"), _weights(tmp_path / "resumed")
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=1e-5, rtol=1e-4, msg=name)
    before = _weights(tiny)
    assert any(not torch.equal(before[n], a[n]) for n in a), "training changed no weight"


def test_a_finished_run_is_not_repeated_unless_overwritten(tiny, data, tmp_path):
    cfg = _config(train_s.SConfig, tiny, data / "standard", tmp_path / "run", max_steps=2)
    first = train_s.train(cfg)
    assert first.global_step == 2 and not first.already_done
    model_file = tmp_path / "run" / "model.safetensors"
    stamp = model_file.stat().st_mtime_ns
    # the final step is always a resumable checkpoint, apart from the weights-only final model
    assert first.checkpoint.endswith("checkpoint-2") and (tmp_path / "run" / "checkpoints" / "checkpoint-2").is_dir()
    assert not (tmp_path / "run" / "optimizer.pt").exists()

    again = train_s.train(cfg)
    assert again.already_done and again.global_step == 2 and again.eval_loss == first.eval_loss
    assert model_file.stat().st_mtime_ns == stamp  # nothing trained, nothing overwritten

    redo = train_s.train(dataclasses.replace(cfg, overwrite=True, max_steps=3))
    assert not redo.already_done and redo.resumed_from is None and redo.global_step == 3
    assert model_file.stat().st_mtime_ns != stamp and redo.checkpoint.endswith("checkpoint-3")


def test_old_checkpoints_are_pruned(tiny, data, tmp_path):
    cfg = _config(train_s.SConfig, tiny, data / "standard", tmp_path / "run", max_steps=6, eval_every_steps=1,
                  save_total_limit=2)
    train_s.train(cfg)
    kept = sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir())
    assert len(kept) <= 2 and "checkpoint-6" in kept


def test_a_short_run_checkpoints_by_steps_by_default(tiny, data, tmp_path):
    from codexsd.training.trainer import checkpoint_interval

    cfg = _config(train_s.SConfig, tiny, data / "standard", tmp_path / "run", eval_every_steps=0)
    assert checkpoint_interval(dataclasses.replace(cfg, max_steps=30, batch_size=8), 240) == (10, 30)
    assert checkpoint_interval(dataclasses.replace(cfg, max_steps=-1, epochs=3, batch_size=8), 240) == (30, 90)
    assert checkpoint_interval(dataclasses.replace(cfg, max_steps=-1, epochs=10, batch_size=8), 80) == (10, 100)


def test_early_stopping_when_eval_loss_plateaus(tiny, data, tmp_path):
    # learning rate 0: the eval loss cannot improve, so training stops after `patience` evaluations
    cfg = _config(train_s.SConfig, tiny, data / "standard", tmp_path / "flat", learning_rate=0.0, max_steps=10,
                  eval_every_steps=1, early_stopping_patience=1)
    result = train_s.train(cfg)
    assert result.stopped_early
    assert result.global_step < 10


def test_both_variants_produce_folders_the_sampler_loads(tiny, data, tmp_path):
    from codexsd.models import SamplingParams, load_sampler

    d_result = train_d.train(_config(train_d.DConfig, tiny, data / "docstring_last", tmp_path / "d", max_steps=2,
                                     padding="pack"))
    s_result = train_s.train(_config(train_s.SConfig, tiny, data / "standard", tmp_path / "s", max_steps=2))
    for result in (s_result, d_result):
        folder = result.output_dir
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
        assert not tokenizer.chat_template  # trained on raw text: samplers must not chat-wrap it
        summary = json.loads((tmp_path / folder / "codexsd_training.json").read_text())
        assert summary["result"]["global_step"] == 2
        with load_sampler(f"hf:{folder}") as sampler:
            out = sampler.sample(["def f(x):\n"], SamplingParams(n=2, temperature=0.8, max_new_tokens=8))
            assert len(out[0]) == 2 and all(c.n_tokens <= 8 for c in out[0])
            assert sampler.score(["def f(x):\n"], ["    return x\n"])[0] < 0
    assert json.loads((tmp_path / "d" / "codexsd_training.json").read_text())["config"]["padding"] == "pack"


def test_config_errors_are_clear(tiny, tmp_path):
    from codexsd.core.config import ConfigError

    with pytest.raises(ConfigError, match="padding"):
        train_s.train(_config(train_s.SConfig, tiny, tmp_path, tmp_path / "x", padding="right"))
    with pytest.raises(FileNotFoundError):
        train_s.train(_config(train_s.SConfig, tiny, tmp_path / "missing", tmp_path / "x"))
    assert dataclasses.asdict(train_d.DConfig())["data"].endswith("docstring_last")


def test_train_command_reads_yaml_then_flags(tiny, data, tmp_path, capsys):
    from codexsd.cli import main

    (tmp_path / "d.yaml").write_text("batch_size: 2\nmax_train_examples: 4\nmax_eval_examples: 2\nmax_steps: 9\n")
    out = tmp_path / "d"
    assert main(["train", "d", "--config", str(tmp_path / "d.yaml"), "--data", str(data / "docstring_last"),
                 "--model", str(tiny), "-o", str(out), "--max-steps", "1"]) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out)["global_step"] == 1
    config = json.loads((out / "codexsd_training.json").read_text())["config"]
    assert config["batch_size"] == 2 and config["max_steps"] == 1 and config["max_train_examples"] == 4
    assert (out / "model.safetensors").exists()
    err = printed.err
    assert "train: step 1/1" in err and "tok/s" in err  # the progress line
    assert "{'loss'" not in err and "it/s]" not in err  # no printed dicts, no tqdm bars
    assert main(["train", "d", "--config", str(tmp_path / "d.yaml"), "--data", str(data / "docstring_last"),
                 "--model", str(tiny), "-o", str(out), "--max-steps", "1"]) == 0
    assert "already holds a finished run" in capsys.readouterr().err
    (tmp_path / "bad.yaml").write_text("batch_sise: 2\n")
    assert main(["train", "s", "--config", str(tmp_path / "bad.yaml"), "--data", str(data / "standard")]) == 2


def test_sigint_saves_a_checkpoint_and_the_same_command_resumes(tiny, data, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    out = tmp_path / "s"
    (tmp_path / "s.yaml").write_text("logging_steps: 1\nbatch_size: 2\nmax_train_examples: 8\nmax_eval_examples: 2\n"
                                     "max_length: 384\nlearning_rate: 0.001\n")
    argv = [sys.executable, "-m", "codexsd.cli", "train", "s", "--config", str(tmp_path / "s.yaml"), "--data",
            str(data / "standard"), "--model", str(tiny), "-o", str(out), "--eval-every-steps", "100000"]
    from pathlib import Path

    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(argv + ["--max-steps", "100000"], stderr=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env)
    try:
        seen = []
        for line in proc.stderr:
            seen.append(line)
            if line.startswith("train: step "):
                break
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = "".join(seen) + stderr
    assert proc.returncode == 130, stderr[-2000:]
    result = json.loads(stdout)
    step = result["global_step"]
    assert result["interrupted"] and 0 < step < 100000
    assert "interrupted at step" in stderr and "Rerun the same command to resume" in stderr
    assert (out / "checkpoints" / f"checkpoint-{step}").is_dir()
    assert not (out / "model.safetensors").exists() and not (out / "codexsd_training.json").exists()

    done = subprocess.run(argv + ["--max-steps", str(step + 2)], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    resumed = json.loads(done.stdout)
    assert resumed["resumed_from"].endswith(f"checkpoint-{step}") and resumed["global_step"] == step + 2
    assert (out / "model.safetensors").exists()
    assert "missing keys" not in done.stderr
