"""The event a workflow receives, with attribute access and the seed's field names.

``event.context.user.id`` works. A field the seed's event may lack (``context.organization``,
``request.userAgent``) reads as None when absent, as JavaScript's ``?.`` does; a name the event
can never hold (a typo) raises ``EventFieldError`` naming the path and the fields there are,
instead of a bare ``KeyError`` deep inside, or a silent None.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

from claimflow.errors import EventFieldError

__all__ = ["EventView"]

_FREE_FORM: Mapping[str, Any] = {}


def _view(value: Any, shape: Mapping[str, Any], path: str) -> Any:
    if isinstance(value, Mapping):
        return EventView(value, shape=shape, path=path)
    if isinstance(value, list):
        items = shape.get("items", _FREE_FORM)
        return tuple(_view(item, items, f"{path}[{i}]") for i, item in enumerate(value))
    return value


class EventView(Mapping[str, Any]):
    """A read-only view of a JSON object; fields by attribute or by key.

    ``shape`` is the JSON Schema of the object (the invocation schema's event for the trigger):
    its ``properties`` are the fields that may be absent and read as None. Without a shape,
    every absent field is an error.
    """

    __slots__ = ("_data", "_path", "_shape")

    def __init__(self, data: Mapping[str, Any], *, shape: Mapping[str, Any] = _FREE_FORM, path: str = "event") -> None:
        self._data = data
        self._shape = shape
        self._path = path

    def _field(self, name: str) -> Mapping[str, Any] | None:
        fields: Mapping[str, Any] = self._shape.get("properties", _FREE_FORM)
        return fields.get(name)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        shape = self._field(name)
        if name in self._data:
            return _view(self._data[name], shape or _FREE_FORM, f"{self._path}.{name}")
        if shape is not None:
            return None  # a field this event may lack, as the seed's ``?.`` reads it
        known = sorted(set(self._data) | set(self._shape.get("properties", _FREE_FORM)))
        raise EventFieldError(
            f"{self._path}.{name} is not a field of this event ({self._path} has: {', '.join(known) or 'nothing'})"
        )

    def __getitem__(self, name: str) -> Any:
        return self.__getattr__(name)

    def get(self, name: str, default: Any = None) -> Any:
        return self.__getattr__(name) if name in self._data else default

    def __contains__(self, name: object) -> bool:
        return name in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def to_dict(self) -> dict[str, Any]:
        """A deep copy: changing it changes nothing another workflow (or the issuer) sees."""
        return copy.deepcopy(dict(self._data))

    def __repr__(self) -> str:
        return f"EventView({self._path}: {dict(self._data)!r})"
