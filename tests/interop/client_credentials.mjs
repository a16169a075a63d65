// openid-client discovers the issuer (RFC 8414 metadata: the issuer serves no authorization
// endpoint, so OpenID Connect discovery would not be true) and performs a client-credentials
// grant against the token endpoint the metadata names. Nothing is patched by hand.
// usage: node client_credentials.mjs <issuer> <client_id> <client_secret> <scope>
import * as client from "openid-client";

const [issuer, clientId, secret, scope] = process.argv.slice(2);
const config = await client.discovery(new URL(issuer), clientId, secret, client.ClientSecretBasic(secret), {
  algorithm: "oauth2",
  execute: [client.allowInsecureRequests], // the local stack is plain HTTP on loopback
});
const tokens = await client.clientCredentialsGrant(config, { scope });
const metadata = config.serverMetadata();
console.log(JSON.stringify({
  token_endpoint: metadata.token_endpoint,
  jwks_uri: metadata.jwks_uri,
  access_token: tokens.access_token,
  token_type: tokens.token_type,
  expires_in: tokens.expiresIn(),
}));
