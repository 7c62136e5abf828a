// A real OIDC authority on this machine standing in for Entra ID in tests and `make run`:
// oauth2-mock-server over HTTPS (MSAL refuses http authorities) with a real RS256 key and JWKS.
// Minted access tokens (client_credentials) look like Entra v2 access tokens: the issuer is
// `<origin>/<tid>/v2.0`, and extra claims come as JSON in a `claims` form field (tests mint users
// with it). Sign-ins (authorization code) sign in whoever the `login_hint` names, as
// `<oid>@<tid>` or `<oid>@<tid>#<Role>,<Role>` (default `developer@local#Hub.User,Hub.Admin`): the
// id token then carries oid, tid, roles and preferred_username like an Entra one.
import http from 'node:http';
import { OAuth2Server, Events } from 'oauth2-mock-server';

// With a browser port, the sign-in page is also served over plain http there, so a real browser
// (an IDE's sign-in with `make run`) does not stop at the self-signed certificate; MSAL and the
// hub still use https.
const [port, keyFile, certFile, browserPort] = process.argv.slice(2);
const origin = `https://127.0.0.1:${port}`;
// Sign-ins go through MSAL, which wants an authority with a path: `<origin>/oidc` is it, with its
// discovery document there; the other endpoints stay where the mock serves them.
const authority = `${origin}/oidc`;
const server = new OAuth2Server(keyFile, certFile, {
  endpoints: { wellKnownDocument: '/oidc/.well-known/openid-configuration' },
});
await server.issuer.keys.generate('RS256');

const signedIn = new Map(); // authorization code -> login hint
const refreshedBy = new Map(); // refresh token this authority issued -> login hint
// What an administrator changed since sign-in: account (`<oid>@<tid>`) -> { roles, disabled }.
// Tests set it with POST /test/accounts (a JSON body), as an Entra admin would in the portal.
const accounts = new Map();

server.service.on(Events.BeforeWellKnownOpenIdConfiguration, (configuration) => {
  configuration.body.issuer = authority;
  if (browserPort) configuration.body.authorization_endpoint = `http://127.0.0.1:${browserPort}/authorize`;
});

server.service.on(Events.BeforeAuthorizeRedirect, (redirect, req) => {
  const code = redirect.url.searchParams.get('code');
  if (code) signedIn.set(code, req.query.login_hint || 'developer@local#Hub.User,Hub.Admin');
});

function userClaims(hint) {
  const [account, roles] = hint.split('#');
  const [oid, tid] = account.split('@');
  const changed = accounts.get(account) || {};
  const assigned = changed.roles ?? (roles ? roles.split(',') : ['Hub.User']);
  return { oid, tid, preferred_username: account, name: oid, roles: assigned };
}

// Refresh tokens work like Entra's: a refresh gives an ID token with the account's roles as they
// are now, and is refused (invalid_grant) once the account is disabled.
server.service.on(Events.BeforeResponse, (response, req) => {
  const body = req.body || {};
  let hint;
  if (body.grant_type === 'authorization_code') hint = signedIn.get(body.code);
  if (body.grant_type === 'refresh_token') {
    hint = refreshedBy.get(body.refresh_token);
    if (!hint || accounts.get(hint.split('#')[0])?.disabled) {
      response.statusCode = 400;
      response.body = { error: 'invalid_grant', error_description: 'AADSTS50057: The user account is disabled.' };
      return;
    }
  }
  if (hint && response.body.refresh_token) refreshedBy.set(response.body.refresh_token, hint);
});

server.service.addRoute('POST', '/test/accounts', async (req, res) => {
  const { account, roles, disabled } = req.body || {};
  accounts.set(account, { roles: roles ?? undefined, disabled: Boolean(disabled) });
  res.writeHead(204);
  res.end();
});

server.service.on(Events.BeforeTokenSigning, (token, req) => {
  const body = req.body || {};
  if (body.grant_type === 'authorization_code' && signedIn.has(body.code)) {
    Object.assign(token.payload, userClaims(signedIn.get(body.code)), { iss: authority });
    return;
  }
  if (body.grant_type === 'refresh_token' && refreshedBy.has(body.refresh_token)) {
    Object.assign(token.payload, userClaims(refreshedBy.get(body.refresh_token)), { iss: authority });
    return;
  }
  const extra = body.claims ? JSON.parse(body.claims) : {};
  Object.assign(token.payload, extra);
  for (const [name, value] of Object.entries(token.payload)) {
    if (value === null) delete token.payload[name];
  }
  if (token.payload.tid && !('iss' in extra)) {
    token.payload.iss = `${origin}/${token.payload.tid}/v2.0`;
  }
});

await server.start(Number(port), '127.0.0.1');
const browserServer = browserPort ? http.createServer(server.service.requestHandler) : null;
if (browserServer) await new Promise((resolve) => browserServer.listen(Number(browserPort), '127.0.0.1', resolve));
server.issuer.url = origin; // the mock would say "localhost"; tokens and discovery use the address we serve
console.log(`authority listening on ${origin}`);
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, async () => {
    browserServer?.close();
    await server.stop();
    process.exit(0);
  });
}
