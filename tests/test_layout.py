"""The package's layering: a module imports only from its own layer or the layers below it."""
import ast
from pathlib import Path

import wrl

PACKAGE = Path(wrl.__file__).parent
#: layer of each top-level module or subpackage, from the bottom up (docs/architecture.md)
LAYERS = {
    "errors": 0, "atomic": 0, "timing": 0,
    "env": 1,
    "workflow": 2,
    "rl": 3,
    "run": 4,
    "search": 5,
    "eval": 6,
    "report": 7,
    "cli": 8, "bench": 8, "__init__": 8, "__main__": 8,
}


def _part(module: str) -> str:
    """'wrl.rl.ppo' -> 'rl'; 'wrl.errors' -> 'errors'."""
    return module.split(".")[1]


def _imports(path: Path):
    """Every wrl module that ``path`` imports (at any depth of its code)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("wrl."):
            yield node.module
        elif isinstance(node, ast.ImportFrom) and node.module == "wrl":
            yield from (f"wrl.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("wrl."))


def test_every_module_belongs_to_a_layer():
    parts = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in PACKAGE.rglob("*.py")}
    assert parts <= set(LAYERS), f"modules without a layer: {sorted(parts - set(LAYERS))}"


def test_imports_point_down_only():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        part = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        for module in _imports(path):
            if LAYERS[_part(module)] > LAYERS[part]:
                upward.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert not upward, "imports from a higher layer:\n" + "\n".join(upward)
