// The citizen portal's service flow: Panketal's defect report (Mängelmelder, services/maengelmelder.json)
// from the start page to the status page and the receipt — on a phone (360×800), with and without
// JavaScript, by keyboard alone, saved and resumed from an e-mail in another browser, submitted twice,
// fed bad uploads and forged posts, with axe (WCAG 2.1 A/AA) and a screenshot on every page type.
//
// The server sends its e-mails to the harness's SMTP capture server; a new browser context is a
// browser that was closed (the draft lives in a session cookie scoped to the service's path).

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import {
  useHarness, newContext, phoneContext, noJsContext, checkA11y, screenshot, keyboardAudit, pageProblems, settleScroll, fontsLoaded, navigate, assertLayout,
} from './harness.js';
import { png } from './fixtures.js';

const h = useHarness({
  smtp: true,
  server: {
    name: 'rathaus-citizen',
    pickPort: true,
    env: ({ smtp }) => ({ RATHAUS_SMTP_URL: `smtp://127.0.0.1:${smtp.port}` }),
  },
});

const SERVICE = '/panketal/maengelmelder';
const YEAR = new Intl.DateTimeFormat('en', { timeZone: 'Europe/Berlin', year: 'numeric' }).format(new Date());
const REFERENCE = new RegExp(`^MM-${YEAR}-\\d{6}$`);
const ERROR_PREFIX = 'Es gibt ein Problem: ';
const DESCRIPTION = 'Tiefes Schlagloch auf dem Radweg, etwa 30 cm breit. Radfahrer weichen auf die Fahrbahn aus.';
const STREET = 'Schönerlinder Straße';
const CATEGORY = 'Straße oder Gehweg beschädigt';
const PRIVACY = 'Ich habe die Datenschutzhinweise gelesen.';
const BUTTON = {
  start: 'Jetzt starten',
  next: 'Weiter',
  save: 'Speichern und später fortsetzen',
  upload: 'Datei hochladen',
  submit: 'Verbindlich absenden',
  sendLink: 'Link zusenden',
};

// ---------------------------------------------------------------------------------------------
// Test files

const PHOTO = { name: 'schlagloch.png', mimeType: 'image/png', buffer: png(1, 1) };
/** 11 MB, starting like a PNG: over the 10 MB limit of the photo field. */
const OVERSIZE = { name: 'riesig.png', mimeType: 'image/png', buffer: Buffer.concat([png(1, 1), Buffer.alloc(11_000_000 - png(1, 1).length)]) };
/** A text file that calls itself a PNG. */
const NOT_A_PNG = { name: 'notiz.png', mimeType: 'image/png', buffer: Buffer.from('Dies ist kein Bild, nur eine Notiz.\n', 'utf8') };

// ---------------------------------------------------------------------------------------------
// Page helpers

const pathOf = (page) => new URL(page.url()).pathname;

const press = (page, name) => navigate(page, () => page.getByRole('button', { name, exact: true }).click());
const follow = (page, locator) => navigate(page, () => locator.click());

async function h1(page) {
  return (await page.locator('h1').innerText()).trim();
}

/** No console errors or failed sub-resources so far, no script anywhere, no sideways scrolling on a phone. */
async function assertClean(page, what) {
  assert.deepEqual(pageProblems(page), [], `${what}: no console errors or failed requests`);
  assert.equal(await page.locator('script').count(), 0, `${what}: the page carries no script`);
}

/** Axe, no horizontal scrolling (on the phone), a screenshot. */
async function audit(page, device, n, name) {
  await fontsLoaded(page);
  await assertClean(page, name);
  await checkA11y(page, `${device}-${name}`);
  await assertLayout(page, name, device);
  await screenshot(page, `${device}-${String(n).padStart(2, '0')}-${name}`);
}

// ---------------------------------------------------------------------------------------------
// The journey, step by step

async function startService(page, { via = SERVICE } = {}) {
  if (pathOf(page) !== via) await page.goto(via);
  assert.equal(await h1(page), 'Mangel melden');
  const res = await press(page, BUTTON.start);
  assert.equal(res.status(), 200);
  assert.equal(pathOf(page), `${SERVICE}/schritt/mangel`);
}

async function fillMangel(page, { category = CATEGORY, description = DESCRIPTION } = {}) {
  await page.getByLabel(category, { exact: true }).check();
  await page.getByLabel('Beschreibung', { exact: true }).fill(description);
}

async function fillOrt(page) {
  await page.getByLabel('Mit einer Adresse', { exact: true }).check();
  await page.getByLabel('Straße', { exact: true }).fill(STREET);
  await page.getByLabel(/^Hausnummer/).fill('47');
}

async function uploadPhoto(page, file = PHOTO) {
  await page.locator('#f-photos').setInputFiles(file);
  return press(page, BUTTON.upload);
}

async function fillKontakt(page, email) {
  if (email) await page.getByLabel(/^E-Mail-Adresse/).fill(email);
  await page.getByLabel(PRIVACY, { exact: true }).check();
}

async function next(page, expected) {
  const res = await press(page, BUTTON.next);
  assert.equal(res.status(), 200, `Weiter on ${expected}'s predecessor`);
  const want = expected === 'pruefen' ? `${SERVICE}/pruefen` : `${SERVICE}/schritt/${expected}`;
  assert.equal(pathOf(page), want);
}

