"""dvc.yaml cannot go stale: every module a stage runs is one of the stage's dependencies.

For each stage, the modules it runs are found by walking the imports (module level and inside
functions) from `leadscore.cli` (only the stage's own command; of `leadscore.commands`, what
importing its modules runs) and `leadscore.stages.<stage>`, following `leadscore.*` only. Each
module file must be covered by a `deps:` path (the file or a folder above it), so editing any of
them marks the stage as changed in `dvc status`; and each code path in `deps:` must hold a module
the stage runs, so no edit re-runs a stage needlessly.
The params a stage reads are checked by `tests/e2e/test_dvc_params.py`, which runs the stages.
"""

from __future__ import annotations

import ast
import tomllib
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PIPELINE = ROOT / "dvc.yaml"  # the examples under examples/ run this file through a symlink


@cache
def module_file(name: str) -> Path | None:
    """The source file of a `leadscore` module or package, or None if it is not one."""
    path = SRC.joinpath(*name.split("."))
    if (path / "__init__.py").is_file():
        return path / "__init__.py"
    return path.with_suffix(".py") if path.with_suffix(".py").is_file() else None


@cache
def tree_of(path: Path) -> ast.Module:
    """A module's syntax tree, parsed once for the session (never modified)."""
    return ast.parse(path.read_text())


def imported_names(node: ast.AST, module: str) -> set[str]:
    """Modules named by the import statements under `node` (`from a import b` may name a.b)."""
    names: set[str] = set()
    package = module if module_file(module).name == "__init__.py" else module.rpartition(".")[0]
    for item in ast.walk(node):
        if isinstance(item, ast.Import):
            names |= {alias.name for alias in item.names}
        elif isinstance(item, ast.ImportFrom):
            base = item.module or ""
            if item.level:
                anchor = package.rsplit(".", item.level - 1)[0] if item.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            names.add(base)
            names |= {f"{base}.{alias.name}" for alias in item.names}
    return {name for name in names if name.split(".")[0] == "leadscore" and module_file(name)}


@cache
def imports_of(name: str) -> frozenset[str]:
    """The `leadscore` modules a module's import statements name (walked once per session)."""
    return frozenset(imported_names(tree_of(module_file(name)), name))


def with_packages(name: str) -> set[str]:
    """Importing `a.b.c` runs `a`, `a.b` and `a.b.c`."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


# the commands that are not stages: `leadscore <stage>` imports their modules, runs none of them
OTHER_COMMANDS = ("agreement", "models", "records", "scoring")


def module_level_imports(name: str) -> set[str]:
    """What importing a module runs, with no function of it called."""
    tree = ast.parse(module_file(name).read_text())
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            node.body = []
    return imported_names(tree, name) | {name}


def cli_imports(stage: str) -> set[str]:
    """What `leadscore <stage>` imports: the CLI module, minus the other commands' bodies, and
    the modules of the commands that are not stages, minus every body."""
    tree = ast.parse(module_file("leadscore.cli").read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name != stage and is_command(node):
            node.body = []
    others = {f"leadscore.commands.{name}" for name in OTHER_COMMANDS}
    modules = imported_names(tree, "leadscore.cli") - others | {"leadscore.cli"}
    for name in others:
        modules |= module_level_imports(name)
    return modules


def test_the_other_commands_are_all_the_commands_modules():
    folder = SRC / "leadscore" / "commands"
    modules = {path.stem for path in folder.glob("*.py")} - {"__init__", "support"}
    assert modules == set(OTHER_COMMANDS)


def is_command(node: ast.FunctionDef) -> bool:
    """A command, or the callback of a command group (`leadscore contract` runs its callback);
    the app's own callback runs before every command and stays."""
    decorators = [ast.unparse(decorator) for decorator in node.decorator_list]
    return any(
        "command" in text or ("callback" in text and not text.startswith("app."))
        for text in decorators
    )


