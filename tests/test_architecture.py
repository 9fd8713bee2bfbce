"""The package's layering (docs/architecture.md), checked on the source.

Every module of `keras_genae/` is parsed with `ast` (nothing is imported)
and each of its imports of the package (module-level and inside functions:
`import keras_genae.x`, `from keras_genae.x import y`, relative imports,
`importlib.import_module("keras_genae.x")` and lazy-import tables, the
module-level dicts whose values name modules) is checked against the
layer table: a module may import only from its own layer or lower ones.
"""

import ast
import fnmatch
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "keras_genae"
MAX_LINES = 400

#: (path pattern relative to the repository, layer), most specific first;
#: `fnmatch` patterns, whose `*` also matches "/". docs/architecture.md
#: explains each layer.
LAYER_TABLE = (
    ("keras_genae/errors.py", 0),
    ("keras_genae/version.py", 0),
    ("keras_genae/utils/*", 0),
    ("keras_genae/data/*", 1),
    ("keras_genae/metrics.py", 2),
    ("keras_genae/inference.py", 2),
    ("keras_genae/training/*", 2),
    ("keras_genae/layers/*", 3),
    ("keras_genae/models/*", 4),
    ("keras_genae/export/*", 4),
    ("keras_genae/hub/*", 5),
    ("keras_genae/evaluation/*", 6),
    ("keras_genae/workflow/*", 7),
    ("keras_genae/callbacks.py", 7),
    ("keras_genae/cli*", 8),
)
#: The facade imports from every layer and is imported by none.
FACADE = "keras_genae/__init__.py"
FACADE_LAYER = len({layer for _, layer in LAYER_TABLE})
LAYER_NAMES = {
    0: "errors, version, utils", 1: "data", 2: "metrics, inference, training", 3: "layers",
    4: "models, export", 5: "hub", 6: "evaluation", 7: "workflow, callbacks", 8: "cli",
    FACADE_LAYER: "the facade keras_genae/__init__.py",
}

# ---------------------------------------------------------------------------
# KNOWN OFFENDERS OF TODAY'S TREE: to be emptied when the redesign (issue 14)
# is merged. Do not add to these lists: fix the import (move the code to
# the layer it belongs to, or pass the object in) instead.
#
# Modules that the layer table does not place yet, with the layer of the
# place they are moving to (classifiers -> models/classifier/, recipes ->
# models/<family>/presets.py, train and finetuner -> workflow/, zoo ->
# workflow/ and tools/zoo.py). Their imports are checked at that layer.
PROVISIONAL_TODAY = {}
# (importing module, imported module) pairs that break the layering today.
UPWARD_IMPORTS_TODAY = set()
# Modules over MAX_LINES lines today (none since cli.py became keras_genae/cli/).
LONG_MODULES_TODAY = set()
# ---------------------------------------------------------------------------


def table_layer(path):
    """The layer LAYER_TABLE gives a module path (relative to the
    repository), or None."""
    if path == FACADE:
        return FACADE_LAYER
    for pattern, layer in LAYER_TABLE:
        if fnmatch.fnmatchcase(path, pattern):
            return layer
    return None


def layer_of(path):
    """The layer of a module path: the table's, else its provisional one."""
    layer = table_layer(path)
    return PROVISIONAL_TODAY.get(path) if layer is None else layer


def module_path(dotted):
    """The file of a dotted module name of the package, or None."""
    base = ROOT.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate.relative_to(ROOT).as_posix()
    return None


def dotted_name(path):
    parts = list(Path(path).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path):
    """`(line, dotted name, how)` of every package import in the file `path`
    (relative to the repository): the module when `from X import Y` names
    a submodule `X.Y`, else `X`."""
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"), filename=path)
    package = dotted_name(path) if path.endswith("__init__.py") else dotted_name(path).rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, f"import {a.name}") for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                target = sub if module_path(sub) else base
                found.append((node.lineno, target, f"from {'.' * node.level}{node.module or ''} import {alias.name}"))
        elif isinstance(node, ast.Call) and _is_import_module(node.func) and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append((node.lineno, arg.value, f"importlib.import_module({arg.value!r})"))
    for node in tree.body:  # Lazy-import tables: {"name": "keras_genae.x", ...}
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Dict):
            for value in node.value.values:
                if isinstance(value, ast.Tuple) and value.elts:
                    value = value.elts[0]
                if isinstance(value, ast.Constant) and isinstance(value.value, str) and module_path(value.value):
                    found.append((value.lineno, value.value, f"lazy import of {value.value!r}"))
    return [(line, name, how) for line, name, how in found
            if name == "keras_genae" or name.startswith("keras_genae.")]