/** From a fresh start to the check page with valid answers (with a photo unless `photo` is false). */
async function fillAll(page, { email, photo = true } = {}) {
  await startService(page);
  await fillMangel(page);
  await next(page, 'ort');
  await fillOrt(page);
  await next(page, 'foto');
  if (photo) await uploadPhoto(page);
  await next(page, 'kontakt');
  await fillKontakt(page, email);
  await next(page, 'pruefen');
}

/** On the check page: submits and returns the confirmation's reference and links. */
async function submit(page) {
  const res = await press(page, BUTTON.submit);
  assert.equal(res.status(), 200);
  assert.equal(pathOf(page), `${SERVICE}/bestaetigung`);
  return confirmation(page);
}

async function confirmation(page) {
  const reference = (await page.locator('main .rh-reference').innerText()).trim();
  assert.match(reference, REFERENCE);
  const statusHref = await page.getByRole('link', { name: 'Bearbeitungsstand ansehen' }).getAttribute('href');
  const receiptHref = await page.getByRole('link', { name: /Eingangsbestätigung herunterladen/ }).getAttribute('href');
  assert.match(statusHref, /^\/panketal\/vorgang\/[A-Za-z0-9_-]{20,}$/);
  // The receipt is fetched at the case's address without the secret (this browser holds its cookie).
  assert.equal(receiptHref, `/panketal/vorgang/${reference}/eingangsbestaetigung.pdf`);
  return { reference, statusHref, receiptHref };
}

const serial = (reference) => Number(reference.slice(-6));

async function csrfOf(page) {
  return page.locator('input[name=csrf]').first().inputValue();
}

function mailsMentioning(text) {
  return h.smtp.mails().filter((m) => (m.text ?? '').includes(text) || (m.subject ?? '').includes(text));
}

// ---------------------------------------------------------------------------------------------

