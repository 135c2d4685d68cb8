// Dog tax (Hundesteuer) end to end in the demo's Panketal, as the pilot is accepted: on a phone
// (360×800) a citizen registers two dogs (one from the animal shelter, exempt, with a proof upload),
// pays by SEPA direct debit, sees the engine's tax preview on the check page and submits; a Panketal
// clerk (desktop) approves; the citizen downloads the Hundesteuerbescheid from the status page, whose
// installments must equal those of the quote API for the same dogs and the day of approval; then the
// citizen deregisters one dog with the tag number printed on the notice, sees the credit, a clerk
// approves and the citizen downloads the Änderungsbescheid with the credit; finally a replacement for
// the other dog's lost tag, with the statute's fee on the check page and the Gebührenbescheid.
//
// Also: an invalid IBAN and a 14-digit microchip number are refused next to their fields; "add another
// dog" and removing a dog work in a browser without JavaScript; axe (WCAG 2.1 A/AA, zero violations)
// and a screenshot of every dog-tax page type in German, and of the check page in English and Leichte
// Sprache.
//
// The server's clock is real time: the dates of the dogs are chosen relative to today (Europe/Berlin)
// and every amount expected is asked of the quote API, never written down here. PDFs are read with
// `pdftotext -layout` (poppler-utils). The tests of this file build on each other and run in order.

import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  useHarness, newContext, phoneContext, noJsContext, checkA11y, screenshot, pageProblems, OUT_DIR, fontsLoaded, clearScreenshots, navigate, assertLayout,
} from './harness.js';
import { png, totpAt } from './fixtures.js';

const h = useHarness({ server: { name: 'rathaus-dogtax' } });
before(() => clearScreenshots(/^dogtax-(desktop|phone)-\d+-.*\.png$/));

const TENANT = '/panketal';
const AGS = '12060181';
const REGISTRATION = `${TENANT}/hundesteuer-anmeldung`;
const DEREGISTRATION = `${TENANT}/hundesteuer-abmeldung`;
const CLERK = 'sachbearbeitung@panketal.example';
const IBAN = 'DE02120300000000202051';
/** The same IBAN with one digit changed: the mod-97 check fails. */
const BAD_IBAN = 'DE02120300000000202052';
const HOLDER = {
  name: 'Erika Mustermann', street: 'Schönerlinder Straße 47', postcode: '16341', city: 'Panketal', email: 'erika@example.org',
};
const SHELTER_LABEL = /^Hund aus dem Tierheim \(Steuerbefreiung für 12 Monate\)$/;
const BUTTON = {
  start: 'Jetzt starten', next: 'Weiter', upload: 'Datei hochladen', submit: 'Verbindlich absenden',
};

/** Today in Berlin as YYYY-MM-DD (the server's notion of "today"). */
const berlinToday = () => new Intl.DateTimeFormat('en-CA', { timeZone: 'Europe/Berlin' }).format(new Date());
const TODAY = berlinToday();
const YEAR = Number(TODAY.slice(0, 4));
const MONTH = Number(TODAY.slice(5, 7));
const lastDayOf = (year, month) => new Date(Date.UTC(year, month, 0)).getUTCDate();

/**
 * The two dogs. Both were taken in this year, so the notice covers one year only: Luna from the
 * shelter on 1 January (exempt for her first 12 liable months, i.e. all year: she pays nothing and
 * is not counted), Bello on 2 January (liable from February; the only dog counted, so he pays the
 * first dog's rate).
 */
const LUNA = { name: 'Luna', breed: 'Mischling', kept_from: `${YEAR}-01-01`, chip: '276098100001234', exemption: 'shelter' };
const BELLO = { name: 'Bello', breed: 'Labrador', kept_from: `${YEAR}-01-02`, chip: '276098100005678', exemption: null };
/**
 * The day Bello leaves: today, except in December, where today would change nothing in the year's
 * tax; then 30 November (in January the end lies before his liability starts: he pays nothing).
 */
const BELLO_END = MONTH === 12 ? `${YEAR}-11-30` : TODAY;

// ---------------------------------------------------------------------------------------------
// Test files

