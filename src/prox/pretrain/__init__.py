"""Evidence that refined data trains better models, at small scale: a pre-training proxy and the cost of refining.

- `corpus`: reading a corpus (raw records or a `prox refine` output), tokenizing and packing it.
- `training`: one run: a small LM from scratch (prox.models) trained with the transformers Trainer, held-out loss
  along the way.
- `downstream`: zero-shot accuracy through lm-evaluation-harness on local task files (`task_configs/`).
- `report`: summaries over seeds, differences against the seed spread, the table and the loss plot.
- `proxy`: all of it for several corpora and seeds (`prox eval pretrain`).
- `cost`: refining FLOPs against training FLOPs (`prox cost`).
"""

from prox.pretrain.corpus import Corpus, parse_corpus
from prox.pretrain.downstream import DEFAULT_EVAL_DATA, TASKS, evaluate_downstream, load_tasks, parse_tasks
from prox.pretrain.proxy import run_proxy
from prox.pretrain.training import TrainSettings

__all__ = [
    "DEFAULT_EVAL_DATA",
    "TASKS",
    "Corpus",
    "TrainSettings",
    "evaluate_downstream",
    "load_tasks",
    "parse_corpus",
    "parse_tasks",
    "run_proxy",
]
