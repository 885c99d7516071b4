"""Causal LMs built from scratch: a shape spec (`llama:layers=2,hidden=64,...` or a preset name) made into a
random-initialised Hugging Face model directory, for trying training and evaluation without downloading a base."""

from prox.models.scratch import PRESETS, ModelShape, build_model, parse_shape, save_scratch_model

__all__ = ["PRESETS", "ModelShape", "build_model", "parse_shape", "save_scratch_model"]
