"""The event reads as the seed's: a field the trigger's event may lack reads as None (the seed's
``?.``); a name the event can never hold is a clear error naming the fields there are."""

import pytest

from claimflow import EventFieldError, EventView
from claimflow.triggers import WorkflowTrigger
from claimflow.wire.contracts import event_shape
from tests.support import sample

USER_SHAPE = event_shape(WorkflowTrigger.UserTokenGeneration.value)
M2M_SHAPE = event_shape(WorkflowTrigger.M2MTokenGeneration.value)


def user_event(**context: object) -> EventView:
    return EventView({"request": {}, "context": {"user": {"id": "u"}, **context}}, shape=USER_SHAPE)


def test_seed_field_names_read_by_attribute() -> None:
    event = EventView(sample("workflow.addThirdPartyDataToAccessToken.json")["event"], shape=USER_SHAPE)
    assert event.context.user.id == "kp_6a0713b9e5d14c3e9a2f0c4d8b7e1f21"
    assert event.context.application.clientId == "f77dbc2e9a104b6e8c3d5a7b9e1f2c4d"
    assert event.request.auth.audience == ("https://api.example.com/v1",)
    assert event["context"]["workflow"]["trigger"] == "user:tokens_generation"


@pytest.mark.parametrize(
    "read",
    [
        lambda e: e.context.organization,
        lambda e: e.request.userAgent,
        lambda e: e.request.ip,
        lambda e: e.context.auth,
        lambda e: e.context.user.identityId,
        lambda e: e["context"]["organization"],
    ],
)
def test_an_absent_optional_field_reads_as_none(read) -> None:  # type: ignore[no-untyped-def]
    assert read(user_event()) is None


def test_the_seed_optional_chain_ports_as_a_conditional() -> None:
    for event, expected in ((user_event(), None), (user_event(organization={"code": "org_1"}), "org_1")):
        organization = event.context.organization
        assert (organization.code if organization else None) == expected


def test_a_misspelled_field_names_its_path_and_the_fields_there_are() -> None:
    with pytest.raises(EventFieldError) as raised:
        _ = user_event().context.organisation
    message = str(raised.value)
    assert message.startswith("event.context.organisation is not a field of this event")
    assert "application, auth, domains, organization, user, workflow" in message


def test_a_field_of_the_other_trigger_is_an_error_not_none() -> None:
    event = EventView({"request": {"auth": {"audience": []}}, "context": {}}, shape=M2M_SHAPE)
    with pytest.raises(EventFieldError, match=r"event\.context\.user is not a field"):
        _ = event.context.user


def test_without_a_shape_every_absent_field_is_an_error() -> None:
    event = EventView({"context": {"user": {"id": "u"}}})
    with pytest.raises(
        EventFieldError, match=r"event\.context\.organization is not a field of this event \(event\.context has: user\)"
    ):
        _ = event.context.organization
    assert event.context.get("organization") is None
    assert getattr(event.context, "organization", "none") == "none"