describe('phone (360 px)', () => {
  test('done when: search 16341 → Panketal → report a defect with a photo → e-mail, status page, receipt PDF', async () => {
    const ctx = await phoneContext(h);
    const page = await ctx.newPage();

    // Find the municipality by postcode.
    await page.goto('/');
    await page.getByLabel('Ihre Kommune finden').fill('16341');
    await press(page, 'Suchen');
    assert.equal(pathOf(page), '/');
    assert.equal(new URL(page.url()).searchParams.get('q'), '16341');
    const results = page.locator('section[aria-labelledby=results]');
    assert.equal((await results.locator('h2').innerText()).trim(), 'Suchergebnisse für „16341“');
    assert.deepEqual((await results.getByRole('link').allInnerTexts()).map((s) => s.trim()), ['Gemeinde Panketal']);
    await follow(page, results.getByRole('link', { name: 'Gemeinde Panketal' }));
    assert.equal(pathOf(page), '/panketal');
    await follow(page, page.getByRole('link', { name: 'Mangel melden' }));
    assert.equal(pathOf(page), SERVICE);
    await assertClean(page, 'service start');
    await startService(page);
    assert.match(await page.locator('main .kern-preline').innerText(), /Schritt 1 von 4/);

    // Nothing chosen: the error summary links to each field, each field shows its error.
    let res = await press(page, BUTTON.next);
    assert.equal(res.status(), 422);
    assert.equal(pathOf(page), `${SERVICE}/schritt/mangel`);
    assert.ok((await page.title()).startsWith(ERROR_PREFIX), `title "${await page.title()}" starts with "${ERROR_PREFIX}"`);
    const summary = page.locator('.rh-error-summary');
    assert.equal(await summary.getAttribute('role'), 'alert');
    const links = summary.getByRole('link');
    assert.equal(await links.count(), 2);
    const hrefs = await links.evaluateAll((as) => as.map((a) => a.getAttribute('href')));
    for (const href of hrefs) {
      assert.equal(await page.locator(href).count(), 1, `summary link ${href} points at an element`);
    }
    assert.match(await links.nth(0).innerText(), /Art des Mangels/);
    assert.match(await links.nth(1).innerText(), /Beschreibung/);
    assert.match(await page.locator('#f-category-error').innerText(), /Wählen Sie bei „Art des Mangels“ eine Antwort aus/);
    assert.match(await page.locator('#f-description-error').innerText(), /Geben Sie „Beschreibung“ an/);
    assert.equal(await page.locator('#f-description').getAttribute('aria-invalid'), 'true');
    assert.match(await page.locator('#f-description').getAttribute('aria-describedby'), /f-description-error/);
    // Following a summary link brings its field into view and focus.
    await links.nth(1).click();
    await settleScroll(page);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'f-description');
    await links.nth(0).click();
    await settleScroll(page);
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('name')), 'category',
      'the first summary link focuses the first radio button of the group');

    // Half corrected: the choice is kept, only the description is still wrong.
    await page.getByLabel(CATEGORY, { exact: true }).check();
    await page.getByLabel('Beschreibung', { exact: true }).fill('Loch');
    res = await press(page, BUTTON.next);
    assert.equal(res.status(), 422);
    assert.equal(await page.locator('.rh-error-summary').getByRole('link').count(), 1);
    assert.match(await page.locator('#f-description-error').innerText(), /10/);
    assert.equal(await page.locator('#f-category-error').count(), 0);
    assert.ok(await page.getByLabel(CATEGORY, { exact: true }).isChecked(), 'the chosen category is kept');
    assert.equal(await page.getByLabel('Beschreibung', { exact: true }).inputValue(), 'Loch', 'typed text is kept');
    await page.getByLabel('Beschreibung', { exact: true }).fill(DESCRIPTION);
    await next(page, 'ort');

    // Where: an address.
    assert.match(await page.locator('main .kern-preline').innerText(), /Schritt 2 von 4/);
    await fillOrt(page);
    await next(page, 'foto');

    // A photo: uploaded, listed, and the step goes on.
    res = await uploadPhoto(page);
    assert.equal(res.status(), 200);
    assert.equal(pathOf(page), `${SERVICE}/schritt/foto`);
    const files = page.getByRole('list', { name: 'Hochgeladene Dateien' });
    assert.match(await files.innerText(), /schlagloch\.png/);
    assert.equal(await files.getByRole('button', { name: /Entfernen/ }).count(), 1);
    await next(page, 'kontakt');

    // Contact: e-mail and privacy.
    await fillKontakt(page, 'buerger@example.org');
    await next(page, 'pruefen');

    // The check page shows every answer with a change link per section.
    assert.equal(await h1(page), 'Angaben prüfen');
    const main = await page.locator('main').innerText();
    for (const answer of [CATEGORY, DESCRIPTION, 'Mit einer Adresse', STREET, '47', 'schlagloch.png', 'buerger@example.org']) {
      assert.ok(main.includes(answer), `check page shows "${answer}"`);
    }
    const change = page.locator('main .rh-summary').getByRole('link', { name: /^Ändern/ });
    assert.equal(await change.count(), 4, 'one change link per step');
    // Change the street through its link: back to the check page afterwards.
    await follow(page, page.getByRole('link', { name: /^Ändern\s*: Wo ist der Mangel\?$/ }));
    assert.equal(pathOf(page), `${SERVICE}/schritt/ort`);
    assert.equal(await page.getByLabel('Straße', { exact: true }).inputValue(), STREET);
    await page.getByLabel('Straße', { exact: true }).fill(`${STREET} (Ecke Bahnhofstraße)`);
    await next(page, 'pruefen');
    assert.match(await page.locator('main').innerText(), /Ecke Bahnhofstraße/);

    // Submit: a reference number.
    const { reference, statusHref, receiptHref } = await submit(page);
    assert.equal(await h1(page), 'Ihr Antrag ist eingegangen');
    assert.match(await page.locator('main').innerText(), /Eingangsbestätigung per E-Mail/);
    await assertClean(page, 'confirmation');

    // The confirmation e-mail carries the reference and the status link.
    const mail = await h.smtp.waitForMail((m) => (m.text ?? '').includes(reference), 15_000);
    assert.deepEqual(mail.envelopeTo, ['buerger@example.org']);
    assert.match(mail.subject, new RegExp(`Eingangsbestätigung ${reference}`));
    const statusUrl = `${h.server.url}${statusHref}`;
    assert.ok(mail.text.includes(statusUrl), `mail contains ${statusUrl}:\n${mail.text}`);

    // The status page, here and in a browser without any cookie (the link from the e-mail).
    // The secret link is exchanged for a cookie: the address bar and history show the case's
    // address without it.
    await follow(page, page.getByRole('link', { name: 'Bearbeitungsstand ansehen' }));
    assert.equal(pathOf(page), `/panketal/vorgang/${reference}`);
    assert.ok(!page.url().includes(statusHref.split('/').pop()), page.url());
    assert.match(await page.locator('main').innerText(), new RegExp(reference));
    assert.match(await page.locator('main').innerText(), /Eingegangen/);
    const fresh = await phoneContext(h);
    const other = await fresh.newPage();
    const statusRes = await other.goto(statusUrl);
    assert.equal(statusRes.status(), 200);
    assert.equal(statusRes.headers()['cache-control'], 'no-store');
    assert.equal(await h1(other), 'Stand Ihres Vorgangs');
    assert.match(await other.locator('main').innerText(), new RegExp(reference));
    assert.match(await other.locator('main dl').innerText(), /Eingegangen/);
    await assertClean(other, 'status page without cookies');
    await fresh.close();

    // The receipt: a real download, a PDF.
    await page.goto(`${SERVICE}/bestaetigung`);
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('link', { name: /Eingangsbestätigung herunterladen/ }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'eingangsbestaetigung.pdf');
    const pdf = await readFile(await download.path());
    assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-');
    const pdfRes = await page.request.get(receiptHref);
    assert.equal(pdfRes.status(), 200);
    assert.equal(pdfRes.headers()['content-type'], 'application/pdf');
    assert.equal((await pdfRes.body()).subarray(0, 5).toString('latin1'), '%PDF-');
    await ctx.close();
  });

  test('double submit: back button and submit again, or two posts at once, give one case and one reference', async () => {
    const ctx = await phoneContext(h);
    const page = await ctx.newPage();

    // Submit, press Back, submit again if the browser shows the check page again.
    await fillAll(page, { email: 'doppelt@example.org', photo: false });
    const csrf = await csrfOf(page);
    const first = await submit(page);
    await page.goBack();
    if (pathOf(page) === `${SERVICE}/pruefen` && (await page.getByRole('button', { name: BUTTON.submit }).count()) > 0) {
      const again = await submit(page);
      assert.equal(again.reference, first.reference, 'submitting again after Back shows the same reference');
    } else {
      assert.equal(pathOf(page), `${SERVICE}/bestaetigung`, 'Back after submitting leads to the confirmation');
    }
    // Reloading the check page once submitted leads to the confirmation, too.
    await page.goto(`${SERVICE}/pruefen`);
    assert.equal(pathOf(page), `${SERVICE}/bestaetigung`);
    assert.equal((await confirmation(page)).reference, first.reference);
    // Posting the submit form again, as a browser would on a second click.
    for (let i = 0; i < 2; i += 1) {
      const r = await page.request.post(`${SERVICE}/absenden`, { form: { csrf }, maxRedirects: 0 });
      assert.equal(r.status(), 303);
      assert.equal(r.headers().location, `${SERVICE}/bestaetigung`);
    }
    await page.goto(`${SERVICE}/bestaetigung`);
    assert.equal((await confirmation(page)).reference, first.reference);

    // A second report in a fresh browser, submitted twice at the same moment.
    const ctx2 = await phoneContext(h);
    const page2 = await ctx2.newPage();
    await fillAll(page2, { email: 'gleichzeitig@example.org', photo: false });
    const csrf2 = await csrfOf(page2);
    const posts = await Promise.all([1, 2].map(() =>
      page2.request.post(`${SERVICE}/absenden`, { form: { csrf: csrf2 }, maxRedirects: 0 })));
    assert.deepEqual(posts.map((r) => r.status()), [303, 303], 'both posts lead to the confirmation');
    await page2.goto(`${SERVICE}/bestaetigung`);
    const second = await confirmation(page2);
    assert.equal(serial(second.reference), serial(first.reference) + 1, 'no reference number was used up in between');

    // A third report gets the very next number: the double post created exactly one case.
    const ctx3 = await phoneContext(h);
    const page3 = await ctx3.newPage();
    await fillAll(page3, { email: 'danach@example.org', photo: false });
    const third = await submit(page3);
    assert.equal(serial(third.reference), serial(second.reference) + 1, 'the double post created exactly one case');

    // And exactly one confirmation e-mail per case.
    await h.smtp.waitForMail((m) => (m.text ?? '').includes(third.reference), 15_000);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(mailsMentioning(first.reference).length, 1, `one mail for ${first.reference}`);
    assert.equal(mailsMentioning(second.reference).length, 1, `one mail for ${second.reference}`);
    for (const c of [ctx, ctx2, ctx3]) await c.close();
  });

  // Found by this file and fixed in App::submit (ab87ec2): the loser of the race used to get a 500.
  test('three posts at the same moment all lead to the confirmation of one case', async () => {
    const ctx = await phoneContext(h);
    const page = await ctx.newPage();
    await fillAll(page, { photo: false });
    const csrf = await csrfOf(page);
    const posts = await Promise.all([1, 2, 3].map(() =>
      page.request.post(`${SERVICE}/absenden`, { form: { csrf }, maxRedirects: 0 })));
    assert.deepEqual(posts.map((r) => r.status()), [303, 303, 303]);
    await page.goto(`${SERVICE}/bestaetigung`);
    const once = await confirmation(page);
    const ctx2 = await phoneContext(h);
    const page2 = await ctx2.newPage();
    await fillAll(page2, { photo: false });
    const after = await submit(page2);
    assert.equal(serial(after.reference), serial(once.reference) + 1, 'the three posts created one case');
    await ctx.close();
    await ctx2.close();
  });

  test('save and resume: the link from the e-mail continues in a closed browser with the answers kept', async () => {
    const ctx = await phoneContext(h);
    const page = await ctx.newPage();
    await startService(page);
    await fillMangel(page, { category: 'Straßenbeleuchtung defekt', description: 'Laterne vor Hausnummer 12 ist seit einer Woche dunkel.' });
    let res = await press(page, BUTTON.save);
    assert.equal(res.status(), 200);
    assert.equal(pathOf(page), `${SERVICE}/speichern`);
    assert.equal(await h1(page), 'Speichern und später fortsetzen');
    // A wrong address is refused next to the field.
    await page.getByLabel('E-Mail-Adresse').fill('keine-adresse');
    res = await press(page, BUTTON.sendLink);
    assert.equal(res.status(), 422);
    assert.ok((await page.title()).startsWith('Es gibt ein Problem'), `title: ${await page.title()}`);
    assert.match(await page.locator('#f-email-error').innerText(), /E-Mail-Adresse/);
    await page.getByLabel('E-Mail-Adresse').fill('spaeter@example.org');
    res = await press(page, BUTTON.sendLink);
    assert.equal(res.status(), 200);
    assert.equal(await h1(page), 'Link verschickt');

    const mail = await h.smtp.waitForMail((m) => m.envelopeTo.includes('spaeter@example.org'), 15_000);
    assert.match(mail.subject, /gespeicherter Antrag: Mangel melden/);
    const link = mail.text.match(/https?:\/\/\S+\/fortsetzen\/[A-Za-z0-9_-]+/)?.[0];
    assert.ok(link, `resume link in the mail:\n${mail.text}`);
    assert.ok(link.startsWith(`${h.server.url}${SERVICE}/fortsetzen/`), link);
    await ctx.close(); // the browser is closed

    const ctx2 = await phoneContext(h);
    const page2 = await ctx2.newPage();
    // Without the link, the new browser has no draft.
    const lost = await page2.goto(`${SERVICE}/schritt/ort`);
    assert.equal(lost.status(), 404);
    assert.equal(await h1(page2), 'Ihr Antrag wurde nicht gefunden');
    // With it: the current step, the answers of the first step kept.
    res = await page2.goto(link);
    assert.equal(res.status(), 200);
    assert.equal(pathOf(page2), `${SERVICE}/schritt/ort`, 'the resume link leads to the step after the saved one');
    await follow(page2, page2.getByRole('link', { name: 'Zurück', exact: true }));
    assert.equal(pathOf(page2), `${SERVICE}/schritt/mangel`);
    assert.ok(await page2.getByLabel('Straßenbeleuchtung defekt', { exact: true }).isChecked());
    assert.equal(await page2.getByLabel('Beschreibung', { exact: true }).inputValue(), 'Laterne vor Hausnummer 12 ist seit einer Woche dunkel.');
    await next(page2, 'ort');
    await fillOrt(page2);
    await next(page2, 'foto');
    await next(page2, 'kontakt');
    await fillKontakt(page2, null);
    await next(page2, 'pruefen');
    assert.match(await page2.locator('main').innerText(), /Straßenbeleuchtung defekt/);
    const { reference } = await submit(page2);
    assert.doesNotMatch(await page2.locator('main').innerText(), /per E-Mail/, 'no e-mail address given, no e-mail promised');
    // The resume link works once: whoever else holds it (the sender of a forwarded link) finds
    // nothing, and never the form or its confirmation.
    assert.match(reference, REFERENCE);
    const ctx3 = await phoneContext(h);
    const page3 = await ctx3.newPage();
    const used = await page3.goto(link);
    assert.equal(used.status(), 404);
    assert.equal(await h1(page3), 'Dieser Link ist nicht mehr gültig');
    await ctx2.close();
    await ctx3.close();
  });

  test('without JavaScript the whole journey works', async () => {
    const ctx = await noJsContext(h, 'phone');
    const page = await ctx.newPage();
    // Prove that scripts really do not run in this browser.
    await page.setContent('<p id="x">static</p><script>document.getElementById("x").textContent = "scripted";</script>');
    assert.equal(await page.locator('#x').innerText(), 'static');

    await page.goto('/?q=16341');
    await follow(page, page.locator('section[aria-labelledby=results]').getByRole('link', { name: 'Gemeinde Panketal' }));
    await follow(page, page.getByRole('link', { name: 'Mangel melden' }));
    await assertClean(page, 'service start (no JS)');
    await startService(page);
    const res = await press(page, BUTTON.next);
    assert.equal(res.status(), 422);
    assert.equal(await page.locator('.rh-error-summary').getByRole('link').count(), 2);
    await fillMangel(page);
    await next(page, 'ort');
    await assertClean(page, 'step ort (no JS)');
    await fillOrt(page);
    await next(page, 'foto');
    await uploadPhoto(page);
    assert.match(await page.getByRole('list', { name: 'Hochgeladene Dateien' }).innerText(), /schlagloch\.png/);
    await next(page, 'kontakt');
    await fillKontakt(page, 'ohne-js@example.org');
    await next(page, 'pruefen');
    await assertClean(page, 'check (no JS)');
    const { reference } = await submit(page);
    await assertClean(page, 'confirmation (no JS)');
    await follow(page, page.getByRole('link', { name: 'Bearbeitungsstand ansehen' }));
    assert.equal(pathOf(page), `/panketal/vorgang/${reference}`);
    assert.match(await page.locator('main').innerText(), new RegExp(`${reference}[\\s\\S]*Eingegangen`));
    await h.smtp.waitForMail((m) => (m.text ?? '').includes(reference), 15_000);
    await ctx.close();
  });

  test('keyboard only: start and complete the first step with Tab, Space, arrows, typing and Enter', async () => {
    const ctx = await phoneContext(h);
    const page = await ctx.newPage();
    await page.goto(SERVICE);

    /** Presses Tab until `match` (run in the page on the focused element) is true. */
    async function tabTo(describe, match, arg) {
      for (let i = 0; i < 40; i += 1) {
        await page.keyboard.press('Tab');
        if (await page.evaluate(match, arg)) return;
      }
      throw new Error(`Tab never reached ${describe}`);
    }
    const focusedIs = (sel) => document.activeElement?.matches(sel) ?? false;

    await tabTo('the start button', focusedIs, 'button[type=submit]');
    assert.equal(await page.evaluate(() => document.activeElement.innerText.trim()), BUTTON.start);
    await navigate(page, () => page.keyboard.press('Enter'));
    assert.equal(pathOf(page), `${SERVICE}/schritt/mangel`);

    // Enter on "Weiter" with nothing filled in: errors; the first summary link leads to the field.
    await tabTo('the continue button', focusedIs, 'button[value=continue]');
    await navigate(page, () => page.keyboard.press('Enter'));
    assert.ok((await page.title()).startsWith(ERROR_PREFIX));
    await tabTo('the first error link', focusedIs, '.rh-error-summary a');
    await page.keyboard.press('Enter');
    await settleScroll(page);
    // From the summary link, Tab (or the link itself) puts the keyboard in the radio group.
    if (!(await page.evaluate(focusedIs, 'input[name=category]'))) await tabTo('the category radios', focusedIs, 'input[name=category]');

    // Space selects the focused radio, an arrow key moves the choice.
    await page.keyboard.press('Space');
    assert.equal(await page.evaluate(() => document.querySelector('input[name=category]:checked')?.value), 'strasse');
    await page.keyboard.press('ArrowDown');
    assert.equal(await page.evaluate(() => document.querySelector('input[name=category]:checked')?.value), 'beleuchtung');
    await tabTo('the description', focusedIs, 'textarea[name=description]');
    await page.keyboard.type('Die Laterne am Spielplatz flackert nachts.');
    await tabTo('the continue button', focusedIs, 'button[value=continue]');
    await navigate(page, () => page.keyboard.press('Enter'));
    assert.equal(pathOf(page), `${SERVICE}/schritt/ort`);

    // The answers arrived.
    await page.goto(`${SERVICE}/schritt/mangel`);
    assert.ok(await page.getByLabel('Straßenbeleuchtung defekt', { exact: true }).isChecked());
    assert.equal(await page.getByLabel('Beschreibung', { exact: true }).inputValue(), 'Die Laterne am Spielplatz flackert nachts.');

    // Every control of the steps is reachable, with a visible focus indicator.
    for (const step of ['mangel', 'ort', 'foto']) {
      await page.goto(`${SERVICE}/schritt/${step}`);
      const a = await keyboardAudit(page);
      assert.equal(a.focused[0].href, '#inhalt', `${step}: the skip link comes first`);
      // Of a radio group Tab visits one button (the arrow keys choose within it).
      const radioGroups = await page.evaluate((reached) => {
        const all = document.getElementsByTagName('*');
        return reached.map((i) => all[i]).filter((el) => el.type === 'radio').map((el) => el.name);
      }, a.focused.map((f) => f.domIndex));
      const unreachable = await page.evaluate(({ list, groups }) => {
        const all = document.getElementsByTagName('*');
        return list.filter((u) => !(all[u.domIndex].type === 'radio' && groups.includes(all[u.domIndex].name))).map((u) => u.label);
      }, { list: a.unreachable, groups: radioGroups });
      assert.deepEqual(unreachable, [], `${step}: elements Tab never reaches`);
      assert.deepEqual(a.withoutIndicator.map((f) => f.label), [], `${step}: focused elements without focus indicator`);
      assert.deepEqual(a.offscreen.map((f) => f.label), [], `${step}: focused elements not scrolled into view`);
    }
    await ctx.close();
  });

  test('bad uploads are refused with the type or limit stated next to the field', async () => {
    const ctx = await phoneContext(h);
    const page = await ctx.newPage();
    await startService(page);
    await fillMangel(page);
    await next(page, 'ort');
    await fillOrt(page);
    await next(page, 'foto');

    // Over 10 MB.
    let res = await uploadPhoto(page, OVERSIZE);
    assert.equal(res.status(), 422);
    assert.equal(pathOf(page), `${SERVICE}/schritt/foto`);
    assert.ok((await page.title()).startsWith(ERROR_PREFIX));
    let error = await page.locator('#f-photos-error').innerText();
    assert.match(error, /11 MB/, error);
    assert.match(error, /höchstens 10 MB/, error);
    assert.equal(await page.locator('#f-photos').getAttribute('aria-invalid'), 'true');
    assert.match(await page.locator('#f-photos').getAttribute('aria-describedby'), /f-photos-error/);
    assert.equal(await page.locator('.rh-error-summary a[href="#f-photos"]').count(), 1);
    assert.equal(await page.getByRole('list', { name: 'Hochgeladene Dateien' }).count(), 0, 'nothing was stored');

    // A text file named .png.
    res = await uploadPhoto(page, NOT_A_PNG);
    assert.equal(res.status(), 422);
    error = await page.locator('#f-photos-error').innerText();
    assert.match(error, /nicht unterstützt/, error);
    assert.match(error, /JPEG/, error);
    assert.match(error, /PNG/, error);
    assert.equal(await page.getByRole('list', { name: 'Hochgeladene Dateien' }).count(), 0, 'nothing was stored');

    // A good one still works afterwards, and can be removed again.
    res = await uploadPhoto(page);
    assert.equal(res.status(), 200);
    assert.equal(await page.locator('#f-photos-error').count(), 0);
    const files = page.getByRole('list', { name: 'Hochgeladene Dateien' });
    assert.match(await files.innerText(), /schlagloch\.png/);
    await navigate(page, () => files.getByRole('button', { name: /Entfernen/ }).click());
    assert.equal(await page.getByRole('list', { name: 'Hochgeladene Dateien' }).count(), 0, 'the photo was removed');
    await ctx.close();
  });

  test('a wrong-type upload names only the types this field takes', async () => {
    const ctx = await phoneContext(h);
    const page = await ctx.newPage();
    await fillAll(page, { photo: false });
    await page.goto(`${SERVICE}/schritt/foto`);
    await uploadPhoto(page, NOT_A_PNG);
    assert.doesNotMatch(await page.locator('#f-photos-error').innerText(), /PDF/);
    await ctx.close();
  });

  test('in English an oversize upload states the limit in MB', async () => {
    const ctx = await phoneContext(h);
    const page = await ctx.newPage();
    await page.goto(`${SERVICE}?lang=en`);
    await navigate(page, () => page.getByRole('button', { name: 'Start now' }).click());
    await page.getByLabel('Damaged road or pavement', { exact: true }).check();
    await page.getByLabel('Description', { exact: true }).fill(DESCRIPTION);
    await navigate(page, () => page.getByRole('button', { name: 'Continue', exact: true }).click());
    await page.getByLabel('With an address', { exact: true }).check();
    await page.getByLabel('Street', { exact: true }).fill(STREET);
    await navigate(page, () => page.getByRole('button', { name: 'Continue', exact: true }).click());
    await page.locator('#f-photos').setInputFiles(OVERSIZE);
    await navigate(page, () => page.locator('button[value=upload]').click());
    const error = await page.locator('#f-photos-error').innerText();
    assert.match(error, /10 MB/, error);
    assert.doesNotMatch(error, /bytes/, error);
    await ctx.close();
  });

  test('forged posts without the CSRF token or from another site are refused with 403 and create nothing', async () => {
    const ctx = await phoneContext(h);
    const page = await ctx.newPage();

    // A post without the token: no draft is started.
    await page.goto(SERVICE);
    const noToken = await page.request.post(`${SERVICE}/start`, { form: {}, maxRedirects: 0 });
    assert.equal(noToken.status(), 403);
    assert.match(await noToken.text(), /Das Formular ist abgelaufen/);
    assert.ok(!(noToken.headers()['set-cookie'] ?? '').includes('rh_draft'), 'no draft cookie');
    assert.equal((await ctx.cookies()).filter((c) => c.name === 'rh_draft').length, 0, 'no draft in the browser');
    const wrongToken = await page.request.post(`${SERVICE}/start`, { form: { csrf: 'x'.repeat(43) }, maxRedirects: 0 });
    assert.equal(wrongToken.status(), 403);

    // A complete report, then forged submits: none of them submits it.
    const before = await (async () => {
      const c = await phoneContext(h);
      const p = await c.newPage();
      await fillAll(p, { photo: false });
      const r = await submit(p);
      await c.close();
      return r;
    })();
    await fillAll(page, { email: 'gefaelscht@example.org', photo: false });
    const csrf = await csrfOf(page);
    let r = await page.request.post(`${SERVICE}/absenden`, { form: {}, maxRedirects: 0 });
    assert.equal(r.status(), 403, 'submit without token');
    r = await page.request.post(`${SERVICE}/absenden`, { form: { csrf }, headers: { Origin: 'https://evil.example' }, maxRedirects: 0 });
    assert.equal(r.status(), 403, 'submit with a stolen token from another origin');
    // A form on another site that the citizen is lured into submitting.
    await page.route('https://evil.example/**', (route) => route.fulfill({
      contentType: 'text/html; charset=utf-8',
      body: `<!doctype html><html lang="de"><title>Gewinnspiel</title><form method="post" action="${h.server.url}${SERVICE}/absenden">`
        + `<input type="hidden" name="csrf" value="${csrf}"><button>Gewinn abholen</button></form></html>`,
    }));
    await page.goto('https://evil.example/');
    const forged = await navigate(page, () => page.getByRole('button', { name: 'Gewinn abholen' }).click());
    assert.equal(forged.status(), 403, 'cross-site form post');
    assert.equal(await h1(page), 'Das Formular ist abgelaufen');
    await page.unroute('https://evil.example/**');

    // Still unsubmitted: the check page is there, no mail went out, the next number is still free.
    await page.goto(`${SERVICE}/pruefen`);
    assert.equal(pathOf(page), `${SERVICE}/pruefen`);
    const mine = await submit(page);
    assert.equal(serial(mine.reference), serial(before.reference) + 1, 'the forged posts created no case');
    await h.smtp.waitForMail((m) => (m.text ?? '').includes(mine.reference), 15_000);
    assert.equal(h.smtp.mails().filter((m) => m.envelopeTo.includes('gefaelscht@example.org')).length, 1);
    await ctx.close();
  });

  test('a disabled municipality and a service not offered show the 404 page', async () => {
    const ctx = await phoneContext(h);
    const page = await ctx.newPage();
    for (const path of ['/cottbus-chosebuz', '/cottbus-chosebuz/maengelmelder', '/cottbus-chosebuz/maengelmelder/schritt/mangel', '/panketal/hundesteuer']) {
      const res = await page.goto(path);
      assert.equal(res.status(), 404, path);
      assert.equal(await h1(page), 'Seite nicht gefunden', path);
    }
    // Posting to a service that is not offered starts nothing either.
    await page.goto('/panketal/hundesteuer');
    const r = await page.request.post('/panketal/hundesteuer/start', { form: {}, maxRedirects: 0 });
    assert.ok([403, 404].includes(r.status()), `status ${r.status()}`);
    await ctx.close();
  });


  test('a step of a service not offered is the plain 404 page', async () => {
    const ctx = await phoneContext(h);
    const page = await ctx.newPage();
    const res = await page.goto('/panketal/hundesteuer/schritt/halter');
    assert.equal(res.status(), 404);
    assert.equal(await h1(page), 'Seite nicht gefunden');
    await ctx.close();
  });
});

