"""The import graph of skvae: no circles, and imports run one way.

The layer order is the table in README.md ("Development", the table with the
columns layer | modules | torch): that table is the only copy, and this test
reads it. Every module under ``skvae/`` is parsed with :mod:`ast` (nothing is
imported); every ``import`` statement counts, at module level and inside
functions alike, relative and absolute, as do ``importlib.import_module``
calls with a literal name or a literal ``_LAZY_ATTRS`` table. The graph has
an edge from a module to each skvae module it names; implicit imports of
parent packages (``import skvae.features`` runs ``skvae/__init__.py``) are
not edges, since ``skvae/__init__.py`` imports its torch-based names lazily.
``test_lint.py`` checks at run time that ``import skvae.features`` does not
import torch.
"""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "skvae"

#: modules whose imports are dynamic by design, and why
DYNAMIC = {
    "skvae.utils": "walks every public module to find the estimators",
    "skvae._export": "imports the optional packages onnx and onnxscript by name",
}


def read_layer_table(text):
    """[(layer name, [module names], may import torch)] from README's table."""
    rows, in_table = [], False
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells == ["layer", "modules", "torch"]:
            in_table = True
            continue
        if not in_table:
            continue
        if not line.strip().startswith("|"):
            break
        if set(cells[0]) <= {"-", ":"}:
            continue
        if len(cells) != 3 or cells[2] not in ("yes", "no"):
            raise ValueError(f"bad row of the layer table: {line.strip()!r}")
        rows.append((cells[0], re.findall(r"`([\w.]+)`", cells[1]), cells[2] == "yes"))
    if not rows:
        raise ValueError("README.md holds no table 'layer | modules | torch'")
    return rows


LAYERS = read_layer_table((ROOT / "README.md").read_text())


def _module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules():
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name, level, module, is_package):
    """Absolute name of ``from <level dots><name> import ...`` in ``module``."""
    if level == 0:
        return name
    base = module.split(".")
    if not is_package:
        base.pop()
    if level > 1:
        base = base[: -(level - 1)]
    return ".".join(base + ([name] if name else []))