@cache
def closure(start: frozenset[str], walked: frozenset[str] = frozenset()) -> frozenset[str]:
    """Every `leadscore` module run when the modules in `start` are imported and called
    (the imports of the modules in `walked` are already in `start`)."""
    seen: set[str] = set(walked)
    todo = [name for module in start for name in with_packages(module)]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for imported in imports_of(name):
            todo += [n for n in with_packages(imported) if n not in seen]
    return frozenset(seen)


def inert(path: Path) -> bool:
    """A module with nothing but a docstring cannot change what a stage writes."""
    body = tree_of(path).body
    return all(isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in body)


def package_data(modules: frozenset[str]) -> set[Path]:
    """Data files shipped with a package (pyproject package-data, e.g. `templates/*.j2`) that
    an imported module of that package names (the string "templates")."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shipped = config["tool"]["setuptools"].get("package-data", {})
    files: set[Path] = set()
    for package, patterns in shipped.items():
        folder = SRC.joinpath(*package.split("."))
        members = [m for m in modules if m.rpartition(".")[0] == package]
        strings = {
            node.value
            for member in members
            for node in ast.walk(tree_of(module_file(member)))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        }
        for pattern in patterns:
            if pattern.split("/")[0] in strings:
                files |= set(folder.glob(pattern))
    return files


@cache
def stage_files(stage: str) -> frozenset[Path]:
    start = cli_imports(stage) | {f"leadscore.stages.{stage}"}
    walked = {"leadscore.cli"} | {f"leadscore.commands.{name}" for name in OTHER_COMMANDS}
    modules = closure(frozenset(start), walked=frozenset(walked))
    files = {module_file(name) for name in modules} | package_data(modules)
    return frozenset(path for path in files if path.suffix != ".py" or not inert(path))


def stages_of(pipeline: Path) -> dict[str, dict]:
    return yaml.safe_load(pipeline.read_text())["stages"]


def dep_paths(pipeline: Path, stage: dict) -> list[Path]:
    """The stage's deps as paths, `${project_dir}` (params.yaml) resolved to the project."""
    deps = [str(dep).replace("${project_dir}", str(ROOT)) for dep in stage.get("deps", [])]
    return [(pipeline.parent / dep).resolve() for dep in deps]


def uncovered(files: frozenset[Path], deps: list[Path]) -> list[str]:
    return sorted(
        str(path.relative_to(ROOT))
        for path in files
        if not any(path == dep or dep in path.parents for dep in deps)
    )


CASES = [pytest.param(PIPELINE, name, id=name) for name in stages_of(PIPELINE)]


@pytest.mark.parametrize(("pipeline", "stage"), CASES)
def test_every_module_a_stage_runs_is_a_dependency(pipeline: Path, stage: str):
    deps = dep_paths(pipeline, stages_of(pipeline)[stage])
    assert uncovered(stage_files(stage), deps) == []


@pytest.mark.parametrize(("pipeline", "stage"), CASES)
def test_every_code_dependency_is_run_by_the_stage(pipeline: Path, stage: str):
    """No needless re-runs: a code path in deps holds at least one module the stage runs."""
    files = stage_files(stage)
    code = [dep for dep in dep_paths(pipeline, stages_of(pipeline)[stage]) if SRC in dep.parents]
    unused = [dep for dep in code if not any(dep == f or dep in f.parents for f in files)]
    assert [str(dep.relative_to(ROOT)) for dep in unused] == []


@pytest.mark.parametrize(("pipeline", "stage"), CASES)
def test_every_code_dependency_exists(pipeline: Path, stage: str):
    code = [dep for dep in dep_paths(pipeline, stages_of(pipeline)[stage]) if SRC in dep.parents]
    assert [str(dep.relative_to(ROOT)) for dep in code if not dep.exists()] == []


def test_the_walk_follows_function_level_imports_and_skips_other_commands():
    files = stage_files("evaluate")
    assert SRC / "leadscore/scoring/trees.py" in files  # evaluate -> scorer -> trees
    assert SRC / "leadscore/mlops/tracking.py" in files
    assert SRC / "leadscore/views/report.py" not in files  # only the `report` command's
    assert SRC / "leadscore/views/templates/report.html.j2" in stage_files("report")
    assert SRC / "leadscore/data/leakage.py" in stage_files("ingest")  # imported inside main()
