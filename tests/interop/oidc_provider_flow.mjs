// A relying party nobody here wrote (openid-client 6) against node-oidc-provider whose tokens
// carry claimflow's claims: authorization code with PKCE (the login and consent screens driven
// programmatically through the provider's dev interactions), client credentials for a client the
// directory knows and one it does not, each verified with jose against the provider's JWKS.
// Prints one JSON line. Environment: PROVIDER, PLAIN_PROVIDER (the same provider without the hook),
// REDIRECT_URI, SUBJECT (a lifetime subscriber at the third party), RESOURCE.
import * as client from "openid-client";
import { createRemoteJWKSet, jwtVerify } from "jose";

const provider = new URL(process.env.PROVIDER);
const redirectUri = process.env.REDIRECT_URI;
const subject = process.env.SUBJECT;
const resource = process.env.RESOURCE;
const insecure = { execute: [client.allowInsecureRequests] };

const cookies = new Map();
function remember(response) {
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(";");
    const [name, ...value] = pair.split("=");
    cookies.set(name.trim(), value.join("="));
  }
}
async function step(url, init = {}) {
  const headers = { ...(init.headers ?? {}), cookie: [...cookies].map(([k, v]) => `${k}=${v}`).join("; ") };
  const response = await fetch(url, { ...init, headers, redirect: "manual" });
  remember(response);
  return response;
}
async function submit(location, fields) {
  const url = new URL(location, provider);
  return step(url, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(fields),
  });
}

async function authorizationCode() {
  const config = await client.discovery(provider, "app", "app-secret", client.ClientSecretBasic("app-secret"), insecure);
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: "openid subscription read:reports",
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
  });
  let response = await step(url);
  let callback = null;
  for (let hops = 0; hops < 12 && !callback; hops++) {
    const location = response.headers.get("location");
    if (!location) throw new Error(`the provider answered ${response.status} without a redirect`);
    if (location.startsWith(redirectUri)) callback = location;
    else if (location.includes("/interaction/")) {
      const page = await step(new URL(location, provider));
      const html = await page.text();
      response = html.includes('name="login"')
        ? await submit(location, { prompt: "login", login: subject, password: "any" })
        : await submit(location, { prompt: "consent" });
    } else response = await step(new URL(location, provider));
  }
  const tokens = await client.authorizationCodeGrant(config, new URL(callback), { pkceCodeVerifier: verifier, expectedState: state });
  const jwks = createRemoteJWKSet(new URL("/jwks", provider));
  const access = await jwtVerify(tokens.access_token, jwks, { issuer: provider.href.replace(/\/$/, ""), audience: resource });
  return { access: access.payload, id: tokens.claims() };
}

async function clientCredentials(base, clientId) {
  const config = await client.discovery(base, clientId, "m2m-secret", client.ClientSecretBasic("m2m-secret"), insecure);
  try {
    const tokens = await client.clientCredentialsGrant(config, { scope: "read:reports", resource });
    const jwks = createRemoteJWKSet(new URL("/jwks", base));
    const { payload } = await jwtVerify(tokens.access_token, jwks, { audience: resource });
    return { ok: true, claims: payload, started: 0 };
  } catch (error) {
    return { ok: false, error: error.error ?? error.code ?? String(error), description: error.error_description ?? error.message };
  }
}

async function p50(base, clientId, count) {
  const config = await client.discovery(base, clientId, "m2m-secret", client.ClientSecretBasic("m2m-secret"), insecure);
  await client.clientCredentialsGrant(config, { scope: "read:reports", resource }); // warm
  const samples = [];
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    await client.clientCredentialsGrant(config, { scope: "read:reports", resource });
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

const code = await authorizationCode();
const known = await clientCredentials(provider, "m2m_3c9e2a7f41d8");
const unknown = await clientCredentials(provider, "m2m_unknown");
const withHook = await p50(provider, "m2m_3c9e2a7f41d8", 30);
const withoutHook = await p50(new URL(process.env.PLAIN_PROVIDER), "m2m_3c9e2a7f41d8", 30);
console.log(JSON.stringify({ code, known, unknown, latency_ms: { with_hook_p50: withHook, without_hook_p50: withoutHook } }));
