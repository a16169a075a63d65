"""The seed's first workflow: add third-party data to the access token.

Ported line by line from the tutorial, but for the answer's status: the seed's fetch returns
any status as data, so a 401 or a 500 with a JSON body would read as
``lifetime_subscriber=false`` for a real subscriber. Here a 404 is "no such record" (not a
subscriber) and any other error status fails the workflow (its failure policy decides).
The third party's base URL comes from the ``API_BASE_URL`` setting (template parameter
``ThirdPartyApiUrl``) so tests and the demo can point it at a loopback stand-in.
"""

import os

from claimflow import (
    EventView,
    WorkflowSettings,
    WorkflowTrigger,
    access_token_custom_claims,
    create_handler,
    fetch,
)

workflow_settings = WorkflowSettings(
    id="addThirdPartyDataToAccessToken",
    name="Add third party data to access token",
    trigger=WorkflowTrigger.UserTokenGeneration,
    bindings={
        "kinde.accessToken": {},
        "kinde.fetch": {},
        "url": {},
    },
)


def fetch_third_party_data_workflow(event: EventView) -> None:
    access_token = access_token_custom_claims()

    logged_in_user_id = event.context.user.id
    response = fetch(
        f"{os.environ.get('API_BASE_URL', 'https://my-website.com')}/api/user/{logged_in_user_id}",
        method="GET",
        response_format="json",
        headers={
            "Content-Type": "application/json",
        },
    )
    if response.status == 404:  # no such record: not a subscriber
        access_token.lifetime_subscriber = False
        return
    user_data = response.raise_for_status().data  # any other error status is a failure, never a claim

    access_token.lifetime_subscriber = user_data.get("lifetime_subscriber") or False


lambda_handler = create_handler(workflow_settings, fetch_third_party_data_workflow)
