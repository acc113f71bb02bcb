"""The import graph of skvae: no circles, and imports run one way.

Every module under ``skvae/`` is parsed with :mod:`ast` (nothing is
imported); every ``import`` statement counts, at module level and inside
functions alike, relative and absolute, as do ``importlib.import_module``
calls with a literal name or a literal ``_LAZY_ATTRS`` table. The graph has
an edge from a module to each skvae module it names; implicit imports of
parent packages (``import skvae.features`` runs ``skvae/__init__.py``) are
not edges, since ``skvae/__init__.py`` imports its torch-based names lazily.
``test_lint.py`` checks at run time that ``import skvae.features`` does not
import torch.

Core layers, bottom first; a module imports only modules of lower layers::

    exceptions, _version <- _atomic <- _vae, _format
    <- _training, _fhvae, _numpy_encoder <- _serialize, _checks
    <- _base <- _transformer, _classifier, _openset, _factorized
    <- _persistence, _export

``_checks`` (input checks and column statistics in NumPy) imports nothing
of skvae; ``_serialize`` (weights files and pickling, a mixin of ``_base``)
stands on ``_format`` (the weights format, bytes in and out, no torch).

``_fhvae`` holds the torch module of :class:`~skvae.FactorizedVAE`.

``_numpy_encoder`` (a VAETransformer's encoder run by NumPy from the
weights format) needs no torch: prediction without it.

``_openset`` (the reject option, a meta-estimator around any classifier)
sits beside the estimators but needs no torch of its own.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "skvae"

CORE_LAYERS = [
    ("skvae.exceptions", "skvae._version", "skvae._device", "skvae._threads"),
    ("skvae._atomic",),
    ("skvae._vae", "skvae._format"),
    (
        "skvae._training",
        "skvae._factorized_module",
        "skvae._numpy_encoder",
        "skvae._params",
    ),
    ("skvae._serialize", "skvae._validation"),
    ("skvae._base",),
    ("skvae._transformer", "skvae._classifier", "skvae._openset", "skvae._factorized"),
    ("skvae._persistence", "skvae._export"),
]
#: the application layers above the core (issue 13), checked where they exist
APPLICATION_LAYERS = [
    ("skvae.augment",),
    ("skvae.recipes",),
    ("skvae.evaluation",),
    ("skvae.report", "skvae._report"),
    ("skvae.cli",),
]
#: the private modules of each application package, bottom first: a module
#: imports only modules of the rows before its own (and of lower layers); the
#: package's ``__init__`` re-exports them and sits above them all
PACKAGE_MODULES = {
    "skvae.augment": [("_waveform", "_pipeline"), ("_model",)],
    "skvae.recipes": [
        ("_pipeline",),
        ("_factories",),
        ("_generate",),
        ("_model_file",),
        ("_predictor", "_train"),
    ],
    "skvae.evaluation": [
        ("_common",),
        ("_perturb",),
        ("_protocols", "_generation", "_open_set_check"),
        ("_summary",),
    ],
    "skvae.report": [("_figures",), ("_page",)],
    "skvae.cli": [("console", "parser", "staging"), ("commands",), ("predict",)],
}
#: modules whose imports are dynamic by design, and why
DYNAMIC = {
    "skvae.utils": "walks every public module to find the estimators",
    "skvae._export": "imports the optional packages onnx and onnxscript by name",
}


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
    import skvae._weights
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
        "skvae._weights",
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
def test_no_import_cycle():
    edges, _, _ = GRAPH
    cycle = _cycle(edges)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def _check_layers(layers):
    edges, _, _ = GRAPH
    level = {m: i for i, layer in enumerate(layers) for m in layer}
    wrong = []
    for module in level:
        for target in sorted(edges.get(module, ())):
            if target in level and level[target] >= level[module]:
                wrong.append(f"{module} -> {target}")
    return wrong


def test_core_modules_import_only_lower_layers():
    edges, _, _ = GRAPH
    core = {m for layer in CORE_LAYERS for m in layer}
    assert core <= set(edges), sorted(core - set(edges))
    assert _check_layers(CORE_LAYERS) == []
    for module in core:
        outside = edges[module] - core
        assert not outside, f"{module} imports {sorted(outside)} above the core"
    assert edges["skvae.exceptions"] == set()
    assert edges["skvae._version"] == set()


def _application_layers():
    """APPLICATION_LAYERS with each package's private modules below it."""
    layers = []
    for layer in APPLICATION_LAYERS:
        for package in layer:
            for row in PACKAGE_MODULES.get(package, ()):
                layers.append(tuple(f"{package}.{name}" for name in row))
        layers.append(layer)
    return [
        present
        for present in (tuple(m for m in layer if m in GRAPH[0]) for layer in layers)
        if present
    ]


def test_application_layers_import_downwards():
    layers = CORE_LAYERS + _application_layers()
    assert _check_layers(layers) == []


def test_every_module_of_an_application_package_has_a_place():
    edges, _, _ = GRAPH
    placed = {m for layer in _application_layers() for m in layer}
    for package in PACKAGE_MODULES:
        modules = {m for m in edges if m.startswith(package + ".")}
        assert modules, f"{package} is not a package"
        assert modules <= placed, (
            f"{sorted(modules - placed)} are not in PACKAGE_MODULES of "
            "tests/test_layering.py: give them a row"
        )


@pytest.mark.parametrize(
    "module, forbidden",
    [
        ("skvae.exceptions", {"torch", "sklearn"}),
        ("skvae._vae", {"sklearn"}),
        ("skvae._training", {"sklearn"}),
        ("skvae._factorized_module", {"sklearn"}),
        ("skvae._validation", {"torch"}),
        ("skvae._numpy_encoder", {"torch"}),
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


def test_features_and_datasets_never_import_torch():
    edges, external, _ = GRAPH
    front_end = [
        m
        for m in edges
        if m.startswith(("skvae.features", "skvae.datasets"))
        and m.split(".")[1] in ("features", "datasets")
    ]
    assert len(front_end) > 4
    for module in front_end:
        for other in {module} | _reachable(module, edges):
            assert "torch" not in external[other], (
                f"{module} reaches torch through {other}"
            )


def test_the_reject_option_needs_no_torch():
    """skvae._openset wraps any classifier: it imports no torch itself (the
    model it wraps may)."""
    edges, external, _ = GRAPH
    assert "skvae._openset" in edges
    for other in {"skvae._openset"} | _reachable("skvae._openset", edges):
        assert "torch" not in external[other], (
            f"skvae._openset reaches torch via {other}"
        )


def test_waveform_augmentation_needs_no_torch():
    """skvae.augment._waveform (audio in, audio out) sits beside features/."""
    edges, external, _ = GRAPH
    assert "skvae.augment._waveform" in edges
    for other in {"skvae.augment._waveform"} | _reachable(
        "skvae.augment._waveform", edges
    ):
        assert "torch" not in external[other], (
            f"skvae.augment._waveform reaches torch via {other}"
        )


def test_cli_uses_only_the_public_api():
    edges, _, _ = GRAPH
    private = sorted(
        target
        for target in edges["skvae.cli"]
        if any(part.startswith("_") for part in target.split(".")[1:])
    )
    assert private == [], f"skvae/cli.py imports private modules {private}"


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
