"""Example M2M workflow: map the calling client to its organization through a third-party
lookup and stamp ``org_code`` on the M2M token; deny clients the directory does not know."""

import os

from claimflow import (
    EventView,
    WorkflowSettings,
    WorkflowTrigger,
    create_handler,
    deny_access,
    fetch,
    m2m_token_claims,
)

workflow_settings = WorkflowSettings(
    id="mapClientToOrganization",
    name="Stamp the M2M client's organization on its token",
    trigger=WorkflowTrigger.M2MTokenGeneration,
    bindings={
        "kinde.m2mToken": {},
        "kinde.fetch": {},
        "kinde.auth": {},
        "url": {},
    },
)


def map_client_to_organization(event: EventView) -> None:
    m2m_token = m2m_token_claims()

    client_id = event.context.application.clientId
    directory_entry = fetch(
        f"{os.environ.get('API_BASE_URL', 'https://my-website.com')}/api/clients/{client_id}",
        {"method": "GET", "responseFormat": "json"},
    )
    if directory_entry.status == 404:
        deny_access(f"client {client_id} is not registered with an organization")
        return
    directory_entry.raise_for_status()  # an outage is a failure, never a denial

    m2m_token.org_code = directory_entry.data["org_code"]


lambda_handler = create_handler(workflow_settings, map_client_to_organization)
