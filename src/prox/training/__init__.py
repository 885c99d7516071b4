"""Training refining models: `prox train sft` fine-tunes a causal LM on `prox synth` records with TRL, and picks
its checkpoint by prox's own metrics on a held-out split (doc accuracy and keep-F1, removed-line F1)."""

from prox.training.data import SFTExample, read_sft_records, split_records, tokenize_record
from prox.training.validation import ValidationSet, score_programs

__all__ = ["SFTExample", "ValidationSet", "read_sft_records", "score_programs", "split_records", "tokenize_record"]