/** A small, well-formed one-page PDF (catalog, page tree, page, font, content, exact xref offsets). */
function pdf(text) {
  const content = `BT /F1 14 Tf 72 760 Td (${text.replace(/[()\\]/g, '\\$&')}) Tj ET`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
    `<< /Length ${Buffer.byteLength(content, 'latin1')} >>\nstream\n${content}\nendstream`,
  ];
  let out = '%PDF-1.4\n';
  const offsets = [];
  objects.forEach((body, i) => {
    offsets.push(Buffer.byteLength(out, 'latin1'));
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const xref = Buffer.byteLength(out, 'latin1');
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) out += `${String(o).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

const SHELTER_PROOF = { name: 'tierheim-bescheinigung.pdf', mimeType: 'application/pdf', buffer: pdf('Tierheim Panketal: Luna wurde am 1. Januar vermittelt.') };
const HANDOVER_PROOF = { name: 'abgabe-bello.png', mimeType: 'image/png', buffer: png(2, 2, [40, 120, 200]) };

// ---------------------------------------------------------------------------------------------
// TOTP (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps) and the demo's credentials from its banner

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const stepNow = () => Math.floor(Date.now() / 1000 / 30);
const usedSteps = new Map();

/** A code from a time step the account has not used yet (the server takes each step once). */
async function freshCode(acc) {
  const last = usedSteps.get(acc.email) ?? -Infinity;
  while (stepNow() <= last) await sleep((stepNow() + 1) * 30_000 - Date.now() + 300);
  const step = stepNow();
  usedSteps.set(acc.email, step);
  return totpAt(acc.totp, step);
}

/** A demo account as `rathaus demo` printed it: {email, password, totp}. */
async function demoAccount(email) {
  const re = /^ {4}(\S+@\S+)\s+.+?\n\s+password (\S+)\s*\n\s+TOTP\s+([A-Z2-7]+)/gm;
  for (let i = 0; i < 50; i += 1) {
    const found = [...readFileSync(h.server.logFile, 'utf8').matchAll(re)].find((m) => m[1] === email);
    if (found) return { email, password: found[2], totp: found[3] };
    await sleep(100); // the log is written asynchronously
  }
  throw new Error(`demo account ${email} not in ${h.server.logFile}`);
}

// ---------------------------------------------------------------------------------------------
// Page helpers

const pathOf = (page) => new URL(page.url()).pathname;

const press = (page, name) => navigate(page, () => page.getByRole('button', { name, exact: true }).click());
const follow = (page, locator) => navigate(page, () => locator.click());
const h1 = async (page) => (await page.locator('h1').innerText()).trim();
/** Text with no-break spaces as plain spaces ("42,17 €"). */
const plain = (s) => s.replace(/[\u00a0\u202f]/g, ' ');
const mainText = async (page) => plain(await page.locator('main').innerText());

/** Presses "Weiter" and expects to land on `want` (a path) with the given status. */
async function next(page, want, status = 200) {
  const res = await press(page, BUTTON.next);
  assert.equal(res.status(), status, `Weiter towards ${want}: status (at ${page.url()})`);
  assert.equal(pathOf(page), want);
  return res;
}

let shot = 0;
/**
 * Without JavaScript only what needs no script in the page: no console errors or failed requests, a
 * screenshot. (Axe runs as a script; the same page types are checked with it in the tests above.)
 */
async function pageShot(page, name) {
  assert.deepEqual(pageProblems(page), [], `${name}: no console errors or failed requests`);
  shot += 1;
  await screenshot(page, `dogtax-phone-${String(shot).padStart(2, '0')}-${name}`);
}

/**
 * Axe without violations, no console errors, no script, no sideways scrolling or protruding elements
 * on a phone, no squeezed buttons; then a full-page screenshot `dogtax-<device>-<nn>-<name>.png`.
 */
async function audit(page, name, device = 'phone') {
  await fontsLoaded(page);
  assert.deepEqual(pageProblems(page), [], `${name}: no console errors or failed requests`);
  assert.equal(await page.locator('script').count(), 0, `${name}: the page carries no script`);
  await checkA11y(page, `dogtax-${device}-${name}`);
  await assertLayout(page, name, device);
  shot += 1;
  await screenshot(page, `dogtax-${device}-${String(shot).padStart(2, '0')}-${name}`);
}

/** The field's error message next to it, its aria wiring, and the summary's link to it. */
async function assertFieldError(page, field, pattern) {
  const error = page.locator(`#f-${field}-error`);
  assert.equal(await error.count(), 1, `an error next to ${field}`);
  assert.match(plain(await error.innerText()), pattern);
  const input = page.locator(`#f-${field}`);
  assert.equal(await input.getAttribute('aria-invalid'), 'true', `${field} is marked invalid`);
  assert.match(await input.getAttribute('aria-describedby'), new RegExp(`f-${field}-error`));
  assert.equal(await page.locator(`.rh-error-summary a[href="#f-${field}"]`).count(), 1, `the summary links to ${field}`);
  // The message sits right under its own field, inside the field's block.
  assert.equal(await page.locator(`.kern-form-input:has(#f-${field}) #f-${field}-error`).count(), 1);
}

// ---------------------------------------------------------------------------------------------
// Amounts, dates, the quote API and PDFs

/** "1.234,50 €" → "1234.50" */
const euroToDecimal = (s) => plain(s).replace(/[€\s]/g, '').replace(/\./g, '').replace(',', '.');
/** "1234.5" → "1.234,50 €" (as the German pages and notices print amounts). */
function decimalToEuro(d) {
  const [whole, cents = '00'] = Number(d).toFixed(2).split('.');
  return `${whole.replace(/\B(?=(\d{3})+(?!\d))/g, '.')},${cents} €`;
}
/** "2026-12-27" → "27.12.2026" */
const germanDate = (iso) => iso.split('-').reverse().join('.');
/** "2026-12-27" → "27 December 2026" */
const englishDate = (iso) => {
  const [y, m, d] = iso.split('-').map(Number);
  return `${d} ${new Date(Date.UTC(y, m - 1, 1)).toLocaleString('en', { month: 'long', timeZone: 'UTC' })} ${y}`;
};
const cents = (d) => Math.round(Number(d) * 100);

const dogJson = (d, keptUntil = null) => ({
  name: d.name, kept_from: d.kept_from, kept_until: keptUntil, dangerous: false, exemption: d.exemption, reduction: null,
});

