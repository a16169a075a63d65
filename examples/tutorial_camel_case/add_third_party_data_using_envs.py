"""The tutorial's second workflow in the seed's own spelling (``claimflow.kinde``): the API key
comes from ``getEnvironmentVariable`` (SSM; a SecureString is redacted in logs). As in the first,
a 404 is "no such record" and any other error status (a wrong key's 401) fails the workflow."""

import os

from claimflow.kinde import (
    WorkflowSettings,
    WorkflowTrigger,
    accessTokenCustomClaims,
    console,
    create_handler,
    fetch,
    getEnvironmentVariable,
    onUserTokenGeneratedEvent,
)

workflowSettings = WorkflowSettings(
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


async def FetchThirdPartyDataWorkflow(event: onUserTokenGeneratedEvent) -> None:
    accessToken = accessTokenCustomClaims()

    apiKeyVariable = getEnvironmentVariable("API_KEY")  # TypeScript: getEnvironmentVariable("API_KEY")?.value
    apiKey = apiKeyVariable["value"] if apiKeyVariable else None
    if not apiKey:
        console.error("API_KEY environment variable is not set")
        return

    loggedInUserId = event.context.user.id
    response = await fetch(
        f"{os.environ.get('API_BASE_URL', 'https://my-website.com')}/api/user/{loggedInUserId}",
        {
            "method": "GET",
            "responseFormat": "json",
            "headers": {
                "Authorization": f"Bearer {apiKey}",
                "Content-Type": "application/json",
            },
        },
    )
    if response["status"] == 404:  # no such record: not a subscriber
        accessToken.lifetime_subscriber = False
        return
    userData = response.raise_for_status()["data"]  # any other error status is a failure, never a claim

    accessToken.lifetime_subscriber = userData.get("lifetime_subscriber") or False


lambda_handler = create_handler(workflowSettings, FetchThirdPartyDataWorkflow)
