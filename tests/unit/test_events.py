"""The event reads as the seed's, and a missing field is a clear error."""

import pytest

from claimflow import EventFieldError, EventView
from tests.support import sample


def test_seed_field_names_read_by_attribute() -> None:
    event = EventView(sample("workflow.addThirdPartyDataToAccessToken.json")["event"])
    assert event.context.user.id == "kp_6a0713b9e5d14c3e9a2f0c4d8b7e1f21"
    assert event.context.application.clientId == "f77dbc2e9a104b6e8c3d5a7b9e1f2c4d"
    assert event.request.auth.audience == ("https://api.example.com/v1",)
    assert event["context"]["workflow"]["trigger"] == "user:tokens_generation"


def test_a_missing_field_names_its_path_and_what_is_there() -> None:
    event = EventView({"context": {"user": {"id": "u"}}})
    with pytest.raises(EventFieldError, match=r"event\.context\.organization is not in this event \(event\.context has: user\)"):
        _ = event.context.organization


def test_optional_fields_read_with_get_and_getattr_defaults() -> None:
    event = EventView({"context": {}})
    assert event.context.get("organization") is None
    assert getattr(event.context, "organization", "none") == "none"
