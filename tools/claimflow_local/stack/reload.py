"""``make dev``'s hot reload: it watches ``functions/``, ``layers/``, ``template.yaml`` and
``local/third_party.yaml``, rebuilds what changed, and the next token runs the new code; one
line per reload says what changed and how long it took.

What a change costs (each rebuild is the same build ``sam build`` runs, minus what did not change):
- a workflow's code (``functions/<name>/``): that function's own build rule (``functions/Makefile``,
  run as sam runs it) into a new task root;
- the layer's code (``layers/claimflow/claimflow/``): the layer's package step of
  ``layers/claimflow/Makefile`` (copy, validators, ``BUILT_FOR``, unchecked-hash bytecode) over a
  hard-linked copy of the built dependencies, compiling only the modules that changed;
- the template, a requirements file, a Makefile, a new function folder: ``sam build --cached``,
  then the emulator runs the new build on the same ports;
- the stand-in's routes: read again.

Each new build starts one sandbox per function it touches before anything swaps: a build that
fails, or code that does not start (a syntax error, a bad import, wrong settings), prints its
error and the last good build keeps serving.
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING

from claimflow_local.emulator.sandbox import InitError, runtime_interpreter
from claimflow_local.stack.local_state import note_reload
from claimflow_local.stack.third_party import ROUTES_FILE, RoutesError
from claimflow_local.template import FunctionSpec, SamTemplate

if TYPE_CHECKING:
    from claimflow_local.stack.deployment import LocalDeployment

__all__ = ["HotReload", "ReloadPlan", "plan_reload", "scan"]

LAYER_PACKAGE = "layers/claimflow/claimflow"
_SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", ".pytest_cache", ".mypy_cache", ".ruff_cache"})


def _skipped_file(name: str) -> bool:
    """Bytecode, and what editors write beside a file while saving it."""
    return name.endswith((".pyc", ".swp", ".swx", "~", ".tmp")) or name.startswith((".#", "#")) or name == "4913"


def scan(root: Path) -> dict[str, tuple[int, int]]:
    """Every watched file (relative path) with its modification time and size."""
    found: dict[str, tuple[int, int]] = {}
    for top in ("functions", "layers"):
        for directory, folders, files in os.walk(root / top):
            folders[:] = [f for f in folders if f not in _SKIPPED_DIRS and not f.startswith(".")]
            for name in files:
                if _skipped_file(name):
                    continue
                path = Path(directory, name)
                with contextlib.suppress(FileNotFoundError):  # removed between listing and looking
                    status = path.stat()
                    found[path.relative_to(root).as_posix()] = (status.st_mtime_ns, status.st_size)
    for single in ("template.yaml", ROUTES_FILE):
        with contextlib.suppress(FileNotFoundError):
            status = (root / single).stat()
            found[single] = (status.st_mtime_ns, status.st_size)
    return found


def changed(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> set[str]:
    return {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}


@dataclass
class ReloadPlan:
    """What a set of changed files needs rebuilt."""

    paths: set[str]
    full: str | None = None  # why everything is rebuilt (sam build), if it is
    layer: bool = False
    functions: set[str] = field(default_factory=set)
    routes: bool = False


def plan_reload(source: SamTemplate, paths: Iterable[str]) -> ReloadPlan:
    """The least rebuild that brings ``paths``' changes into the running stack."""
    plan = ReloadPlan(set(paths))
    resources = source.function_resources()
    by_dir: dict[str, list[str]] = {}
    for name, resource in resources.items():
        code_uri = str(resource.get("Properties", {}).get("CodeUri", "")).strip("/")
        by_dir.setdefault(code_uri, []).append(name)
    for path in sorted(plan.paths):
        if path == ROUTES_FILE:
            plan.routes = True
        elif path == "template.yaml":
            plan.full = plan.full or "template.yaml"
        elif path.startswith(f"{LAYER_PACKAGE}/"):
            plan.layer = True
        elif path.startswith("layers/"):
            plan.full = plan.full or path  # the layer's requirements or Makefile
        elif path.startswith("functions/"):
            directory, _, name = path.rpartition("/")
            owners = by_dir.get(directory, [])
            if not owners or name in ("requirements.txt", "Makefile"):
                plan.full = plan.full or path  # a new function folder, a dependency, a build rule
            for owner in owners:
                metadata = resources[owner].get("Metadata", {})
                if metadata.get("BuildMethod") != "makefile":
                    plan.full = plan.full or path  # a builder only sam runs
                plan.functions.add(owner)
    return plan


