// Staff sign-in through the operator's OpenID Connect provider, in Chromium: the real provider
// (npm oidc-provider, scripts/oidc-provider.mjs) on one port, rathaus on another. The browser, not a
// test cookie jar, decides whether the state cookie (`__Host-rh_oidc`) is kept and sent back on the
// provider's redirect: a `__Host-` cookie is dropped unless it has `Path=/`, `Secure` and no `Domain`.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import {
  REPO_ROOT, startServer, launchBrowser, newContext, freePort, demoStaffFromLog, navigate, checkA11y, pageProblems,
} from './harness.js';
import { totpAt } from './fixtures.js';

const CLERK = 'sachbearbeitung@panketal.example';
const h = { provider: null, issuer: null, server: null, browser: null };

/** Starts the provider for rathaus's callback and resolves with its issuer URL. */
function startProvider(redirectUri) {
  const child = spawn('node', [path.join(REPO_ROOT, 'scripts', 'oidc-provider.mjs'), redirectUri], {
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  h.provider = child;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the OIDC provider did not start')), 20_000);
    child.once('exit', (code) => reject(new Error(`the OIDC provider exited (${code})`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      resolve(line.trim());
    });
  });
}

before(async () => {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  h.issuer = await startProvider(`${base}/verwaltung/oidc/callback`);
  h.server = await startServer({
    name: 'rathaus-oidc',
    env: {
      RATHAUS_LISTEN: `127.0.0.1:${port}`,
      RATHAUS_PUBLIC_URL: base,
      RATHAUS_OIDC_ISSUER: h.issuer,
      RATHAUS_OIDC_CLIENT_ID: 'rathaus-test',
      RATHAUS_OIDC_CLIENT_SECRET: 'rathaus-test-secret',
    },
  });
  h.browser = await launchBrowser();
});

after(async () => {
  await h.browser?.close().catch(() => {});
  await h.server?.stop();
  h.provider?.kill();
});

test('a clerk signs in through the provider in Chromium, then gives the TOTP code', async () => {
  const clerk = (await demoStaffFromLog(h.server.logFile))[CLERK];
  assert.ok(clerk, 'the demo prints the Panketal clerk');
  const ctx = await newContext(h, 'desktop');
  const page = await ctx.newPage();
  await page.goto('/verwaltung/anmelden');
  await navigate(page, () => page.getByRole('link', { name: 'Mit dem Konto des Rechenzentrums anmelden' }).click());
  assert.ok(page.url().startsWith(h.issuer), `at the provider: ${page.url()}`);

  // The state cookie is one the browser accepted: for the whole site, Secure, HttpOnly.
  const state = (await ctx.cookies(h.server.url)).find((c) => c.name === '__Host-rh_oidc');
  assert.ok(state, 'Chromium kept the __Host- state cookie');
  assert.equal(state.path, '/');
  assert.ok(state.secure && state.httpOnly);
  assert.equal(state.sameSite, 'Lax');

  // The provider's own login form (development interactions), then its consent if it asks.
  await page.locator('input[name="login"]').fill(CLERK);
  await page.locator('input[name="password"]').fill('anything');
  await navigate(page, () => page.locator('button[type="submit"]').click());
  for (let i = 0; i < 3 && page.url().startsWith(h.issuer); i += 1) {
    await navigate(page, () => page.locator('button[type="submit"]').click());
  }

  // Back at rathaus (a same-site refresh after the callback, so that the SameSite=Strict session
  // cookie is sent): the provider asserted no multi-factor login, so the code is asked.
  await page.waitForURL((u) => u.pathname === '/verwaltung/anmelden/code');
  await page.locator('input[name="code"]').fill(totpAt(clerk.totp, Math.floor(Date.now() / 30_000)));
  await navigate(page, () => page.getByRole('button', { name: 'Bestätigen' }).click());
  assert.equal(new URL(page.url()).pathname, '/verwaltung');
  assert.match(await page.locator('main').innerText(), /Vorgänge/);
  const cookies = await ctx.cookies(h.server.url);
  assert.ok(cookies.some((c) => c.name === '__Host-rh_staff'), 'signed in: a staff session');
  assert.ok(!cookies.some((c) => c.name === '__Host-rh_oidc'), 'the one-time state cookie is gone');
  await checkA11y(page, 'office-oidc-home');
  const ours = pageProblems(page).filter((p) => p.includes(h.server.url));
  assert.deepEqual(ours, [], 'no console errors or failed requests on rathaus pages');
  await ctx.close();
});
