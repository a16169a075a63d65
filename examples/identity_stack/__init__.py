"""A small example identity stack: an OAuth 2.0 token endpoint for the client-credentials
grant that asks claimflow's issuer for the token, and the check a resource server makes."""
