"""The course's layout (docs/design.md): imports go one way, cs20 holds only what several
lectures share, and no lecture is loaded by path, patched or hooked. Read from the
source with `ast`, so these tests import nothing."""

import ast
import pathlib
import re

from conftest import ROOT

PACKAGES = ("cs20", "lectures", "exercises")


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, pathlib.Path]:
    return {module_name(path): path for package in PACKAGES
            for path in sorted((ROOT / package).rglob("*.py"))}


def imported_names(path: pathlib.Path) -> set[str]:
    """Every module a file imports (at any depth in the file), as dotted names."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def import_graph() -> dict[str, set[str]]:
    """module -> the project's modules it imports (a package's import counts as one of
    its __init__)."""
    modules = all_modules()
    return {name: {imported for imported in imported_names(path) if imported in modules
                   and imported != name}
            for name, path in modules.items()}


def folder_of(module: str) -> str | None:
    """lectures.l12_translation.bleu -> lectures.l12_translation (likewise exercises)."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] in ("lectures", "exercises") and len(parts) > 1 \
        else None


def lecture_number(module: str) -> int:
    return int(re.match(r"lectures\.l(\d\d)_", module).group(1))


def test_cs20_never_imports_a_lecture_or_an_exercise():
    offenders = {name: sorted(imported for imported in imports
                              if imported.split(".")[0] in ("lectures", "exercises"))
                 for name, imports in import_graph().items() if name.startswith("cs20")}
    assert not {name: found for name, found in offenders.items() if found}


def test_lectures_import_only_earlier_lectures():
    later = {}
    for name, imports in import_graph().items():
        if folder_of(name) and name.startswith("lectures."):
            for imported in imports:
                if (imported.startswith("lectures.") and folder_of(imported) != folder_of(name)
                        and lecture_number(imported) > lecture_number(name)):
                    later[name] = imported
    assert not later


def test_no_import_circle():
    graph = import_graph()
    state: dict[str, str] = {}

    def visit(module, path):
        state[module] = "open"
        for imported in graph[module]:
            assert state.get(imported) != "open", " -> ".join([*path, module, imported])
            if imported not in state:
                visit(imported, [*path, module])
        state[module] = "done"

    for module in graph:
        if module not in state:
            visit(module, [])


def test_every_cs20_module_serves_more_than_one_lecture():
    """A cs20 module is used by another cs20 module (the command line, the loop, ...) or by
    at least two lecture or exercise folders; one used by a single lecture belongs in it."""
    graph = import_graph()
    lonely = {}
    for module in graph:
        if not module.startswith("cs20.") or module.endswith("__main__"):
            continue
        users = {importer for importer, imports in graph.items() if module in imports}
        if any(user.startswith("cs20") for user in users):
            continue
        folders = {folder_of(user) for user in users} - {None}
        if len(folders) < 2:
            lonely[module] = sorted(folders)
    assert not lonely


def test_nothing_is_loaded_by_path_patched_or_hooked():
    for name, path in all_modules().items():
        source = path.read_text(encoding="utf-8")
        for forbidden in ("spec_from_file_location", "load_lecture", "mock.patch",
                          "sys.meta_path", "__class__ ="):
            if name.startswith("cs20.exercises.sandbox") and forbidden == \
                    "spec_from_file_location":
                continue  # the student's own file, which is not a module of the course
            assert forbidden not in source, f"{name}: {forbidden}"
    assert not (ROOT / "cs20" / "lazy_imports.py").exists()
