#!/usr/bin/env bash
# Which learning rate teaches the bundled SmolLM2-135M something in a short first run?
# MBPP's train split (ids 601-974) through collect -> dedup -> format, then `codexsd train s` for
# STEPS steps at each LR, and every model (base included, all fp32 in transformers) sampled on the
# 27 validation problems: pass@1 at T=0.2 and the share of empty completions.
# Usage: DATA=/path/to/mbpp.jsonl OUT=/tmp/lr bash benchmarks/first_run_lr.sh   (about 1 h on 2 shared cores)
set -euo pipefail
DATA=${DATA:-../shared/data/mbpp/mbpp.jsonl}
OUT=${OUT:-/tmp/codexsd-lr}
STEPS=${STEPS:-30}
LRS=${LRS:-"1e-5 1e-4 3e-4"}
N=${N:-2}
mkdir -p "$OUT"
if [ ! -d "$OUT/data/standard" ]; then
  python3 -c "import json,sys; [print(l, end='') for l in open(sys.argv[1]) if 601 <= json.loads(l)['task_id'] <= 974]" "$DATA" > "$OUT/mbpp_train.jsonl"
  codexsd collect competitive "$OUT/mbpp_train.jsonl" -o "$OUT/data/raw" --sandbox local --no-progress
  codexsd dedup "$OUT/data/raw" -o "$OUT/data/clean" --mbpp "$DATA" --no-progress
  codexsd format "$OUT/data/clean" -o "$OUT/data" --no-progress
fi
PROBLEMS="$OUT/data/standard/humaneval-validation.jsonl"
score() {  # name, model spec
  codexsd eval --model "$2" --name "$1" --problems "$PROBLEMS" -n "$N" --temperatures 0.2 -k 1 \
    --max-new-tokens 128 --sandbox local -o "$OUT/eval_$1" > "$OUT/eval_$1.json"
  python3 - "$OUT/eval_$1" "$1" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/results_t0.2.jsonl")]
s = json.load(open(sys.argv[1] + "/summary.json"))
empty = sum(not r["completion"].strip() for r in rows)
print(f"{sys.argv[2]}: pass@1 {100 * s['pass_at_k']['0.2']['1']:.1f}%, empty {empty}/{len(rows)}")
PY
}
for lr in $LRS; do
  /usr/bin/time -f "train lr=$lr: %e s" codexsd train s --data "$OUT/data/standard" -o "$OUT/s_$lr" \
    --max-steps "$STEPS" --lr "$lr" --max-length 512 > "$OUT/train_$lr.json"
done
score base "hf-gguf:default"
for lr in $LRS; do score "s_lr$lr" "hf:$OUT/s_$lr"; done
