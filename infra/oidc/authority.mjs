// A real OIDC authority on this machine standing in for Entra ID in tests and `make run`:
// oauth2-mock-server over HTTPS (MSAL refuses http authorities) with a real RS256 key and JWKS.
// Tokens look like Entra v2 access tokens: the issuer is `<origin>/<tid>/v2.0`, and a token
// request may carry extra claims as JSON in a `claims` form field (tests mint users with it).
import { OAuth2Server, Events } from 'oauth2-mock-server';

const [port, keyFile, certFile] = process.argv.slice(2);
const origin = `https://127.0.0.1:${port}`;
const server = new OAuth2Server(keyFile, certFile);
await server.issuer.keys.generate('RS256');

server.service.on(Events.BeforeTokenSigning, (token, req) => {
  const extra = req.body && req.body.claims ? JSON.parse(req.body.claims) : {};
  Object.assign(token.payload, extra);
  for (const [name, value] of Object.entries(token.payload)) {
    if (value === null) delete token.payload[name];
  }
  if (token.payload.tid && !('iss' in extra)) {
    token.payload.iss = `${origin}/${token.payload.tid}/v2.0`;
  }
});

await server.start(Number(port), '127.0.0.1');
server.issuer.url = origin; // the mock would say "localhost"; tokens and discovery use the address we serve
console.log(`authority listening on ${origin}`);
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, async () => {
    await server.stop();
    process.exit(0);
  });
}
