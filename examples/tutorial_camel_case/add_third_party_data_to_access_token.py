"""The tutorial's first workflow in the seed's own spelling (``claimflow.kinde``): each line
is the TypeScript line it ports, Python's syntax aside. Deploys as functions/*/app.py does."""

import os

from claimflow.kinde import (
    WorkflowSettings,
    WorkflowTrigger,
    accessTokenCustomClaims,
    create_handler,
    fetch,
    onUserTokenGeneratedEvent,
)

workflowSettings = WorkflowSettings(
    id="addThirdPartyDataToAccessToken",
    name="Add third party data to access token",
    trigger=WorkflowTrigger.UserTokenGeneration,
    bindings={
        "kinde.accessToken": {},
        "kinde.fetch": {},
        "url": {},
    },
)


async def FetchThirdPartyDataWorkflow(event: onUserTokenGeneratedEvent) -> None:
    accessToken = accessTokenCustomClaims()

    loggedInUserId = event.context.user.id
    userData = (
        await fetch(
            f"{os.environ.get('API_BASE_URL', 'https://my-website.com')}/api/user/{loggedInUserId}",
            {
                "method": "GET",
                "responseFormat": "json",
                "headers": {
                    "Content-Type": "application/json",
                },
            },
        )
    )["data"]

    accessToken.lifetime_subscriber = userData.get("lifetime_subscriber") or False


lambda_handler = create_handler(workflowSettings, FetchThirdPartyDataWorkflow)
