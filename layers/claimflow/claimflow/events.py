"""The event a workflow receives, with attribute access and the seed's field names.

``event.context.user.id`` works; reading a field the event lacks raises ``EventFieldError``
naming the path and the fields that are there, instead of a bare ``KeyError`` deep inside.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from claimflow.errors import EventFieldError

__all__ = ["EventView"]


def _view(value: Any, path: str) -> Any:
    if isinstance(value, Mapping):
        return EventView(value, path=path)
    if isinstance(value, list):
        return tuple(_view(item, f"{path}[{i}]") for i, item in enumerate(value))
    return value


class EventView(Mapping[str, Any]):
    """A read-only view of a JSON object; fields by attribute or by key."""

    __slots__ = ("_data", "_path")

    def __init__(self, data: Mapping[str, Any], *, path: str = "event") -> None:
        self._data = data
        self._path = path

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return _view(self._data[name], f"{self._path}.{name}")
        except KeyError:
            present = ", ".join(sorted(self._data)) or "nothing"
            raise EventFieldError(f"{self._path}.{name} is not in this event ({self._path} has: {present})") from None

    def __getitem__(self, name: str) -> Any:
        return self.__getattr__(name)

    def get(self, name: str, default: Any = None) -> Any:
        return _view(self._data[name], f"{self._path}.{name}") if name in self._data else default

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def to_dict(self) -> dict[str, Any]:
        return dict(self._data)

    def __repr__(self) -> str:
        return f"EventView({self._path}: {dict(self._data)!r})"
