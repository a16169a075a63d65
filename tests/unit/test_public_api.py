"""The package's public surface: everything exported exists; every error of every module is a
ClaimflowError named ...Error, defined in an error module and exported by its package; each
error that reaches a client carries an OAuth code; and ``claimflow.__all__`` holds what a
workflow author uses and nothing of the issuer."""

import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest

import claimflow
import claimflow.errors
import claimflow.issuer
import claimflow.issuer.errors
import claimflow.keys
import claimflow.keys.errors
import claimflow.record
import claimflow.record.errors

OAUTH_CODES = {"invalid_request", "invalid_client", "access_denied", "server_error", "temporarily_unavailable"}
#: Each error module, and the package whose ``__all__`` exports its errors.
ERROR_MODULES = {
    claimflow.errors: claimflow.errors,
    claimflow.issuer.errors: claimflow.issuer,
    claimflow.keys.errors: claimflow.keys,
    claimflow.record.errors: claimflow.record,
}


def _every_module() -> list[ModuleType]:
    names = [info.name for info in pkgutil.walk_packages(claimflow.__path__, prefix="claimflow.")]
    return [claimflow, *(importlib.import_module(name) for name in names)]


def test_every_exception_of_every_module_is_a_claimflow_error_in_an_error_module() -> None:
    modules = _every_module()
    assert len(modules) > 40
    for module in modules:
        for error in _errors_defined_in(module):
            assert issubclass(error, claimflow.ClaimflowError), f"{module.__name__}.{error.__name__} is outside ClaimflowError"
            assert module in ERROR_MODULES, f"{module.__name__}.{error.__name__}: define it in an error module"


@pytest.mark.parametrize("package", [claimflow, claimflow.issuer, claimflow.keys, claimflow.record])
def test_every_name_in_all_is_importable(package: ModuleType) -> None:
    for name in package.__all__:
        assert hasattr(package, name), name


def _errors_defined_in(module: ModuleType) -> list[type[Exception]]:
    return [
        obj
        for _, obj in inspect.getmembers(module, inspect.isclass)
        if issubclass(obj, Exception) and obj.__module__ == module.__name__
    ]


@pytest.mark.parametrize(("module", "package"), list(ERROR_MODULES.items()))
def test_every_error_is_exported_under_one_root_with_an_oauth_code(module: ModuleType, package: ModuleType) -> None:
    errors = _errors_defined_in(module)
    assert errors
    for error in errors:
        assert issubclass(error, claimflow.ClaimflowError), error
        assert error.__name__.endswith("Error"), error
        assert error.__name__ in package.__all__, f"{error.__name__} is not exported by {package.__name__}"
        assert error.error_code in OAUTH_CODES, error


def test_the_workflow_api_exports_no_issuer_or_key_error() -> None:
    for module in (claimflow.issuer.errors, claimflow.keys.errors):
        assert {error.__name__ for error in _errors_defined_in(module)}.isdisjoint(claimflow.__all__)


def test_importing_the_workflow_api_does_not_import_boto3_or_requests() -> None:
    import os
    import subprocess
    import sys

    probe = "import sys, claimflow; print('boto3' in sys.modules, 'requests' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env).stdout.split()
    assert out == ["False", "False"]