// ---------------------------------------------------------------------------------------------
// axe and screenshots on every page type of the flow

/** Walks through every page type of the service flow on one device, auditing each. */
async function everyPageType(device) {
  const ctx = await newContext(h, device);
  const page = await ctx.newPage();
  let n = 20;
  const check = async (name) => { n += 1; await audit(page, device, n, name); };

  await page.goto('/?q=16341');
  await check('search-postcode');
  await page.goto('/?q=14823');
  assert.equal(await page.locator('section[aria-labelledby=results] a').count() > 1, true, '14823 lists several municipalities');
  await check('search-shared-postcode');
  await page.goto('/?q=xy-gibt-es-nicht');
  await check('search-no-result');

  await page.goto(SERVICE);
  await check('service-start');
  await startService(page);
  await check('step-mangel');
  await press(page, BUTTON.next);
  await check('step-mangel-errors');
  await fillMangel(page);
  await next(page, 'ort');
  await check('step-ort');
  await page.getByLabel('Mit einer Adresse', { exact: true }).check();
  await press(page, BUTTON.next);
  assert.match(await page.locator('#f-street-error').innerText(), /Straße/);
  await check('step-ort-errors');
  await fillOrt(page);
  await next(page, 'foto');
  await check('step-foto');
  await uploadPhoto(page, NOT_A_PNG);
  await check('step-foto-errors');
  await uploadPhoto(page);
  await check('step-foto-uploaded');
  await next(page, 'kontakt');
  await check('step-kontakt');
  await page.getByLabel(/^E-Mail-Adresse/).fill('kein-at-zeichen');
  await press(page, BUTTON.next);
  assert.equal(await page.locator('.rh-error-summary a').count(), 2);
  await check('step-kontakt-errors');
  await page.goto(`${SERVICE}/speichern`);
  await check('save');
  await page.getByLabel('E-Mail-Adresse').fill('falsch');
  await press(page, BUTTON.sendLink);
  await check('save-errors');
  await page.getByLabel('E-Mail-Adresse').fill(`${device}@example.org`);
  await press(page, BUTTON.sendLink);
  await check('saved');
  await page.goto(`${SERVICE}/schritt/kontakt`);
  await fillKontakt(page, `${device}@example.org`);
  await next(page, 'pruefen');
  await check('check');
  const { statusHref } = await submit(page);
  await check('confirmation');
  await page.goto(statusHref);
  await check('status');
  await page.goto(`${SERVICE}/fortsetzen/${'A'.repeat(43)}`);
  assert.equal(await h1(page), 'Dieser Link ist nicht mehr gültig');
  await check('resume-expired');
  await page.goto(`/panketal/vorgang/${'A'.repeat(43)}`);
  await check('status-unknown');

  // A second browser without a draft, and a form whose CSRF cookie is gone.
  const ctx2 = await newContext(h, device);
  const page2 = await ctx2.newPage();
  await page2.goto(`${SERVICE}/schritt/mangel`);
  assert.equal(await h1(page2), 'Ihr Antrag wurde nicht gefunden');
  n += 1; await audit(page2, device, n, 'draft-missing');
  await page2.goto(SERVICE);
  await ctx2.clearCookies();
  const refused = await press(page2, BUTTON.start);
  assert.equal(refused.status(), 403);
  assert.equal(await h1(page2), 'Das Formular ist abgelaufen');
  n += 1; await audit(page2, device, n, 'csrf-refused');
  await ctx2.close();

  await page.goto('/barrierefreiheit');
  await check('accessibility');
  await page.goto('/panketal/hundesteuer');
  await check('service-not-offered');

  // English and Leichte Sprache: start page, service start, a step with errors.
  for (const lang of ['en', 'ls']) {
    const c = await newContext(h, device);
    const p = await c.newPage();
    await p.goto(`/?lang=${lang}`);
    assert.equal(await p.locator('html').getAttribute('lang'), lang === 'en' ? 'en' : 'de');
    assert.notEqual(await h1(p), 'Verwaltung online – zu jeder Tageszeit', `${lang}: the start page is translated`);
    n += 1; await audit(p, device, n, `${lang}-start`);
    await p.goto(SERVICE);
    n += 1; await audit(p, device, n, `${lang}-service-start`);
    await navigate(p, () => p.locator('main form button[type=submit]').click());
    assert.equal(pathOf(p), `${SERVICE}/schritt/mangel`);
    n += 1; await audit(p, device, n, `${lang}-step-mangel`);
    await navigate(p, () => p.locator('main button[value=continue]').click());
    assert.equal(await p.locator('.rh-error-summary a').count(), 2);
    assert.ok((await p.title()).startsWith(lang === 'en' ? 'There is a problem: ' : 'Da stimmt etwas nicht: '), await p.title());
    n += 1; await audit(p, device, n, `${lang}-step-mangel-errors`);
    await c.close();
  }
  await ctx.close();
}

describe('every page type of the flow: axe (WCAG 2.1 A/AA) without violations, screenshot', () => {
  test('phone (360 px), no horizontal scrolling', async () => {
    await everyPageType('phone');
  });
  test('desktop (1280 px)', async () => {
    await everyPageType('desktop');
  });
});
