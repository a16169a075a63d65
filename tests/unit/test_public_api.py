"""The package's public surface: everything exported exists, every error is a ClaimflowError
named ...Error, and each error that reaches a client carries an OAuth code."""

import inspect

import claimflow
import claimflow.errors

OAUTH_CODES = {"invalid_request", "access_denied", "server_error", "temporarily_unavailable"}


def test_every_name_in_all_is_importable() -> None:
    for name in claimflow.__all__:
        assert hasattr(claimflow, name), name


def test_every_error_is_exported_under_one_root_with_an_oauth_code() -> None:
    errors = [obj for _, obj in inspect.getmembers(claimflow.errors, inspect.isclass) if issubclass(obj, Exception)]
    errors = [e for e in errors if e.__module__ == "claimflow.errors"]
    assert len(errors) > 15
    for error in errors:
        assert issubclass(error, claimflow.ClaimflowError), error
        assert error.__name__.endswith("Error"), error
        assert error.__name__ in claimflow.__all__, f"{error.__name__} is not exported"
        assert error.error_code in OAUTH_CODES, error


def test_importing_the_workflow_api_does_not_import_boto3_or_requests() -> None:
    import os
    import subprocess
    import sys

    probe = "import sys, claimflow; print('boto3' in sys.modules, 'requests' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env).stdout.split()
    assert out == ["False", "False"]
