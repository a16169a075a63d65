"""The tutorial's first workflow in the seed's own spelling (``claimflow.kinde``): each line
is the TypeScript line it ports, Python's syntax aside, but for the answer's status, which the
tutorial's fetch leaves unread: a 404 is "no such record", any other error status a failure
(never ``lifetime_subscriber=false`` read from a 401 or 500 body). Deploys as functions/*/app.py does."""

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
    response = await fetch(
        f"{os.environ.get('API_BASE_URL', 'https://my-website.com')}/api/user/{loggedInUserId}",
        {
            "method": "GET",
            "responseFormat": "json",
            "headers": {
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
