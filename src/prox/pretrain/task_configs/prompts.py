"""The prompt functions lm-eval's WinoGrande and COPA tasks use (their YAMLs name them with `!function`); the same
prompts as lm-eval's own task folders, copied beside prox's local task definitions because lm-eval resolves a
`!function` relative to the YAML file."""

from __future__ import annotations


def winogrande_text(doc: dict) -> int:
    """The index of the correct option: lm-eval scores the sentence's rest after each filled-in option."""
    return {"1": 0, "2": 1}[doc["answer"]]


def winogrande_target(doc: dict) -> str:
    """The sentence after the blank."""
    return doc["sentence"][doc["sentence"].index("_") + 1 :].strip()


def winogrande_choices(doc: dict) -> list[str]:
    """The sentence up to the blank, with each option filled in."""
    start = doc["sentence"][: doc["sentence"].index("_")]
    return [start + doc["option1"], start + doc["option2"]]


def copa_text(doc: dict) -> str:
    """The premise without its full stop, joined to the answer by 'because' or 'therefore'."""
    connector = {"cause": "because", "effect": "therefore"}[doc["question"]]
    return doc["premise"].strip()[:-1] + f" {connector}"


def copa_target(doc: dict) -> str:
    return copa_choices(doc)[doc["label"]]


def copa_choices(doc: dict) -> list[str]:
    return [" " + _lower_first(doc["choice1"]), " " + _lower_first(doc["choice2"])]


def _lower_first(text: str) -> str:
    return text[0].lower() + text[1:]
