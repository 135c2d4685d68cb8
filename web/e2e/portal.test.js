// The citizen portal's public pages: start page, municipality pages, 404 — on a phone, with and
// without JavaScript, by keyboard only, with axe (WCAG 2.1 AA) on every page type.
//
// To cover a new page type, add a row to PAGES: it then gets an axe check, a keyboard walk and a
// screenshot on phone and desktop.

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  useHarness, phoneContext, desktopContext, noJsContext, checkA11y, screenshot, keyboardAudit, pageProblems, fontsLoaded,
} from './harness.js';

const h = useHarness();

/** Every page type: name (screenshot and report), path, expected status and h1. */
const PAGES = [
  { name: 'start', path: '/', status: 200, h1: 'Verwaltung online – zu jeder Tageszeit' },
  { name: 'municipality-panketal', path: '/panketal', status: 200, h1: 'Gemeinde Panketal' },
  { name: 'amt-niemegk', path: '/amt-niemegk', status: 200, h1: 'Amt Niemegk' },
  { name: 'member-niemegk', path: '/niemegk', status: 200, h1: 'Stadt Niemegk' },
  { name: 'not-found', path: '/gibt-es-nicht', status: 404, h1: 'Seite nicht gefunden' },
  { name: 'search-postcode', path: '/?q=16341', status: 200, h1: 'Verwaltung online – zu jeder Tageszeit' },
  { name: 'search-shared-postcode', path: '/?q=14823', status: 200, h1: 'Verwaltung online – zu jeder Tageszeit' },
  { name: 'service-start', path: '/panketal/maengelmelder', status: 200, h1: 'Mangel melden' },
  { name: 'accessibility', path: '/barrierefreiheit', status: 200, h1: 'Erklärung zur Barrierefreiheit' },
  { name: 'service-not-offered', path: '/panketal/hundesteuer', status: 404, h1: 'Seite nicht gefunden' },
  { name: 'disabled-municipality', path: '/cottbus-chosebuz', status: 404, h1: 'Seite nicht gefunden' },
  // The stateful pages of a service (steps, check, confirmation, status, save …): citizen.test.js.
];

const AMT_MEMBERS = ['Gemeinde Mühlenfließ', 'Stadt Niemegk', 'Gemeinde Planetal', 'Gemeinde Rabenstein/Fläming'];

/** Opens a path and checks status, h1 and that all CSS/fonts loaded without console errors. */
async function open(page, { path, status = 200, h1 }) {
  const response = await page.goto(path);
  assert.equal(response.status(), status, `status of ${path}`);
  if (h1) assert.equal((await page.locator('h1').innerText()).trim(), h1, `h1 of ${path}`);
  await fontsLoaded(page);
  assert.deepEqual(pageProblems(page), [], `no console errors or failed requests on ${path}`);
  return response;
}

async function assertStartPageLists(page) {
  const list = page.locator('main ul.rh-tenant-list');
  for (const title of ['Gemeinde Panketal', 'Stadt Bad Belzig', 'Amt Niemegk']) {
    await assert.doesNotReject(
      list.locator(':scope > li > a', { hasText: title }).waitFor({ timeout: 2000 }),
      `start page lists ${title}`,
    );
  }
  const amt = list.locator(':scope > li', { has: page.locator(':scope > a', { hasText: 'Amt Niemegk' }) });
  const members = (await amt.locator('ul a').allInnerTexts()).map((s) => s.trim());
  assert.deepEqual([...members].sort(), [...AMT_MEMBERS].sort(), 'Amt Niemegk lists its member municipalities');
}

/** Start page → Panketal → an unknown address, the way a citizen would go. */
async function citizenFlow(page) {
  await open(page, PAGES[0]);
  await assertStartPageLists(page);
  await Promise.all([page.waitForURL('**/panketal'), page.getByRole('link', { name: 'Gemeinde Panketal' }).click()]);
  assert.equal((await page.locator('h1').innerText()).trim(), 'Gemeinde Panketal');
  assert.match(await page.title(), /^Gemeinde Panketal – /);
  assert.match(await page.locator('main').innerText(), /Schönerlinder Straße 47/);
  // The header brand leads back to the municipality, the footer to all municipalities.
  await Promise.all([page.waitForURL((u) => u.pathname === '/'), page.locator('footer').getByRole('link', { name: 'Alle Kommunen' }).click()]);

  await open(page, PAGES[4]);
  await Promise.all([page.waitForURL((u) => u.pathname === '/'), page.getByRole('link', { name: 'Zur Startseite' }).click()]);
  assert.equal((await page.locator('h1').innerText()).trim(), PAGES[0].h1);
}