def _imported_names(tree, module, is_package):
    """Absolute names of everything the module imports, anywhere in it."""
    names = set()
    dynamic = False
    lazy_tables = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            # "a.b.c" of "from a.b import c": the graph maps it to module
            # a.b.c if there is one, else to a.b
            target = _resolve(node.module, node.level, module, is_package)
            names.update(f"{target}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and _is_import_module(node.func):
            arg = node.args[0] if node.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                level = len(arg.value) - len(arg.value.lstrip("."))
                names.add(_resolve(arg.value[level:], level, module, is_package))
            else:
                dynamic = True
        elif (
            isinstance(node, ast.Assign)
            and any(getattr(t, "id", None) == "_LAZY_ATTRS" for t in node.targets)
            and isinstance(node.value, ast.Dict)
        ):
            lazy_tables.append(node.value)
    if dynamic and lazy_tables:
        # importlib.import_module(_LAZY_ATTRS[name], __name__)
        for table in lazy_tables:
            for value in table.values:
                spec = value.value
                level = len(spec) - len(spec.lstrip("."))
                names.add(_resolve(spec[level:], level, module, is_package))
        dynamic = False
    return names, dynamic


def _is_import_module(func):
    return (isinstance(func, ast.Attribute) and func.attr == "import_module") or (
        isinstance(func, ast.Name) and func.id == "import_module"
    )


def _graph():
    """(internal edges, external top-level imports, dynamic modules)."""
    modules = _modules()
    edges = {m: set() for m in modules}
    external = {m: set() for m in modules}
    dynamic = set()
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        names, is_dynamic = _imported_names(tree, module, path.name == "__init__.py")
        if is_dynamic:
            dynamic.add(module)
        for name in names:
            if name == "skvae" or name.startswith("skvae."):
                # the longest prefix that is a module: "skvae._base.BaseVAE"
                # names the module skvae._base
                parts = name.split(".")
                while ".".join(parts) not in modules:
                    parts.pop()
                target = ".".join(parts)
                if target != module:
                    edges[module].add(target)
            else:
                external[module].add(name.split(".")[0])
    return edges, external, dynamic


GRAPH = _graph()


def _reachable(start, edges):
    seen, todo = set(), [start]
    while todo:
        for nxt in edges[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _cycle(edges):
    """One import cycle as a list of modules, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


# ---------------------------------------------------------------- the reader
def test_the_reader_sees_every_kind_of_import():
    source = """
import numpy as np
from sklearn.base import clone
from . import _vae
from ._base import BaseVAE
from .. import datasets
import importlib
def f():
    from .features import SpeechFeatures
    import skvae._format
    importlib.import_module("._export", __name__)
"""
    names, dynamic = _imported_names(ast.parse(source), "skvae.sub.mod", False)
    assert not dynamic
    assert {
        "numpy",
        "sklearn.base.clone",
        "skvae.sub._vae",
        "skvae.sub._base.BaseVAE",
        "skvae.datasets",
        "skvae.sub.features.SpeechFeatures",
        "skvae._format",
        "skvae.sub._export",
    } <= names
    # in a package's __init__, "." is the package itself
    names, _ = _imported_names(ast.parse("from . import _x"), "skvae", True)
    assert "skvae._x" in names


def test_the_graph_holds_function_level_imports():
    edges, external, _ = GRAPH
    assert "skvae._serialize" in edges["skvae._base"]
    # the lazy public names of skvae/__init__.py, imported inside __getattr__
    assert {"skvae._transformer", "skvae._persistence"} <= edges["skvae"]
    assert "torch" in external["skvae._vae"]


def test_only_known_modules_import_dynamically():
    _, _, dynamic = GRAPH
    assert dynamic <= set(DYNAMIC), (
        f"{sorted(dynamic - set(DYNAMIC))} import modules by computed names, "
        "which this graph cannot follow; import them by name."
    )


# ---------------------------------------------------------------- the rules
def _layer_of(module):
    """(index, row) of the longest table name that is ``module`` or a package
    above it; None when no row covers it."""
    best = None
    for index, (_, names, torch_ok) in enumerate(LAYERS):
        for name in names:
            if module == name or module.startswith(name + "."):
                if best is None or len(name) > len(best[2]):
                    best = (index, torch_ok, name)
    return best


def test_the_table_reader_reads_rows_and_refuses_bad_ones():
    text = "| layer | modules | torch |\n|---|---|---|\n| a | `x.y`, `x` | no |\n\nend"
    assert read_layer_table(text) == [("a", ["x.y", "x"], False)]
    with pytest.raises(ValueError, match="bad row"):
        read_layer_table("| layer | modules | torch |\n| a | `x` | maybe |")
    with pytest.raises(ValueError, match="no table"):
        read_layer_table("no table here")


def test_every_module_has_a_row_and_every_row_names_a_module():
    edges, _, _ = GRAPH
    missing = sorted(m for m in edges if _layer_of(m) is None)
    assert missing == [], f"{missing} have no row in README.md's layer table"
    named = [name for _, names, _ in LAYERS for name in names]
    unknown = sorted(set(named) - set(edges))
    assert unknown == [], f"README.md's layer table names missing modules {unknown}"
    assert len(named) == len(set(named)), "a module stands in two rows"


def test_no_import_cycle():
    edges, _, _ = GRAPH
    cycle = _cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_imports_run_down_the_layer_table():
    edges, _, _ = GRAPH
    wrong = [
        f"{module} ({LAYERS[_layer_of(module)[0]][0]}) -> {target} "
        f"({LAYERS[_layer_of(target)[0]][0]})"
        for module in sorted(edges)
        for target in sorted(edges[module])
        if _layer_of(target)[0] > _layer_of(module)[0]
    ]
    assert wrong == [], "imports against README.md's layer table: " + "; ".join(wrong)


def test_rows_without_torch_never_reach_it():
    edges, external, _ = GRAPH
    torch_free = [m for m in edges if not _layer_of(m)[1]]
    assert {"skvae.features", "skvae.audio", "skvae._openset"} <= set(torch_free)
    for module in torch_free:
        for other in {module} | _reachable(module, edges):
            assert "torch" not in external[other], (
                f"{module} reaches torch through {other}"
            )


@pytest.mark.parametrize(
    "module, forbidden",
    [
        ("skvae.exceptions", {"torch", "sklearn"}),
        ("skvae._vae", {"sklearn"}),
        ("skvae._training", {"sklearn"}),
        ("skvae._factorized_module", {"sklearn"}),
        ("skvae._format", {"torch", "sklearn"}),
        ("skvae._atomic", {"torch", "sklearn"}),
    ],
)
def test_bottom_modules_do_not_reach_heavy_dependencies(module, forbidden):
    edges, external, _ = GRAPH
    reached = set(external[module])
    for other in _reachable(module, edges):
        reached |= external[other]
    assert not reached & forbidden, f"{module} reaches {sorted(reached & forbidden)}"


def test_cli_uses_only_the_public_api():
    edges, _, _ = GRAPH
    cli = [m for m in edges if m == "skvae.cli" or m.startswith("skvae.cli.")]
    private = sorted(
        f"{module} -> {target}"
        for module in cli
        for target in edges[module]
        if not target.startswith("skvae.cli")
        and any(part.startswith("_") for part in target.split(".")[1:])
    )
    assert private == [], f"the command line imports private modules {private}"


def test_public_names_resolve_lazily():
    """skvae/__init__.py imports torch only when a torch-based name is used."""
    import subprocess
    import sys

    code = (
        "import sys, skvae\n"
        "assert 'torch' not in sys.modules\n"
        "assert skvae.features.__name__ == 'skvae.features'\n"
        "assert skvae.datasets.__name__ == 'skvae.datasets'\n"
        "assert 'torch' not in sys.modules\n"
        "for name in skvae.__all__:\n"
        "    assert getattr(skvae, name) is not None, name\n"
        "assert skvae.VAETransformer.__module__ == 'skvae._transformer'\n"
        "assert skvae.save.__module__ == 'skvae._persistence'\n"
        "assert set(skvae.__all__) <= set(dir(skvae))\n"
        "try:\n"
        "    skvae.nope\n"
        "except AttributeError as exc:\n"
        "    assert \"has no attribute 'nope'\" in str(exc)\n"
        "else:\n"
        "    raise AssertionError('skvae.nope')\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
