#!/usr/bin/env bash
# The pre-training proxy experiment: raw vs rules-refined vs lite-refined versions of the same web pages.
# Run from the repository root with ../shared beside it and prox[train] installed; about 25 minutes on 2 CPU
# cores shared with other work.
#   A: pages the lite refiner is trained on;  B: pages refined (the corpora);  C: held-out pages (gold main content).
set -euo pipefail
HERE=experiments/pretrain_proxy
WORK=${WORK:-$HERE/work}
LABELS=../shared/data/line_labels

python $HERE/make_splits.py $LABELS/wcxb_dev.jsonl.gz $LABELS/readability_testpages.jsonl.gz -o "$WORK"
# The lite refiner, trained on A only (and the DCLM document labels, which hold none of the pages).
# (Same inputs and seed give byte-identical model files, so a second run of this script resumes the refine runs.)
[ -f "$WORK/lite_A/model.json" ] ||
  prox lite train "$WORK/A_pages.jsonl.gz" ../shared/data/dclm_quality/dev.jsonl.gz -o "$WORK/lite_A" --folds 2
prox refine "$WORK/B_raw.jsonl.gz" -o "$WORK/B_lite" --lite-model "$WORK/lite_A"
prox refine "$WORK/B_raw.jsonl.gz" -o "$WORK/B_rules" --refiner rules

# 131,072 training tokens per run: 75% of what the smallest corpus (rules) holds, so no corpus is repeated; the
# budget is what fits well within an hour here (about 25 minutes measured). One torch thread:
# on a 2-core machine shared with other jobs, two OpenMP threads per step stall each other.
prox eval pretrain \
  --corpus raw="$WORK/B_raw.jsonl.gz" --corpus rules="$WORK/B_rules" --corpus lite="$WORK/B_lite" \
  --heldout "$WORK/C_heldout.jsonl.gz" -o "$HERE" \
  --model tiny --tokens 131072 --block 128 --batch-size 8 --learning-rate 3e-3 --seeds 3 \
  --evals 6 --heldout-tokens 8192 --tasks all --eval-limit 40 --threads 1