class ReloadError(Exception):
    """A rebuild failed; the message is what to show (the running build keeps serving)."""


@dataclass(frozen=True)
class _Done:
    what: str  # e.g. "AddPlanToTokenFunction rebuilt"
    seconds: float


class HotReload:
    """The watcher thread of one running ``LocalDeployment`` (make dev)."""

    def __init__(self, stack: LocalDeployment, *, out: IO[str], interval: float = 0.1) -> None:
        self.stack = stack
        self.root = stack.root
        self.out = out
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._count = 0
        self._lock = threading.Lock()  # one reload at a time
        #: Told after each reload (tests, benchmarks): the line printed.
        self.on_reload: Callable[[str], None] | None = None

    # --- the watcher ----------------------------------------------------------------------

    def start(self) -> HotReload:
        self._seen = scan(self.root)
        self._thread = threading.Thread(target=self._watch, name="claimflow-hot-reload", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            now = scan(self.root)
            paths = changed(self._seen, now)
            if not paths:
                continue
            while not self._stop.wait(0.05):  # until saving is over (editors write more than once)
                later = scan(self.root)
                more = changed(now, later)
                if not more:
                    break
                paths |= more
                now = later
            self._seen = now
            try:
                self.apply(paths)
            except Exception as error:  # the watcher never dies of one reload; say what happened
                self._say(f"reload failed: {type(error).__name__}: {error}; still serving the last good build")

    def _say(self, line: str) -> None:
        with contextlib.suppress(ValueError):  # the terminal closed at shutdown
            print(line, file=self.out, flush=True)
        if self.on_reload is not None:
            self.on_reload(line)

    # --- reloading ------------------------------------------------------------------------

    def apply(self, paths: Iterable[str]) -> str:
        """Rebuild what ``paths`` need; print (and return) the one line that says so."""
        with self._lock:
            started = time.perf_counter()
            plan = plan_reload(self.stack.source, paths)
            shown = ", ".join(sorted(plan.paths)[:3]) + (f" and {len(plan.paths) - 3} more" if len(plan.paths) > 3 else "")
            try:
                done = self._rebuild(plan)
            except ReloadError as error:
                took = time.perf_counter() - started
                line = f"reload failed ({took:.2f} s): {shown}: {error} — still serving the last good build"
                note_reload(self.root, pid=os.getpid(), failure=line)
            else:
                line = f"reload: {shown} → {done.what} in {done.seconds:.2f} s"
                note_reload(self.root, pid=os.getpid(), failure=None)
            self._say(line)
            return line

    def _rebuild(self, plan: ReloadPlan) -> _Done:
        started = time.perf_counter()
        what: list[str] = []
        if plan.routes:
            try:
                routes = self.stack.reload_routes()
            except RoutesError as error:
                raise ReloadError(str(error)) from None
            what.append(f"{len(routes.routes)} routes")
        if plan.full is not None:
            what.append(self._rebuild_all())
        elif plan.layer or plan.functions:
            what.append(self._rebuild_code(plan))
        return _Done(", ".join(what) or "nothing to rebuild", time.perf_counter() - started)

    def _scratch(self, name: str) -> Path:
        assert self.stack.snapshot is not None
        self._count += 1
        target = self.stack.snapshot / ".reload" / f"{name}-{self._count}"
        target.mkdir(parents=True)
        return target

    def _retire(self) -> None:
        """Remove builds two reloads old: nothing runs them any more (the sandboxes of the last
        one may still finish an invocation, and import from theirs)."""
        emulator = self.stack.emulator
        if emulator is None or self.stack.snapshot is None:
            return
        specs = [pool.spec for pool in emulator.pools.values()]
        running = {spec.code_dir for spec in specs} | {layer for spec in specs for layer in spec.layer_dirs}
        built = sorted((self.stack.snapshot / ".reload").glob("*-*"), key=lambda p: int(p.name.rsplit("-", 1)[1]))
        by_name: dict[str, list[Path]] = {}
        for folder in built:
            by_name.setdefault(folder.name.rsplit("-", 1)[0], []).append(folder)
        for folders in by_name.values():
            for old in folders[:-2]:
                if old not in running:
                    shutil.rmtree(old, ignore_errors=True)

    def _rebuild_all(self) -> str:
        from claimflow_local.stack.deployment import BuildError

        try:
            self.stack.rebuild()
        except BuildError as error:
            raise ReloadError(str(error).strip().splitlines()[-1] if str(error).strip() else "sam build failed") from None
        except InitError as error:  # pragma: no cover - rebuild leaves a function that fails cold, as Lambda would
            raise ReloadError(str(error)) from None
        return f"sam build, {len(self.stack.emulator.pools) if self.stack.emulator else 0} functions"

    def _rebuild_code(self, plan: ReloadPlan) -> str:
        emulator = self.stack.emulator
        assert emulator is not None
        changes: dict[str, Callable[[FunctionSpec], FunctionSpec]] = {}
        if plan.layer:
            layers = {layer for pool in emulator.pools.values() for layer in pool.spec.layer_dirs}
            old_layer = next((layer for layer in sorted(layers) if (layer / "python" / "claimflow").is_dir()), None)
            if old_layer is None:
                raise ReloadError("no running function has the claimflow layer")
            new_layer = self._build_layer(old_layer)
            for name, pool in emulator.pools.items():
                if old_layer in pool.spec.layer_dirs:
                    changes[name] = _with_layer(old_layer, new_layer)
        for name in sorted(plan.functions):
            code = self._build_function(name)
            previous = changes.get(name)
            changes[name] = _with_code(code, previous)
        failures = emulator.replace_code(changes)
        if failures:
            name, failed = next(iter(sorted(failures.items())))
            document = failed.document
            raise ReloadError(f"{name} does not start: {document.get('errorType')}: {document.get('errorMessage')}")
        self._retire()
        touched = sorted(changes)
        if plan.layer:
            return f"layer rebuilt, {len(touched)} functions warm"
        return f"{', '.join(touched)} rebuilt and warm"

    def _build_function(self, name: str) -> Path:
        """The function's own build rule (``make -f <ContextPath>/Makefile build-<Name>``, as sam runs it)."""
        source = self.stack.source
        resource = source.function_resources()[name]
        code_dir = source.code_dir(name)
        context = resource.get("Metadata", {}).get("ContextPath")
        makefile = (self.root / context / "Makefile") if context else code_dir / "Makefile"
        artifacts = self._scratch(name)
        python = runtime_interpreter(source.functions()[name].runtime)
        make = shutil.which("make") or "make"
        rule = [make, "--no-print-directory", "-f", str(makefile), f"build-{name}"]
        run = subprocess.run(
            [*rule, f"ARTIFACTS_DIR={artifacts}", f"PYTHON={python}"],
            cwd=code_dir,
            capture_output=True,
            text=True,
            check=False,
            start_new_session=True,
        )
        if run.returncode != 0:
            shown = (run.stdout + run.stderr).replace(str(artifacts), str(code_dir.relative_to(self.root)))
            raise ReloadError(_last_error(shown))
        return artifacts

    def _build_layer(self, old: Path) -> Path:
        """layers/claimflow/Makefile's package step over the built dependencies (hard links):
        the package copied, validators made again if a contract changed, BUILT_FOR kept, and
        unchecked-hash bytecode for each module that changed (the others keep theirs)."""
        new = self._scratch("ClaimflowLayer")
        package = self.root / LAYER_PACKAGE
        site, old_site = new / "python", old / "python"
        shutil.copytree(old, new, symlinks=True, copy_function=_link, dirs_exist_ok=True, ignore=_only_top(old_site, "claimflow"))
        old_package, new_package = old_site / "claimflow", site / "claimflow"
        compile_now: list[Path] = []
        copied: list[Path] = []  # relative paths of the modules and data that changed
        for path in sorted(package.rglob("*")):
            relative = path.relative_to(package)
            if any(part in _SKIPPED_DIRS for part in relative.parts) or path.is_dir() or _skipped_file(path.name):
                continue
            target = new_package / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            before = old_package / relative
            if before.exists() and filecmp.cmp(before, path, shallow=False):
                _link(str(before), str(target))
                if target.suffix != ".py":
                    continue
                if _pyc(before).exists():
                    _pyc(target).parent.mkdir(exist_ok=True)
                    _link(str(_pyc(before)), str(_pyc(target)))
                    continue
            else:
                shutil.copy2(path, target)
                copied.append(relative)
            if target.suffix == ".py":
                compile_now.append(target)
        if (old_package / "BUILT_FOR").exists():
            _link(str(old_package / "BUILT_FOR"), str(new_package / "BUILT_FOR"))
        schemas = {p.name for p in (package / "wire" / "schemas").glob("*.json")}
        built_schemas = {p.name for p in (old_package / "wire" / "schemas").glob("*.json")}
        contracts_changed = schemas != built_schemas or any(r.parts[0] == "wire" for r in copied)
        python = runtime_interpreter("python3.12")
        if contracts_changed or not (old_package / "wire" / "validators").is_dir():
            script = "import sys, pathlib; from claimflow.wire.contracts import generate_validators; "
            script += "generate_validators(pathlib.Path(sys.argv[1]))"
            self._run([python, "-c", script, str(new_package / "wire")], env={"PYTHONPATH": str(site)})
            compile_now += sorted((new_package / "wire" / "validators").glob("*.py"))
        else:
            shutil.copytree(old_package / "wire" / "validators", new_package / "wire" / "validators", copy_function=_link)
        if compile_now:
            script = (
                "import py_compile, sys\n"
                "for f in sys.argv[1:]:\n"
                "    py_compile.compile(f, doraise=True, invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)\n"
            )
            self._run([python, "-c", script, *map(str, compile_now)], shown=(str(new_package), LAYER_PACKAGE))
        return new

    def _run(self, command: list[str], *, env: dict[str, str] | None = None, shown: tuple[str, str] | None = None) -> None:
        run = subprocess.run(
            command, capture_output=True, text=True, check=False, env={**os.environ, **(env or {})}, start_new_session=True
        )
        if run.returncode != 0:
            text = run.stdout + run.stderr
            if shown is not None:
                text = text.replace(*shown)
            raise ReloadError(_last_error(text))


def _with_code(code: Path, then: Callable[[FunctionSpec], FunctionSpec] | None) -> Callable[[FunctionSpec], FunctionSpec]:
    return lambda spec: replace(then(spec) if then else spec, code_dir=code)


def _with_layer(old: Path, new: Path) -> Callable[[FunctionSpec], FunctionSpec]:
    return lambda spec: replace(spec, layer_dirs=tuple(new if layer == old else layer for layer in spec.layer_dirs))


def _only_top(site: Path, package: str) -> Callable[[str, list[str]], set[str]]:
    """copytree's ignore: the one package folder under ``site`` (it is rebuilt), and nothing else."""
    return lambda directory, names: {package} if Path(directory) == site else set()


def _pyc(source: Path) -> Path:
    return source.parent / "__pycache__" / f"{source.stem}.{sys.implementation.cache_tag}.pyc"


def _link(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _last_error(text: str) -> str:
    """The part of a build's output that says what is wrong: from the first traceback or
    compile error, at most a few lines, on one line."""
    lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    for marker in ("*** Error compiling", "Traceback", 'File "'):
        found = next((i for i, line in enumerate(lines) if marker in line), None)
        if found is not None:
            lines = lines[found:]
            break
    kept = [line.strip() for line in lines if not line.startswith("make")][-4:]
    return " | ".join(kept) or text.strip()[-300:]
