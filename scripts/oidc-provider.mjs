// A real OpenID Connect provider for the tests of staff sign-in (npm package oidc-provider).
//
//   node scripts/oidc-provider.mjs [redirect_uri]
//
// Listens on 127.0.0.1 on a free port and prints its issuer URL as the first line on stdout.
// One client: id "rathaus-test", secret "rathaus-test-secret", authorization code flow with PKCE,
// the given redirect URI (default http://127.0.0.1:8080/verwaltung/oidc/callback). Its login form
// accepts any login and password (oidc-provider's development interactions): the login becomes
// the subject, and if it looks like an e-mail address also the (verified) e-mail claim. It asserts
// no multi-factor login (no amr "mfa"), so rathaus asks for the TOTP code after it. Runs until
// stdin closes or it is killed.
// Test fixtures only: nothing here is a secret.

import { createServer } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// stdout carries only the issuer line: oidc-provider's notices go to stderr, and a reader that
// stops listening does not bring the provider down.
console.log = console.error;
console.info = console.error;
process.stdout.on('error', () => {});

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', 'web', 'package.json'));
const { default: Provider } = await import(require.resolve('oidc-provider'));

const redirectUri = process.argv[2] || 'http://127.0.0.1:8080/verwaltung/oidc/callback';
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', use: 'sig', alg: 'RS256' };

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

function account(id) {
  const login = id;
  return {
    accountId: id,
    async claims() {
      const c = { sub: id };
      if (login.includes('@')) {
        c.email = login;
        c.email_verified = true;
      }
      return c;
    },
  };
}

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'rathaus-test',
    client_secret: 'rathaus-test-secret',
    redirect_uris: [redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
  }],
  jwks: { keys: [jwk] },
  cookies: { keys: ['rathaus-oidc-test-cookie-key'] },
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  // Put the e-mail claims into the ID token, as common providers do.
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  findAccount: async (_ctx, id) => account(id),
  // Consent is implied for the test client, so the flow is: login form, then back to rathaus.
  async loadExistingGrant(ctx) {
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope('openid email');
    grant.addOIDCClaims(['email', 'email_verified']);
    await grant.save();
    return grant;
  },
});
// Not a production deployment: plain http on loopback.
provider.proxy = false;
server.on('request', provider.callback());

process.stdout.write(`${issuer}\n`);
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
