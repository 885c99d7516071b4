"""Imports run down the layers only: program → chunking/prompts → records → generators/lite/synth → pipeline →
evaluation → cli, so a reader follows a document's path by following imports in one direction."""

from __future__ import annotations

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src"
# Lowest first; a module may import its own layer and the layers below it. Sub-modules take their package's
# layer: `prox.records.reading` is in `prox.records`.
LAYERS = {
    "prox": 0,
    "prox.tokenizer": 0,
    "prox.storage": 0,
    "prox.messages": 0,
    "prox.program": 1,
    "prox.chunking": 2,
    "prox.prompts": 2,
    "prox.records": 3,
    "prox.generators": 4,
    "prox.lite": 4,
    "prox.synth": 4,
    "prox.models": 4,
    "prox.pipeline": 5,
    "prox.evaluation": 6,
    "prox.pretrain": 6,
    "prox.training": 6,
    "prox.report": 6,
    "prox.cli": 7,
    "prox.__main__": 7,
}


def layer_of(module: str) -> tuple[str, int]:
    """The layer's name and rank of a prox module: its longest prefix that names a layer."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        name = ".".join(parts[:end])
        if name in LAYERS:
            return name, LAYERS[name]
    raise AssertionError(f"{module} is in no layer; add it to LAYERS")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, module) of every prox module the file imports, lazy imports inside functions included."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolved against the importing package
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from prox import lite` imports the module prox.lite; `from prox.x import name` imports prox.x.
            names = [f"{base}.{alias.name}" for alias in node.names]
            found.extend((node.lineno, name if _is_module(name) else base) for name in names)
    prox_modules = [(line, name) for line, name in found if name == "prox" or name.startswith("prox.")]
    return list(dict.fromkeys(prox_modules))


def _is_module(name: str) -> bool:
    relative = Path(SOURCE, *name.split("."))
    return relative.with_suffix(".py").is_file() or (relative / "__init__.py").is_file()


def upward_imports() -> list[str]:
    problems = []
    for path in sorted((SOURCE / "prox").rglob("*.py")):
        module = module_name(path)
        layer, rank = layer_of(module)
        for line, imported in imported_modules(path, module):
            imported_layer, imported_rank = layer_of(imported)
            if imported_rank > rank:
                where = path.relative_to(SOURCE)
                problems.append(f"{where}:{line}: {layer} imports {imported} ({imported_layer} is above it)")
    return problems


def test_no_module_imports_a_layer_above_its_own():
    assert upward_imports() == []


def test_every_module_is_in_a_layer():
    for path in (SOURCE / "prox").rglob("*.py"):
        layer_of(module_name(path))


def test_an_upward_import_is_found(tmp_path: Path):
    module = "prox.records.example"
    path = tmp_path / "example.py"
    path.write_text(
        "from prox.pipeline.stages import ReplayStage\nimport prox.program\n\n\ndef f():\n    import prox.cli\n"
    )
    imported = imported_modules(path, module)
    assert imported == [(1, "prox.pipeline.stages"), (2, "prox.program"), (6, "prox.cli")]
    assert [layer_of(name)[1] > layer_of(module)[1] for _, name in imported] == [True, False, True]
