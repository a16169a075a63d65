"""The seed's first workflow: add third-party data to the access token.

Ported line by line from the tutorial. The third party's base URL comes from the
``API_BASE_URL`` setting (template parameter ``ThirdPartyApiUrl``) so tests and the demo can
point it at a loopback stand-in.
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
    user_data = fetch(
        f"{os.environ.get('API_BASE_URL', 'https://my-website.com')}/api/user/{logged_in_user_id}",
        method="GET",
        response_format="json",
        headers={
            "Content-Type": "application/json",
        },
    ).data

    access_token.lifetime_subscriber = user_data.get("lifetime_subscriber") or False


lambda_handler = create_handler(workflow_settings, fetch_third_party_data_workflow)
