"""Dependencies point one way: parsing -> sources -> ops -> validation -> publish -> Dagster wiring -> CLI.

Every ``orchestration`` import of every module is read from its source (``ast``): a module may import
its own layer or a lower one, never a higher one.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "orchestration"

#: layer of each top-level part of the package (lower imports nothing higher)
LAYERS = {
    "project": 0, "config": 0, "dbt_state": 0, "memory": 0, "sql": 0,
    "snapshots": 1,
    "sources": 2,
    "ops": 3,
    "validation": 4,
    "publish": 5,
    "defs": 6,
    "definitions": 7, "cli": 7,
}


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    module = _module(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            found |= {target} if not node.module or node.level else {target}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return {name for name in found if name == "orchestration" or name.startswith("orchestration.")}


def _layer(module: str) -> int:
    part = module.split(".")[1]
    assert part in LAYERS, f"{module}: a part of the package without a layer (add it to LAYERS)"
    return LAYERS[part]


def test_no_import_runs_from_a_lower_layer_to_a_higher_one():
    backwards = []
    for path in sorted(ROOT.rglob("*.py")):
        module = _module(path)
        if module == "orchestration":
            continue
        for target in _imports(path):
            if target != "orchestration" and _layer(target) > _layer(module):
                backwards.append(f"{module} (layer {_layer(module)}) imports {target} (layer {_layer(target)})")
    assert backwards == []


def test_no_module_writes_the_environment_to_pass_a_setting():
    writers = [str(path.relative_to(ROOT.parent)) for path in sorted(ROOT.rglob("*.py"))
               if "os.environ[" in path.read_text() or "os.environ.update" in path.read_text()
               or "os.environ.setdefault" in path.read_text() or "putenv" in path.read_text()]
    assert writers == []