def _is_import_module(func):
    return (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id == "import_module")


def package_modules():
    return sorted(p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*.py"))


def upward_imports():
    """`(importer, imported, message)` for every import of a higher layer
    or of a module the table does not place."""
    problems = []
    for path in package_modules():
        if path == FACADE:
            continue
        own = layer_of(path)
        for line, name, how in imported_modules(path):
            target = module_path(name)
            if target is None:
                problems.append((path, name, f"{path}:{line}: `{how}` names no module of the package"))
                continue
            theirs = layer_of(target)
            if own is None or theirs is None:
                unplaced = path if own is None else target
                problems.append((path, target, f"{path}:{line}: `{how}`: {unplaced} has no layer in LAYER_TABLE"))
            elif theirs > own:
                problems.append((path, target, (
                    f"{path}:{line}: `{how}` imports layer {theirs} ({LAYER_NAMES[theirs]}) "
                    f"from layer {own} ({LAYER_NAMES[own]}); a module may import only from its "
                    "own layer or lower ones (docs/architecture.md)")))
    return problems


def test_every_module_has_a_layer():
    unplaced = {p for p in package_modules() if table_layer(p) is None}
    assert unplaced <= set(PROVISIONAL_TODAY), (
        f"{sorted(unplaced - set(PROVISIONAL_TODAY))} match no entry of LAYER_TABLE: put each "
        "module under the folder of its layer (docs/architecture.md)")
    assert set(PROVISIONAL_TODAY) <= unplaced, (
        f"{sorted(set(PROVISIONAL_TODAY) - unplaced)} are placed now (or gone): remove them "
        "from PROVISIONAL_TODAY")


def test_no_module_imports_from_a_higher_layer():
    problems = upward_imports()
    new = [message for importer, imported, message in problems
           if (importer, imported) not in UPWARD_IMPORTS_TODAY]
    assert not new, "Imports against the layering:\n" + "\n".join(new)
    fixed = UPWARD_IMPORTS_TODAY - {(importer, imported) for importer, imported, _ in problems}
    assert not fixed, f"These imports are fixed: remove them from UPWARD_IMPORTS_TODAY: {sorted(fixed)}"


@pytest.mark.parametrize("source, expected", [
    ("from keras_genae.hub import api\n", "keras_genae.hub.api"),
    ("def f():\n    from keras_genae.evaluation.core import evaluate\n", "keras_genae.evaluation.core"),
    ("import keras_genae.cli\n", "keras_genae.cli"),
    ("import importlib\nimportlib.import_module('keras_genae.zoo')\n", "keras_genae.zoo"),
    ("_LAZY = {'load': ('keras_genae.hub.api', 'load')}\n", "keras_genae.hub.api"),
    ("from ..hub import manifest\n", "keras_genae.hub.manifest"),
])
def test_the_checker_sees_every_kind_of_import(tmp_path, monkeypatch, source, expected):
    fake_root = tmp_path / "repo"
    for path in package_modules():  # The package's layout, empty files.
        (fake_root / path).parent.mkdir(parents=True, exist_ok=True)
        (fake_root / path).touch()
    (fake_root / "keras_genae" / "utils" / "probe.py").write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "ROOT", fake_root)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", fake_root / "keras_genae")
    assert [name for _, name, _ in imported_modules("keras_genae/utils/probe.py")] == [expected]
    (message,) = [m for importer, _, m in upward_imports() if importer == "keras_genae/utils/probe.py"]
    assert message.startswith("keras_genae/utils/probe.py:")


def test_the_architecture_doc_lists_every_layer():
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    rows = {int(m[0]): m[1] for m in re.findall(r"^\| (\d) \| ([^|]+) \|", doc, re.M)}
    assert sorted(rows) == sorted({layer for _, layer in LAYER_TABLE})
    for pattern, layer in LAYER_TABLE:
        name = pattern.removeprefix("keras_genae/").replace("/*", "/")
        assert f"`{name}`" in rows[layer], (pattern, layer, rows[layer])


def test_no_module_is_over_400_lines():
    long = {p: n for p in package_modules()
            if (n := len((ROOT / p).read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    new = {p: n for p, n in long.items() if p not in LONG_MODULES_TODAY}
    assert not new, f"Modules over {MAX_LINES} lines (split them by responsibility): {new}"
    fixed = LONG_MODULES_TODAY - set(long)
    assert not fixed, f"{sorted(fixed)} are short now: remove them from LONG_MODULES_TODAY"
