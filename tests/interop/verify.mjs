// jose verifies an access token as a resource server would (RFC 9068 §4): the JWKS from the
// issuer's jwks_uri, a fixed algorithm, typ at+jwt, issuer and audience.
// usage: node verify.mjs <token> <jwks_uri> <issuer> <audience> <alg>
import * as jose from "jose";

const [token, jwksUri, issuer, audience, alg] = process.argv.slice(2);
const jwks = jose.createRemoteJWKSet(new URL(jwksUri));
const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, {
  issuer,
  audience,
  algorithms: [alg],
  typ: "at+jwt",
});
console.log(JSON.stringify({ header: protectedHeader, claims: payload }));