/** From the top of a page: Tab reaches the skip link first, visibly; Enter moves focus into main. */
async function skipLinkFlow(page, path = '/') {
  await page.goto(path);
  await page.keyboard.press('Tab');
  const first = await page.evaluate(() => {
    const el = document.activeElement;
    const r = el.getBoundingClientRect();
    return { text: el.innerText.trim(), href: el.getAttribute('href'), top: r.top, left: r.left, width: r.width, height: r.height };
  });
  assert.equal(first.text, 'Zum Inhalt springen');
  assert.equal(first.href, '#inhalt');
  assert.ok(first.width > 0 && first.height > 0 && first.left >= 0 && first.top >= 0,
    `the focused skip link is on screen: ${JSON.stringify(first)}`);
  await page.keyboard.press('Enter');
  await page.waitForURL('**#inhalt');
  await page.keyboard.press('Tab');
  const next = await page.evaluate(() => ({
    inMain: Boolean(document.activeElement.closest('main')),
    label: document.activeElement.outerHTML.slice(0, 120),
  }));
  assert.ok(next.inMain, `after the skip link, Tab continues inside main (got ${next.label})`);
}

describe('phone (360 px)', () => {
  test('start page lists the pilot municipalities and the members of Amt Niemegk; click through to Panketal; 404', async () => {
    const ctx = await phoneContext(h);
    const page = await ctx.newPage();
    await citizenFlow(page);
    await ctx.close();
  });

  test('every page type: axe without violations, no horizontal scrolling, screenshot', async () => {
    const ctx = await phoneContext(h);
    const page = await ctx.newPage();
    let n = 0;
    for (const p of PAGES) {
      n += 1;
      await open(page, p);
      await checkA11y(page, `phone-${p.name}`);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      assert.ok(overflow <= 0, `${p.path} scrolls horizontally by ${overflow}px on 360 px`);
      await screenshot(page, `phone-${String(n).padStart(2, '0')}-${p.name}`);
    }
    await ctx.close();
  });

  test('keyboard only: skip link first, then every link reachable with a visible focus indicator', async () => {
    const ctx = await phoneContext(h);
    const page = await ctx.newPage();
    await skipLinkFlow(page);
    for (const p of PAGES) {
      await open(page, p);
      const audit = await keyboardAudit(page);
      assert.ok(audit.focused.length > 0, `${p.path}: something is focusable`);
      assert.equal(audit.focused[0].href, '#inhalt', `${p.path}: the skip link comes first`);
      assert.deepEqual(audit.unreachable.map((u) => u.label), [], `${p.path}: elements Tab never reaches`);
      assert.deepEqual(audit.withoutIndicator.map((f) => `${f.label} (outline ${f.outline}, box-shadow ${f.boxShadow})`), [],
        `${p.path}: focused elements without a visible focus indicator`);
      assert.deepEqual(audit.offscreen.map((f) => f.label), [], `${p.path}: focused elements not scrolled into view`);
    }
    await page.goto('/');
    await page.keyboard.press('Tab');
    await screenshot(page, 'phone-10-skip-link-focused');
    await ctx.close();
  });

  test('without JavaScript the same flow works', async () => {
    const ctx = await noJsContext(h, 'phone');
    const page = await ctx.newPage();
    await citizenFlow(page);
    await skipLinkFlow(page);
    await ctx.close();
  });
});

describe('desktop (1280 px)', () => {
  test('every page type: axe without violations, screenshot', async () => {
    const ctx = await desktopContext(h);
    const page = await ctx.newPage();
    let n = 0;
    for (const p of PAGES) {
      n += 1;
      await open(page, p);
      await checkA11y(page, `desktop-${p.name}`);
      await screenshot(page, `desktop-${String(n).padStart(2, '0')}-${p.name}`);
    }
    await ctx.close();
  });
});

test('operator endpoint /healthz answers', async () => {
  const res = await fetch(`${h.server.url}/healthz`);
  assert.equal(res.status, 200);
});
