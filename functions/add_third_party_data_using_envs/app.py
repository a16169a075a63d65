"""The seed's second workflow: the same lookup, authenticated with an API key from the
environment variables (``kinde.env``: SSM Parameter Store, the key a SecureString).

Ported line by line from the tutorial.
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
    user_data = fetch(
        f"{os.environ.get('API_BASE_URL', 'https://my-website.com')}/api/user/{logged_in_user_id}",
        method="GET",
        response_format="json",
        headers={
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
        },
    ).data

    access_token.lifetime_subscriber = user_data.get("lifetime_subscriber") or False


lambda_handler = create_handler(workflow_settings, fetch_third_party_data_workflow)
