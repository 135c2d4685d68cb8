// Overload in the portal, in a real browser: the server runs on SQLite with a write queue of one
// place (RATHAUS_WRITE_QUEUE_LIMIT=1). The test takes SQLite's write lock from outside, so that the
// server's one writer waits for it (busy timeout) and a second write waits in the queue's place;
// the citizen's "Weiter" is then refused at once. The waiting page (503) keeps what was typed,
// says calmly what happens, and its script sends the form again by itself once there is room; the
// draft then holds the answers. Without JavaScript the same page has the button to send again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import {
  useHarness, phoneContext, noJsContext, checkA11y, screenshot, fontsLoaded, navigate, pageProblems, freePort,
} from './harness.js';

const OPS_PORT = await freePort();
const h = useHarness({
  server: {
    name: 'rathaus-overload',
    env: {
      RATHAUS_WRITE_QUEUE_LIMIT: '1',
      RATHAUS_OPS_LISTEN: `127.0.0.1:${OPS_PORT}`,
      // Several drafts from one address within a minute: not what this test is about.
      RATHAUS_PUBLIC_RATE_LIMIT_PER_MINUTE: '0',
    },
  },
});

const SERVICE = '/bad-belzig/maengelmelder';
const CATEGORY = 'Straße oder Gehweg beschädigt';
const NOTICE = /^Einen Moment bitte: Gerade nutzen sehr viele Menschen diesen Dienst\. Ihre Angaben sind nicht verloren – /;

const pathOf = (page) => new URL(page.url()).pathname;
const press = (page, name) => navigate(page, () => page.getByRole('button', { name, exact: true }).click());

/** Starts a defect report and fills its first step without sending it. */
async function fillFirstStep(page, description) {
  await page.goto(SERVICE);
  await press(page, 'Jetzt starten');
  assert.equal(pathOf(page), `${SERVICE}/schritt/mangel`);
  await page.getByLabel(CATEGORY, { exact: true }).check();
  await page.getByLabel('Beschreibung', { exact: true }).fill(description);
}

