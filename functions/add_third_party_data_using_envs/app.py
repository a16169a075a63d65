"""The seed's second workflow: the same lookup, authenticated with an API key from the
environment variables (``kinde.env``: SSM Parameter Store, the key a SecureString).

Ported line by line from the tutorial, but for the answer's status: a 404 is "no such record"
(not a subscriber) and any other error status (a 401 for a wrong key, a 500) fails the workflow,
where the seed's fetch would read its JSON body as ``lifetime_subscriber=false``.
"""

import os

from claimflow import (
    EventView,
    WorkflowSettings,
    WorkflowTrigger,
    access_token_custom_claims,
    console,
    create_handler,
    fetch,
    get_environment_variable,
)

workflow_settings = WorkflowSettings(
    id="addThirdPartyDataUsingEnvs",
    name="Add third party data to access token using environment variables",
    trigger=WorkflowTrigger.UserTokenGeneration,
    bindings={
        "kinde.accessToken": {},
        "kinde.fetch": {},
        "kinde.env": {},
        "url": {},
    },
)


def fetch_third_party_data_workflow(event: EventView) -> None:
    access_token = access_token_custom_claims()

    api_key_variable = get_environment_variable("API_KEY")
    api_key = api_key_variable.value if api_key_variable else None
    if not api_key:
        console.error("API_KEY environment variable is not set")
        return

    logged_in_user_id = event.context.user.id
    response = fetch(
        f"{os.environ.get('API_BASE_URL', 'https://my-website.com')}/api/user/{logged_in_user_id}",
        method="GET",
        response_format="json",
        headers={
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
        },
    )
    if response.status == 404:  # no such record: not a subscriber
        access_token.lifetime_subscriber = False
        return
    user_data = response.raise_for_status().data  # any other error status is a failure, never a claim

    access_token.lifetime_subscriber = user_data.get("lifetime_subscriber") or False


lambda_handler = create_handler(workflow_settings, fetch_third_party_data_workflow)
