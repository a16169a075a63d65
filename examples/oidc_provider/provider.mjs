// node-oidc-provider, with claimflow's workflows adding claims to the tokens it signs.
//
// extraTokenClaims (access tokens, client credentials) and findAccount's claims() (the ID token)
// call claimflow's generic claims hook: a claimflow token request, HMAC-signed with the hook's
// secret (X-Claimflow-Signature: t=<seconds>,v1=<HMAC-SHA256(secret, "<t>.<body>")>). A workflow's
// deny_access becomes an OAuth access_denied at this provider's token endpoint; a failure a
// server_error. One hook call per token request serves both tokens.
//
// Environment: PORT, CLAIMFLOW_HOOK_URL (…/hooks/generic; empty: no hook, for comparison),
// CLAIMFLOW_HOOK_SECRET, REDIRECT_URI (the relying party's), RESOURCE (the API's audience).
import { createHmac, randomUUID } from "node:crypto";
import Provider, { errors } from "oidc-provider";

const port = Number(process.env.PORT ?? 3100);
const issuer = `http://127.0.0.1:${port}`;
const hookUrl = process.env.CLAIMFLOW_HOOK_URL ?? "";
const hookSecret = process.env.CLAIMFLOW_HOOK_SECRET ?? "";
const resource = process.env.RESOURCE ?? "https://api.example.com/v1";
const redirectUri = process.env.REDIRECT_URI ?? "http://127.0.0.1:8080/cb";

const answers = new WeakMap(); // ctx -> the hook's answer for this request (one call per request)

async function hookClaims(ctx, request) {
  if (!hookUrl) return {};
  if (!answers.has(ctx)) answers.set(ctx, callHook(request));
  return answers.get(ctx);
}

async function callHook(request) {
  // correlation_id: the hook refuses a signature it has seen, so each call differs; its logs carry it too.
  const body = JSON.stringify({ contract: "claimflow.token-request/v1", correlation_id: randomUUID(), ...request });
  const t = Math.floor(Date.now() / 1000);
  const signature = createHmac("sha256", hookSecret).update(`${t}.${body}`).digest("hex");
  const response = await fetch(hookUrl, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Claimflow-Signature": `t=${t},v1=${signature}` },
    body,
    signal: AbortSignal.timeout(5000),
  });
  const answer = await response.json();
  if (response.status === 403) throw new errors.AccessDenied(answer.error_description);
  if (!response.ok) throw new Error(`claims hook answered ${response.status}: ${answer.error_description}`);
  return answer.claims;
}

function scopes(value) {
  return (value ?? "").split(" ").filter(Boolean);
}

const configuration = {
  clients: [
    {
      client_id: "app",
      client_secret: "app-secret",
      redirect_uris: [redirectUri],
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
    // Known to the M2M example's directory: mapClientToOrganization stamps its org_code.
    { client_id: "m2m_3c9e2a7f41d8", client_secret: "m2m-secret", grant_types: ["client_credentials"], redirect_uris: [], response_types: [] },
    // Unknown to it: the workflow denies access.
    { client_id: "m2m_unknown", client_secret: "m2m-secret", grant_types: ["client_credentials"], redirect_uris: [], response_types: [] },
  ],
  pkce: { methods: ["S256"], required: () => true },
  scopes: ["openid", "subscription", "read:reports"],
  claims: { openid: ["sub"], subscription: ["lifetime_subscriber"] },
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => resource,
      useGrantedResource: () => true,
      getResourceServerInfo: () => ({ scope: "read:reports", audience: resource, accessTokenFormat: "jwt" }),
    },
  },
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims(use, scope) {
        if (use !== "id_token" || !ctx.oidc.client) return { sub };
        const claims = await hookClaims(ctx, {
          trigger: "user:tokens_generation",
          subject: sub,
          client_id: ctx.oidc.client.clientId,
          audience: [resource],
          scope: scopes(scope),
        });
        // This provider shows the workflows' access-token claims in the ID token too, where a scope asks for them.
        return { sub, ...(claims.access_token ?? {}), ...(claims.id_token ?? {}) };
      },
    };
  },
  async extraTokenClaims(ctx, token) {
    if (token.kind === "ClientCredentials") {
      const claims = await hookClaims(ctx, {
        trigger: "m2m:token_generation",
        client_id: token.clientId,
        audience: [resource],
        scope: scopes(token.scope),
      });
      return claims.m2m_token;
    }
    const claims = await hookClaims(ctx, {
      trigger: "user:tokens_generation",
      subject: token.accountId,
      client_id: token.clientId,
      audience: [resource],
      scope: scopes(token.scope).filter((s) => s !== "offline_access"),
    });
    return claims.access_token;
  },
};

const provider = new Provider(issuer, configuration);
provider.proxy = false;
provider.listen(port, "127.0.0.1", () => {
  console.log(JSON.stringify({ listening: issuer, hook: hookUrl || null }));
});
