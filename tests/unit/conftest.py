"""Unit tier: fakes only, no network. Any socket a test opens fails it."""

from pytest_socket import disable_socket, enable_socket


def pytest_runtest_setup() -> None:
    disable_socket(allow_unix_socket=True)


def pytest_runtest_teardown() -> None:
    enable_socket()