/** Holds SQLite's write lock on the server's database from another process until released. */
async function holdWriteLock(dbFile) {
  const script = [
    'import sqlite3, sys',
    'db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)',
    "db.execute('BEGIN IMMEDIATE')",
    "print('locked', flush=True)",
    'sys.stdin.read()',
    "db.execute('ROLLBACK')",
  ].join('\n');
  const python = process.env.RATHAUS_E2E_PYTHON || 'python3';
  const child = spawn(python, ['-c', script, dbFile], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [line] = await once(child.stdout, 'data');
  assert.equal(line.toString().trim(), 'locked');
  let released;
  return {
    release() {
      released ??= (async () => {
        child.stdin.end();
        if (child.exitCode === null) await once(child, 'exit');
      })();
      return released;
    },
  };
}

/** Write transactions waiting for their turn, from the operators' metrics. */
async function writeQueueDepth() {
  const text = await (await fetch(`http://127.0.0.1:${OPS_PORT}/metrics`)).text();
  return Number(text.match(/^write_queue_depth (\d+)/m)?.[1] ?? 0);
}

/** The waiting page: 503 with Retry-After, what was typed still in the fields, the notice. */
async function assertWaitingPage(page, res, description) {
  assert.equal(res.status(), 503);
  assert.ok(Number(res.headers()['retry-after']) >= 1, 'Retry-After');
  assert.equal(pathOf(page), `${SERVICE}/schritt/mangel`);
  const notice = page.getByRole('status');
  assert.match(await notice.innerText(), NOTICE);
  assert.equal(await page.getByLabel(CATEGORY, { exact: true }).isChecked(), true);
  assert.equal(await page.getByLabel('Beschreibung', { exact: true }).inputValue(), description);
  assert.equal(await page.locator('.rh-error-summary').count(), 0, 'no error: nothing is wrong with the answers');
  assert.ok(await page.getByRole('button', { name: 'Weiter', exact: true }).isVisible());
}

test('at full load the step waits with what was typed and sends itself again; without JavaScript the button does', async () => {
  assert.ok(!process.env.RATHAUS_E2E_DATABASE_URL, 'this test holds the lock of the SQLite file');
  const withJs = await phoneContext(h);
  const page = await withJs.newPage();
  const typed = 'Tiefes Schlagloch auf dem Radweg vor dem Bahnhof.';
  await fillFirstStep(page, typed);
  const withoutJs = await noJsContext(h);
  const plain = await withoutJs.newPage();
  const typedPlain = 'Straßenlaterne in der Wiesenburger Straße ist umgeknickt.';
  await fillFirstStep(plain, typedPlain);

  // The page's script sends the form again by itself (`requestSubmit`). That call is kept until
  // the test has looked at the waiting page, and made then, so that no navigation interrupts the
  // look; when it came is noted.
  await withJs.addInitScript(() => {
    const requestSubmit = HTMLFormElement.prototype.requestSubmit;
    HTMLFormElement.prototype.requestSubmit = function held(button) {
      window.resendAfterMs = performance.now();
      window.resendWith = button?.textContent.trim();
      window.resend = () => requestSubmit.call(this, button);
    };
  });
  let posts = 0;
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.isNavigationRequest()) posts += 1;
  });

  // Someone else starting a report, twice: one start waits for the lock in the writer, the other
  // in the queue's one place.
  const other = await phoneContext(h);
  const otherPage = await other.newPage();
  await otherPage.goto(SERVICE);
  const csrf = await otherPage.locator('input[name=csrf]').inputValue();
  const lock = await holdWriteLock(path.join(h.server.dataDir, 'rathaus.db'));
  let background = [];
  let res;
  try {
    background = [1, 2].map(() => other.request.post(`${SERVICE}/start`, { form: { csrf }, maxRedirects: 0, timeout: 30_000 }));
    // Seen twice in a row: a write only passing through the queue is there for a moment.
    for (let i = 0, seen = 0; seen < 2; i += 1) {
      assert.ok(i < 100, 'the second start did not queue');
      await new Promise((r) => setTimeout(r, 50));
      seen = (await writeQueueDepth()) >= 1 ? seen + 1 : 0;
    }

    res = await press(page, 'Weiter');
    await assertWaitingPage(page, res, typed);
    // The script counts down visibly (hidden from screen readers, which hear the notice once).
    const countdown = page.locator('[data-retry-countdown]');
    assert.match(await countdown.innerText(), /^Nächster Versuch in (\d+ Sekunden|1 Sekunde)\.$/);
    assert.equal(await countdown.getAttribute('aria-hidden'), 'true');
    assert.match(await page.getByRole('status').innerText(), /wir senden sie in wenigen Sekunden noch einmal\./);

    res = await press(plain, 'Weiter');
    await assertWaitingPage(plain, res, typedPlain);
    assert.match(await plain.getByRole('status').innerText(), /bitte senden Sie sie in wenigen Sekunden noch einmal ab\./);
    assert.equal(await plain.locator('[data-retry-countdown]').isVisible(), false);
  } finally {
    // Soon, so that the other two starts do not give up waiting.
    await lock.release();
  }
  // The waiting pages stay as they are: the script's resend is kept (see above). Axe needs
  // JavaScript in the page; the page without it has the same markup.
  await fontsLoaded(page);
  await checkA11y(page, 'phone-waiting');
  await screenshot(page, 'overload-phone-waiting');
  await fontsLoaded(plain);
  await screenshot(plain, 'overload-phone-nojs-waiting');
  // The two other starts go through once the lock is gone (or, having waited too long, are told
  // to retry); none hangs.
  const others = await Promise.all(background);
  for (const r of others) assert.ok([303, 503].includes(r.status()), `other start answered ${r.status()}`);

  // Room again: the page sends itself, once, with "Weiter", after at least Retry-After seconds,
  // and lands on the next step.
  await page.waitForFunction(() => window.resend, null, { timeout: 40_000 });
  const resent = await page.evaluate(() => ({ afterMs: window.resendAfterMs, with: window.resendWith }));
  assert.equal(resent.with, 'Weiter');
  assert.ok(resent.afterMs >= 3000, `sent again after ${resent.afterMs} ms`);
  res = await navigate(page, () => page.evaluate(() => window.resend()));
  assert.equal(res.status(), 200);
  assert.equal(pathOf(page), `${SERVICE}/schritt/ort`);
  assert.equal(posts, 2, 'the citizen pressed once, the page sent once more');
  assert.deepEqual(pageProblems(page), []);
  // The draft holds the answers.
  await page.goto(`${SERVICE}/schritt/mangel`);
  assert.equal(await page.getByLabel(CATEGORY, { exact: true }).isChecked(), true);
  assert.equal(await page.getByLabel('Beschreibung', { exact: true }).inputValue(), typed);

  // Without JavaScript the citizen presses the button again.
  res = await press(plain, 'Weiter');
  assert.equal(res.status(), 200);
  assert.equal(pathOf(plain), `${SERVICE}/schritt/ort`);
  assert.deepEqual(pageProblems(plain), []);

  await Promise.all([withJs.close(), withoutJs.close(), other.close()]);
});