/** The engine's quote through the public API. */
async function quote(dogs, assessmentDate) {
  const res = await fetch(`${h.server.url}/api/v1/tenants/${AGS}/dog-tax/quote`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify({ year: YEAR, assessment_date: assessmentDate, dogs }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, `quote API: ${JSON.stringify(body)}`);
  return body;
}

/** The text of a PDF (`pdftotext -layout`), also written next to the logs for reading. */
function pdfText(buffer, name) {
  mkdirSync(OUT_DIR, { recursive: true });
  const file = path.join(OUT_DIR, `${name}.pdf`);
  writeFileSync(file, buffer);
  const text = execFileSync('pdftotext', ['-layout', '-enc', 'UTF-8', file, '-'], { encoding: 'utf8' });
  writeFileSync(path.join(OUT_DIR, `${name}.txt`), text);
  return plain(text);
}

/** The rows of the notice's "Fälligkeiten" table: [{due: 'YYYY-MM-DD', amount: 'x.yy'}]. */
function installmentsOf(text) {
  const start = text.indexOf('Fälligkeiten');
  assert.ok(start >= 0, `the notice has a "Fälligkeiten" section:\n${text}`);
  const section = text.slice(start);
  const end = section.search(/^\s*Summe\b/m);
  assert.ok(end > 0, `the installments table ends with its sum:\n${section}`);
  return [...section.slice(0, end).matchAll(/(\d{2})\.(\d{2})\.(\d{4})\s+(-?[\d.]+,\d{2}) €/g)]
    .map((m) => ({ due: `${m[3]}-${m[2]}-${m[1]}`, amount: euroToDecimal(m[4]) }));
}

const installmentsOfQuote = (q) => q.installments.map((i) => ({ due: i.due, amount: Number(i.amount).toFixed(2) }));

/** Downloads the notice linked on the status page as `title` (a real download, like a citizen). */
async function downloadNotice(page, title) {
  const link = page.locator('main').getByRole('link', { name: title });
  assert.equal(await link.count(), 1, `the status page links "${title}"`);
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  const body = readFileSync(await download.path());
  assert.equal(body.subarray(0, 5).toString('latin1'), '%PDF-');
  return body;
}

// ---------------------------------------------------------------------------------------------
// The office

let clerkState = null;

/** A desktop context signed in as the Panketal clerk (password, then TOTP; the session is reused). */
async function clerkContext() {
  if (!clerkState) {
    const acc = await demoAccount(CLERK);
    const ctx = await newContext(h, 'desktop');
    const page = await ctx.newPage();
    await page.goto('/verwaltung/anmelden');
    await page.getByLabel('Dienstliche E-Mail-Adresse').fill(acc.email);
    await page.getByLabel('Passwort', { exact: true }).fill(acc.password);
    await press(page, 'Weiter');
    assert.equal(pathOf(page), '/verwaltung/anmelden/code');
    await page.getByLabel('Sechsstelliger Code').fill(await freshCode(acc));
    await press(page, 'Bestätigen');
    assert.equal(pathOf(page), '/verwaltung', 'the clerk is signed in');
    clerkState = await ctx.storageState();
    await ctx.close();
  }
  return newContext(h, 'desktop', { storageState: clerkState });
}

/** The clerk finds the case by its reference and approves it ("Stattgeben" with reasons). Returns the Berlin date of approval. */
async function approve(reference, reasons) {
  const ctx = await clerkContext();
  const page = await ctx.newPage();
  await page.goto(`/verwaltung/vorgaenge?q=${encodeURIComponent(reference)}`);
  await follow(page, page.locator('main table').getByRole('link', { name: reference, exact: true }));
  assert.match(pathOf(page), /^\/verwaltung\/vorgaenge\/[^/]+$/);
  assert.equal(await h1(page), reference);
  await page.getByLabel('Stattgeben', { exact: true }).check();
  await page.getByLabel('Begründung', { exact: true }).fill(reasons);
  const approvedOn = berlinToday();
  const res = await press(page, 'Entscheiden');
  assert.equal(res.status(), 200, `deciding ${reference}`);
  const alert = page.locator('main .kern-alert--danger');
  assert.equal(await alert.count(), 0, `the decision went through: ${await alert.allInnerTexts()}`);
  assert.match(await page.locator('main .rh-history').innerText(), /Entschieden: stattgegeben/);
  shot += 1;
  await screenshot(page, `dogtax-desktop-${String(shot).padStart(2, '0')}-office-approved-${reference}`);
  await ctx.close();
  return approvedOn;
}

// ---------------------------------------------------------------------------------------------
// The citizen's journey (one phone browser); state shared by the tests below, in order

const journey = {};

async function fillHolder(page) {
  await page.getByLabel('Vor- und Nachname').fill(HOLDER.name);
  await page.getByLabel('Straße und Hausnummer').fill(HOLDER.street);
  await page.getByLabel('Postleitzahl').fill(HOLDER.postcode);
  await page.getByLabel('Ort', { exact: true }).fill(HOLDER.city);
  await page.getByLabel(/^E-Mail-Adresse/).fill(HOLDER.email);
}

async function fillDog(page, dog, { chip = dog.chip } = {}) {
  await page.getByLabel('Name des Hundes').fill(dog.name);
  await page.getByLabel(/^Rasse oder Mischling/).fill(dog.breed);
  await page.getByLabel('Seit wann halten Sie den Hund in der Gemeinde?').fill(dog.kept_from);
  await page.locator('#f-microchip').fill(chip);
  if (dog.exemption) await page.locator('#f-reason').selectOption(`exemption:${dog.exemption}`);
}

/** The preview lines on the check page: the computed section. */
const previewText = async (page) => plain(await page.locator('main section[aria-labelledby=computed]').innerText());

describe('dog tax in Panketal: register two dogs on a phone, notice, deregister one, change notice', () => {
  test('registration: holder, two dogs (one exempt with proof, errors on a bad chip number), SEPA direct debit (a bad IBAN refused), preview, submit', async () => {
    const ctx = await phoneContext(h);
    const page = await ctx.newPage();
    journey.ctx = ctx;
    journey.page = page;

    // From the municipality's page to the service.
    await page.goto(TENANT);
    await follow(page, page.getByRole('link', { name: 'Hund anmelden (Hundesteuer)' }));
    assert.equal(pathOf(page), REGISTRATION);
    assert.equal(await h1(page), 'Hund anmelden (Hundesteuer)');
    await audit(page, 'anmeldung-start');
    await press(page, BUTTON.start);
    assert.equal(pathOf(page), `${REGISTRATION}/schritt/halter`);
    assert.match(await page.locator('main .kern-preline').innerText(), /Schritt 1 von 4/);
    await audit(page, 'anmeldung-halter');

    // Nothing entered: the errors are listed and shown at their fields.
    await next(page, `${REGISTRATION}/schritt/halter`, 422);
    assert.ok((await page.title()).startsWith('Es gibt ein Problem: '), await page.title());
    assert.equal(await page.locator('.rh-error-summary a').count(), 5, 'name, street, postcode, town, e-mail');
    await audit(page, 'anmeldung-halter-errors');
    await fillHolder(page);
    await next(page, `${REGISTRATION}/schritt/hund/1`);

    // Dog 1: Luna from the shelter, with a 14-digit chip number first.
    assert.equal(await h1(page), 'Hund 1');
    assert.match(await page.locator('main .kern-preline').innerText(), /Schritt 2 von 4/);
    await audit(page, 'anmeldung-hund-1');
    const reasons = await page.locator('#f-reason option').allInnerTexts();
    assert.ok(reasons.some((r) => SHELTER_LABEL.test(r.trim())), `the statute's shelter exemption is offered: ${reasons}`);
    await fillDog(page, LUNA, { chip: LUNA.chip.slice(0, 14) });
    await page.locator('#f-reason_proof').setInputFiles(SHELTER_PROOF);
    let res = await press(page, BUTTON.upload);
    assert.equal(res.status(), 200);
    assert.equal(pathOf(page), `${REGISTRATION}/schritt/hund/1`);
    const files = page.getByRole('list', { name: 'Hochgeladene Dateien' });
    assert.match(await files.innerText(), /tierheim-bescheinigung\.pdf/);
    assert.equal(await page.getByLabel('Name des Hundes').inputValue(), LUNA.name, 'typed answers survive the upload');
    await audit(page, 'anmeldung-hund-1-uploaded');
    res = await next(page, `${REGISTRATION}/schritt/hund/1`, 422);
    await assertFieldError(page, 'microchip', /15 Ziffern/);
    assert.equal(await page.locator('.rh-error-summary a').count(), 1, 'only the chip number is wrong');
    assert.equal(await page.locator('#f-microchip').inputValue(), LUNA.chip.slice(0, 14), 'the wrong number is shown again');
    assert.match(await files.innerText(), /tierheim-bescheinigung\.pdf/, 'the proof stays');
    await audit(page, 'anmeldung-hund-1-errors');
    await page.locator('#f-microchip').fill(LUNA.chip);
    await next(page, `${REGISTRATION}/schritt/hund/weitere`);

    // Add another: yes, Bello.
    assert.match(await page.locator('main').innerText(), /Möchten Sie einen weiteren Hund anmelden\?/);
    assert.equal(await page.locator('main .rh-items > li').count(), 1);
    assert.match(await page.locator('main .rh-items').innerText(), /Luna/);
    await audit(page, 'anmeldung-weitere');
    res = await press(page, BUTTON.next);
    assert.equal(res.status(), 422, 'no answer to "another?"');
    assert.equal(await page.locator('#f-another-error').count(), 1);
    await audit(page, 'anmeldung-weitere-errors');
    await page.getByLabel('Ja', { exact: true }).check();
    await next(page, `${REGISTRATION}/schritt/hund/2`);
    assert.equal(await h1(page), 'Hund 2');
    await fillDog(page, BELLO);
    await next(page, `${REGISTRATION}/schritt/hund/weitere`);
    assert.equal(await page.locator('main .rh-items > li').count(), 2);
    await audit(page, 'anmeldung-weitere-2');
    await page.getByLabel('Nein', { exact: true }).check();
    await next(page, `${REGISTRATION}/schritt/zahlung`);

    // Payment: SEPA direct debit, first with an IBAN whose check digits do not fit.
    assert.match(await page.locator('main .kern-preline').innerText(), /Schritt 3 von 4/);
    await audit(page, 'anmeldung-zahlung');
    await page.getByLabel('Per SEPA-Lastschrift', { exact: true }).check();
    await page.locator('#f-iban').fill(BAD_IBAN);
    await page.locator('#f-account_holder').fill(HOLDER.name);
    await page.getByLabel('Ich erteile das SEPA-Lastschriftmandat.', { exact: true }).check();
    await next(page, `${REGISTRATION}/schritt/zahlung`, 422);
    await assertFieldError(page, 'iban', /IBAN/);
    assert.equal(await page.locator('.rh-error-summary a').count(), 1, 'only the IBAN is wrong');
    assert.ok(await page.getByLabel('Per SEPA-Lastschrift', { exact: true }).isChecked(), 'the choice is kept');
    await audit(page, 'anmeldung-zahlung-errors');
    await page.locator('#f-iban').fill(IBAN.replace(/(.{4})/g, '$1 ').trim()); // as printed on a card
    await next(page, `${REGISTRATION}/schritt/erklaerung`);
    await audit(page, 'anmeldung-erklaerung');
    await page.getByLabel('Ich versichere, dass meine Angaben vollständig und richtig sind.', { exact: true }).check();
    await page.getByLabel('Ich habe die Datenschutzhinweise gelesen.', { exact: true }).check();
    await next(page, `${REGISTRATION}/pruefen`);

    // The check page: answers, and the engine's preview — the same as the quote API says for today.
    assert.equal(await h1(page), 'Angaben prüfen');
    const main = await mainText(page);
    for (const s of [HOLDER.name, 'Luna', 'Bello', LUNA.chip, BELLO.chip, 'tierheim-bescheinigung.pdf', 'Hund aus dem Tierheim']) {
      assert.ok(main.includes(s), `the check page shows "${s}"`);
    }
    const expected = await quote([dogJson(LUNA), dogJson(BELLO)], berlinToday());
    journey.registrationQuote = expected;
    const luna = expected.dogs.find((d) => d.name === 'Luna');
    const bello = expected.dogs.find((d) => d.name === 'Bello');
    assert.equal(luna.amount, '0.00', 'the shelter dog is exempt all year');
    assert.equal(bello.months, 11, 'Bello is liable from February');
    assert.equal(cents(bello.amount), Math.round(4600 * 11 / 12), 'Bello pays the first dog\'s rate: the exempt dog is not counted');
    const preview = await previewText(page);
    assert.match(preview, /Ihre Hundesteuer \(Vorschau\)/);
    assert.ok(preview.includes(`Luna: ${luna.months} Monate steuerpflichtig, ${decimalToEuro(luna.amount)}`), preview);
    assert.ok(preview.includes(`Bello: ${bello.months} Monate steuerpflichtig, ${decimalToEuro(bello.amount)}`), preview);
    for (const i of expected.installments) {
      assert.ok(preview.includes(`Fällig am ${germanDate(i.due)}: ${decimalToEuro(i.amount)}`), `installment ${i.due}:\n${preview}`);
    }
    assert.equal((preview.match(/Fällig am /g) ?? []).length, expected.installments.length, 'no other installment shown');
    assert.ok(preview.includes(`Hundesteuer ${YEAR} insgesamt: ${decimalToEuro(expected.total)}`), preview);
    assert.match(preview, /Beispielwerte/, 'the demo says its rates are examples');
    // The mandate with Panketal's creditor id and the reference the notice will carry.
    const mandate = preview.match(/Mandatsreferenz: (HST-12060181-[A-Z2-7]{12})/);
    assert.ok(mandate, `mandate reference on the check page:\n${preview}`);
    journey.mandateReference = mandate[1];
    assert.match(preview, /Gläubiger-Identifikationsnummer: /);
    assert.match(preview, /Ich ermächtige die Gemeinde Panketal/);
    await audit(page, 'anmeldung-pruefen');

    // The check page in English and in Leichte Sprache, then back to German.
    await page.goto(`${REGISTRATION}/pruefen?lang=en`);
    assert.equal(await page.locator('html').getAttribute('lang'), 'en');
    const en = await previewText(page);
    assert.ok(en.includes(`Bello: taxable for ${bello.months} months, €${bello.amount}`), en);
    for (const i of expected.installments) assert.ok(en.includes(`Due on ${englishDate(i.due)}: €${i.amount}`), `${i.due} in English:\n${en}`);
    await audit(page, 'anmeldung-pruefen-en');
    await page.goto(`${REGISTRATION}/pruefen?lang=ls`);
    const ls = await previewText(page);
    assert.ok(ls.includes(`Steuer für ${YEAR}: ${decimalToEuro(expected.total)}`), ls);
    await audit(page, 'anmeldung-pruefen-ls');
    await page.goto(`${REGISTRATION}/pruefen?lang=de`);
    assert.equal(await h1(page), 'Angaben prüfen');

    // Submit.
    res = await press(page, BUTTON.submit);
    assert.equal(res.status(), 200);
    assert.equal(pathOf(page), `${REGISTRATION}/bestaetigung`);
    journey.reference = (await page.locator('main .rh-reference').innerText()).trim();
    assert.match(journey.reference, new RegExp(`^HST-${YEAR}-\\d{6}$`));
    await audit(page, 'anmeldung-bestaetigung');
    await follow(page, page.getByRole('link', { name: 'Bearbeitungsstand ansehen' }));
    journey.statusHref = pathOf(page);
    // The secret link was exchanged for a cookie: the address is the case's, without the secret.
    assert.equal(journey.statusHref, `/panketal/vorgang/${journey.reference}`);
    assert.match(await page.locator('main dl').innerText(), /Eingegangen/);
    await audit(page, 'anmeldung-status-eingegangen');
  });

  test('a clerk approves; the Hundesteuerbescheid on the status page has the installments the quote API gives for the day of approval', async () => {
    assert.ok(journey.reference, 'the registration was submitted');
    const approvedOn = await approve(journey.reference, 'Anmeldung vollständig; Nachweis des Tierheims liegt vor.');
    const { page } = journey;
    await page.goto(journey.statusHref);
    const title = `Hundesteuerbescheid ${YEAR} (PDF)`;
    assert.match(await mainText(page), new RegExp(`Bescheide und Dokumente[\\s\\S]*${title.replace(/[()]/g, '\\$&')}`));
    await audit(page, 'anmeldung-status-bescheid');

    const text = pdfText(await downloadNotice(page, title), 'dogtax-hundesteuerbescheid');
    assert.match(text, new RegExp(`Bescheid über die Festsetzung der Hundesteuer ${YEAR}`));
    assert.match(text, new RegExp(journey.reference));
    assert.match(text, /Erika Mustermann/);
    assert.match(text, /Befreiung: Hund aus dem Tierheim/);
    assert.match(text, /SEPA-Lastschrift/);
    assert.ok(text.includes(journey.mandateReference), `the notice carries the mandate reference ${journey.mandateReference}`);
    assert.match(text, /DE02 \*\*\*\* \*\*\*\* 2051/, 'the IBAN is masked');
    assert.match(text, /Rechtsbehelfsbelehrung/);

    const expected = await quote([dogJson(LUNA), dogJson(BELLO)], approvedOn);
    assert.deepEqual(installmentsOf(text), installmentsOfQuote(expected), `installments of the notice vs. the quote API (assessment date ${approvedOn})`);
    assert.match(text, new RegExp(`Steuer für das Jahr\\s+${decimalToEuro(expected.total).replace('.', '\\.')}`));

    // The tag numbers and the Kassenzeichen, for the deregistration.
    const kz = text.match(/Kassenzeichen\s+(\S+)/);
    assert.ok(kz, 'a Kassenzeichen');
    journey.kassenzeichen = kz[1];
    const belloRow = text.split('\n').find((l) => /\bBello\b/.test(l));
    const tag = belloRow?.trim().match(/^(\S+)\s+Bello\b/);
    assert.ok(tag, `Bello's row starts with his tag number: ${belloRow}`);
    journey.belloTag = tag[1];
    assert.notEqual(journey.belloTag, '–', 'Bello has a tag');
    const lunaRow = text.split('\n').find((l) => /\bLuna\b/.test(l));
    journey.lunaTag = lunaRow?.trim().match(/^(\S+)\s+Luna\b/)?.[1];
    assert.ok(journey.lunaTag && journey.lunaTag !== '–', `Luna, exempt, has a tag all the same: ${lunaRow}`);
  });

  test('deregistration of Bello with the tag number from the notice: credit preview, approval, Änderungsbescheid with the credit', async () => {
    assert.ok(journey.belloTag, 'the notice gave a tag number');
    const { page } = journey;
    await page.goto(TENANT);
    await follow(page, page.getByRole('link', { name: 'Hund abmelden (Hundesteuer)' }));
    assert.equal(pathOf(page), DEREGISTRATION);
    await audit(page, 'abmeldung-start');
    await press(page, BUTTON.start);
    assert.equal(pathOf(page), `${DEREGISTRATION}/schritt/hund`);
    await audit(page, 'abmeldung-hund');
    await page.getByLabel(/^Nummer der Steuermarke oder Kassenzeichen/).fill(journey.belloTag);
    await page.getByLabel('Name des Hundes').fill('Bello');
    await next(page, `${DEREGISTRATION}/schritt/halter`);
    await audit(page, 'abmeldung-halter');
    await fillHolder(page);
    await next(page, `${DEREGISTRATION}/schritt/abmeldung`);
    await audit(page, 'abmeldung-abmeldung');

    // Given away, but without the new keeper and the proof: refused at the fields.
    await page.getByLabel('Seit wann halten Sie den Hund nicht mehr?').fill(BELLO_END);
    await page.getByLabel('Ich habe den Hund abgegeben.', { exact: true }).check();
    await next(page, `${DEREGISTRATION}/schritt/abmeldung`, 422);
    assert.equal(await page.locator('#f-new_holder_name-error').count(), 1);
    assert.equal(await page.locator('#f-new_holder_address-error').count(), 1);
    assert.equal(await page.locator('#f-proof-error').count(), 1);
    await audit(page, 'abmeldung-abmeldung-errors');
    await page.getByLabel('Name der neuen Halterin oder des neuen Halters').fill('Max Schmidt');
    await page.getByLabel('Anschrift der neuen Halterin oder des neuen Halters').fill('Lindenallee 3\n16341 Panketal');
    await page.locator('#f-proof').setInputFiles(HANDOVER_PROOF);
    await next(page, `${DEREGISTRATION}/schritt/erklaerung`);
    await audit(page, 'abmeldung-erklaerung');
    await page.getByLabel('Ich versichere, dass meine Angaben vollständig und richtig sind.', { exact: true }).check();
    await page.getByLabel('Ich habe die Datenschutzhinweise gelesen.', { exact: true }).check();
    await next(page, `${DEREGISTRATION}/pruefen`);

    // The preview: the household's tax falls by what Bello no longer pays.
    const before = await quote([dogJson(LUNA), dogJson(BELLO)], berlinToday());
    const after = await quote([dogJson(LUNA), dogJson(BELLO, BELLO_END)], berlinToday());
    const credit = (cents(before.total) - cents(after.total)) / 100;
    assert.ok(credit > 0, `deregistering Bello as of ${BELLO_END} lowers the tax (${before.total} → ${after.total})`);
    const preview = await previewText(page);
    assert.ok(preview.includes(`Die Hundesteuer ${YEAR} Ihres Haushalts sinkt durch die Abmeldung um ${decimalToEuro(credit)}`), preview);
    await audit(page, 'abmeldung-pruefen');
    await page.goto(`${DEREGISTRATION}/pruefen?lang=en`);
    assert.ok((await previewText(page)).includes(`by €${credit.toFixed(2)}`));
    await audit(page, 'abmeldung-pruefen-en');
    await page.goto(`${DEREGISTRATION}/pruefen?lang=ls`);
    await audit(page, 'abmeldung-pruefen-ls');
    await page.goto(`${DEREGISTRATION}/pruefen?lang=de`);

    const res = await press(page, BUTTON.submit);
    assert.equal(res.status(), 200);
    const reference = (await page.locator('main .rh-reference').innerText()).trim();
    assert.match(reference, new RegExp(`^HSA-${YEAR}-\\d{6}$`));
    await audit(page, 'abmeldung-bestaetigung');
    await follow(page, page.getByRole('link', { name: 'Bearbeitungsstand ansehen' }));
    const statusHref = pathOf(page);
    await audit(page, 'abmeldung-status-eingegangen');

    const approvedOn = await approve(reference, 'Abgabe an Max Schmidt nachgewiesen.');
    await page.goto(statusHref);
    const title = `Änderungsbescheid Hundesteuer ${YEAR} (PDF)`;
    await audit(page, 'abmeldung-status-bescheid');
    const text = pdfText(await downloadNotice(page, title), 'dogtax-aenderungsbescheid');
    assert.match(text, new RegExp(`Änderungsbescheid über die Hundesteuer ${YEAR}`));
    assert.match(text, new RegExp(`Der Hund „Bello“ \\(Steuermarke ${journey.belloTag}\\) ist zum ${germanDate(BELLO_END)} abgemeldet`));
    assert.ok(text.includes(journey.kassenzeichen), 'the same Kassenzeichen as the first notice');
    const kv = (label) => text.match(new RegExp(`${label}\\s+([\\d.]+,\\d{2}) €`))?.[1];
    assert.equal(kv('Bisher festgesetzt'), decimalToEuro(before.total).replace(' €', ''));
    assert.equal(kv('Neu festgesetzt'), decimalToEuro(after.total).replace(' €', ''));
    assert.equal(kv('Minderung'), decimalToEuro(credit).replace(' €', ''), 'the credit');
    // Nothing had fallen due yet under the first notice, so what is left to pay is what the engine
    // quotes for the remaining dogs as of today.
    const expected = await quote([dogJson(LUNA), dogJson(BELLO, BELLO_END)], approvedOn);
    assert.deepEqual(installmentsOf(text), installmentsOfQuote(expected), 'installments of the change notice vs. the quote API');
  });

  test('a replacement for Luna\'s lost tag: the statute\'s fee on the check page, a new tag and the fee notice', async () => {
    assert.ok(journey.lunaTag, 'the notice gave Luna a tag number');
    const { page } = journey;
    const SERVICE = `${TENANT}/hundesteuer-ersatzmarke`;
    await page.goto(TENANT);
    await follow(page, page.getByRole('link', { name: 'Ersatz für eine Hundesteuermarke' }));
    assert.equal(pathOf(page), SERVICE);
    await audit(page, 'ersatzmarke-start');
    await press(page, BUTTON.start);
    assert.equal(pathOf(page), `${SERVICE}/schritt/marke`);
    await next(page, `${SERVICE}/schritt/marke`, 422);
    await audit(page, 'ersatzmarke-marke-errors');
    await page.getByLabel(/^Nummer der bisherigen Steuermarke oder Kassenzeichen/).fill(journey.lunaTag);
    await page.getByLabel('Name des Hundes').fill('Luna');
    await page.getByLabel('Sie ist verloren gegangen.', { exact: true }).check();
    await next(page, `${SERVICE}/schritt/halter`);
    await fillHolder(page);
    await next(page, `${SERVICE}/schritt/erklaerung`);
    await page.getByLabel('Ich versichere, dass meine Angaben vollständig und richtig sind.', { exact: true }).check();
    await page.getByLabel('Ich habe die Datenschutzhinweise gelesen.', { exact: true }).check();
    await next(page, `${SERVICE}/pruefen`);
    const fee = (await previewText(page)).match(/Gebühr für die Ersatz-Steuermarke: (\d+,\d{2}) €/)?.[1];
    assert.ok(fee, `the check page names the statute's fee:\n${await previewText(page)}`);
    await audit(page, 'ersatzmarke-pruefen');

    const res = await press(page, BUTTON.submit);
    assert.equal(res.status(), 200);
    const reference = (await page.locator('main .rh-reference').innerText()).trim();
    assert.match(reference, new RegExp(`^HSE-${YEAR}-\\d{6}$`));
    await audit(page, 'ersatzmarke-bestaetigung');
    await follow(page, page.getByRole('link', { name: 'Bearbeitungsstand ansehen' }));
    const statusHref = pathOf(page);

    await approve(reference, 'Verlust glaubhaft gemacht.');
    await page.goto(statusHref);
    await audit(page, 'ersatzmarke-status-bescheid');
    const text = pdfText(await downloadNotice(page, /Gebührenbescheid Ersatz-Steuermarke/), 'dogtax-gebuehrenbescheid').replace(/\s+/g, ' ');
    assert.match(text, /Gebührenbescheid für eine Ersatz-Steuermarke/);
    const replaced = text.match(/für Ihren Hund „Luna“ erhalten Sie die Ersatz-Steuermarke Nr\. (\S+)\. Die bisherige Steuermarke Nr\. (\S+) ist ab sofort ungültig/);
    assert.ok(replaced, `the notice names the new and the old tag:\n${text}`);
    assert.equal(replaced[2], journey.lunaTag);
    assert.notEqual(replaced[1], journey.lunaTag, 'a new number');
    assert.match(text, new RegExp(`Gebühr ${fee} €`));
    assert.ok(text.includes(journey.kassenzeichen), 'the household\'s Kassenzeichen');
    await journey.ctx.close();
  });
});

describe('without JavaScript', () => {
  test('"add another dog" and removing a dog work, and the check page shows the preview', async () => {
    const ctx = await noJsContext(h, 'phone');
    const page = await ctx.newPage();
    await page.setContent('<p id="x">static</p><script>document.getElementById("x").textContent = "scripted";</script>');
    assert.equal(await page.locator('#x').innerText(), 'static', 'scripts do not run in this browser');

    await page.goto(REGISTRATION);
    await press(page, BUTTON.start);
    await fillHolder(page);
    await page.getByLabel('Vor- und Nachname').fill('Jonas Beispiel');
    await next(page, `${REGISTRATION}/schritt/hund/1`);
    const dogs = ['Rex', 'Mia', 'Odin'].map((name, i) => ({ name, breed: 'Mischling', kept_from: `${YEAR}-01-0${i + 1}`, chip: `27609810000${1000 + i}`, exemption: null }));
    await fillDog(page, dogs[0]);
    await next(page, `${REGISTRATION}/schritt/hund/weitere`);
    for (const [i, dog] of dogs.slice(1).entries()) {
      await page.getByLabel('Ja', { exact: true }).check();
      await next(page, `${REGISTRATION}/schritt/hund/${i + 2}`);
      await fillDog(page, dog);
      await next(page, `${REGISTRATION}/schritt/hund/weitere`);
    }
    const items = page.locator('main .rh-items > li');
    assert.equal(await items.count(), 3);

    // Remove Mia, the middle one: Rex and Odin remain, numbered 1 and 2.
    const remove = page.getByRole('button', { name: 'Hund 2 entfernen' });
    assert.equal(await remove.count(), 1);
    const res = await navigate(page, () => remove.click());
    assert.equal(res.status(), 200);
    assert.equal(pathOf(page), `${REGISTRATION}/schritt/hund/weitere`);
    assert.equal(await items.count(), 2);
    const listed = await page.locator('main .rh-items').innerText();
    assert.match(listed, /Rex/);
    assert.match(listed, /Odin/);
    assert.doesNotMatch(listed, /Mia/);
    assert.deepEqual((await items.locator('h3').allInnerTexts()).map((s) => s.trim()), ['Hund 1', 'Hund 2']);
    await pageShot(page, 'nojs-weitere-nach-entfernen');
    // The change link of the second dog leads to Odin.
    await follow(page, items.nth(1).getByRole('link', { name: /^Ändern/ }));
    assert.equal(pathOf(page), `${REGISTRATION}/schritt/hund/2`);
    assert.equal(await page.getByLabel('Name des Hundes').inputValue(), 'Odin');
    await next(page, `${REGISTRATION}/schritt/hund/weitere`);

    await page.getByLabel('Nein', { exact: true }).check();
    await next(page, `${REGISTRATION}/schritt/zahlung`);
    await page.getByLabel('Per Überweisung', { exact: true }).check();
    await next(page, `${REGISTRATION}/schritt/erklaerung`);
    await page.getByLabel('Ich versichere, dass meine Angaben vollständig und richtig sind.', { exact: true }).check();
    await page.getByLabel('Ich habe die Datenschutzhinweise gelesen.', { exact: true }).check();
    await next(page, `${REGISTRATION}/pruefen`);
    const expected = await quote([dogs[0], dogs[2]].map((d) => dogJson(d)), berlinToday());
    const preview = await previewText(page);
    assert.ok(preview.includes(`Hundesteuer ${YEAR} insgesamt: ${decimalToEuro(expected.total)}`), preview);
    assert.doesNotMatch(await mainText(page), /Mia/);
    assert.match(preview, /Sie zahlen per Überweisung/);
    await pageShot(page, 'nojs-pruefen-ueberweisung');
    await ctx.close();
  });
});
