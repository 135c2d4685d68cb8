// The back office (/verwaltung) in the demo: staff sign in with password and TOTP, work on a citizen's
// defect report (take over, ask, decide), the four-eyes rule, a tenant admin's settings and staff
// accounts, the audit log — and what the citizen sees of it on the status page. With axe (WCAG 2.1
// A/AA) and a screenshot of every office page type on desktop and phone, and keyboard-only use of
// the sign-in and the decision form.
//
// The demo prints its staff credentials (e-mail, password, TOTP secret) in its banner on stdout; they
// are read from the server's log. TOTP codes are computed here (RFC 6238). The server refuses a code
// of a time step already used by the account, so a second sign-in of one account waits for the next
// step; to save that time each account signs in once and its session is reused (storageState).
//
// The tests of this file build on each other (one server, one case flowing through them) and run in
// order.

import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import {
  useHarness, newContext, checkA11y, screenshot, keyboardAudit, pageProblems, settleScroll, fontsLoaded, clearScreenshots, navigate, assertLayout,
} from './harness.js';
import { png, totpAt } from './fixtures.js';

before(() => clearScreenshots(/^office-(desktop|phone)-\d+-.*\.png$/));

const h = useHarness({
  smtp: true,
  server: {
    name: 'rathaus-office',
    pickPort: true,
    env: ({ smtp }) => ({ RATHAUS_SMTP_URL: `smtp://127.0.0.1:${smtp.port}` }),
  },
});

const SERVICE = '/panketal/maengelmelder';
const YEAR = new Intl.DateTimeFormat('en', { timeZone: 'Europe/Berlin', year: 'numeric' }).format(new Date());
const REFERENCE = new RegExp(`^MM-${YEAR}-\\d{6}$`);
const SIGN_IN = '/verwaltung/anmelden';
const CODE = '/verwaltung/anmelden/code';
const INBOX = '/verwaltung/vorgaenge';
const SESSION_COOKIE = '__Host-rh_staff';
const CATEGORY = 'Straße oder Gehweg beschädigt';
const PRIVACY = 'Ich habe die Datenschutzhinweise gelesen.';
const QUESTION = 'Ist das Schlagloch vor Hausnummer 47 oder gegenüber? Bitte schicken Sie uns ein Foto.';
const ANSWER = 'Direkt vor Hausnummer 47, auf dem Radweg. Foto anbei.';
const REASONS = 'Der Bauhof beseitigt das Schlagloch in der nächsten Woche.';
const NOTE = 'Bauhof informiert, Auftrag 4711 (nur intern).';
const NEW_PASSWORD = 'Kirschbaum Laterne Radweg Sommer';
/** The message the sign-in page gives for a wrong address or password. */
const ERR_INVALID = 'E-Mail-Adresse oder Passwort stimmen nicht, oder das Konto ist nicht freigeschaltet.';


// ---------------------------------------------------------------------------------------------
// TOTP (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps) and the demo's credentials

const stepNow = () => Math.floor(Date.now() / 1000 / 30);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The last time step used per account: the server takes each step only once (replay protection). */
const usedSteps = new Map();

/** A code for `account` from a step it has not used yet (waiting for the next step if need be). */
async function freshCode(account) {
  const last = usedSteps.get(account.email) ?? -Infinity;
  while (stepNow() <= last) {
    await sleep((stepNow() + 1) * 30_000 - Date.now() + 300);
  }
  const step = stepNow();
  usedSteps.set(account.email, step);
  return totpAt(account.totp, step);
}

/** A six-digit code that is valid for none of the steps the server accepts now. */
function wrongCode(account) {
  const s = stepNow();
  const valid = new Set([-2, -1, 0, 1, 2].map((d) => totpAt(account.totp, s + d)));
  for (const c of ['000000', '123456', '999999', '314159']) if (!valid.has(c)) return c;
  throw new Error('no wrong code found');
}

let demoStaffCache = null;
/** The demo accounts from the banner `rathaus demo` printed: e-mail → {email, role, password, totp, uri}. */
async function demoStaff() {
  if (demoStaffCache) return demoStaffCache;
  const re = /^ {4}(\S+@\S+)\s+(.+?)\s*\n\s+password (\S+)\s*\n\s+TOTP\s+([A-Z2-7]+)\s*\n\s+(otpauth:\/\/\S+)/gm;
  for (let i = 0; i < 50; i += 1) {
    const text = readFileSync(h.server.logFile, 'utf8');
    const found = [...text.matchAll(re)].map((m) => ({ email: m[1], role: m[2], password: m[3], totp: m[4], uri: m[5] }));
    if (found.length >= 7) {
      demoStaffCache = Object.fromEntries(found.map((a) => [a.email, a]));
      return demoStaffCache;
    }
    await sleep(100); // the log is written asynchronously
  }
  throw new Error(`demo staff not found in ${h.server.logFile}`);
}

const account = async (email) => {
  const a = (await demoStaff())[email];
  assert.ok(a, `demo account ${email} in the banner`);
  return a;
};
const CLERK = 'sachbearbeitung@panketal.example';
const ADMIN = 'verwaltung@panketal.example';
const BELZIG_CLERK = 'sachbearbeitung@bad-belzig.example';
const NIEMEGK_CLERK = 'sachbearbeitung@amt-niemegk.example';
const OPERATOR = 'betrieb@dikom.example';

// ---------------------------------------------------------------------------------------------
// Page helpers

const pathOf = (page) => new URL(page.url()).pathname;

const press = (page, name, scope = page) => navigate(page, () => scope.getByRole('button', { name, exact: true }).click());
const follow = (page, locator) => navigate(page, () => locator.click());
const h1 = async (page) => (await page.locator('h1').innerText()).trim();
const mainText = (page) => page.locator('main').innerText();
/** The value next to a term of the description list at the top of a case page. */
const caseField = (page, term) => page.locator('main dl').first()
  .locator('.kern-description-list-item', { has: page.locator('dt', { hasText: new RegExp(`^${term}$`) }) })
  .locator('dd').innerText();

const shots = { desktop: 0, phone: 0 };

/**
 * Axe without violations, no console errors or failed requests, no sideways scrolling on the phone (a
 * table may scroll inside its own region), no squeezed buttons, then a screenshot.
 */
async function audit(page, device, name) {
  await fontsLoaded(page);
  // The screenshot first, so that a failing check below can be looked at.
  shots[device] += 1;
  await screenshot(page, `office-${device}-${String(shots[device]).padStart(2, '0')}-${name}`);
  assert.deepEqual(pageProblems(page), [], `${name}: no console errors or failed requests`);
  await checkA11y(page, `office-${device}-${name}`);
  await assertLayout(page, name, device);
}

// ---------------------------------------------------------------------------------------------
// Staff sessions

/** storageState per account after its one sign-in. */
const sessions = new Map();

/** Signs in on `page` with e-mail, password and a fresh TOTP code; ends on `expect`. */
async function signIn(page, acc, { expect = '/verwaltung', from = SIGN_IN } = {}) {
  if (pathOf(page) !== from || page.url() === 'about:blank') await page.goto(from);
  await page.getByLabel('Dienstliche E-Mail-Adresse').fill(acc.email);
  await page.getByLabel('Passwort', { exact: true }).fill(acc.password);
  const res = await press(page, 'Weiter');
  assert.equal(res.status(), 200, `password step of ${acc.email}`);
  assert.equal(pathOf(page), CODE);
  await page.getByLabel('Sechsstelliger Code').fill(await freshCode(acc));
  await press(page, 'Bestätigen');
  assert.equal(pathOf(page), expect, `${acc.email} signed in`);
}

/** A context (desktop or phone) signed in as `acc`: signs in the first time, reuses the session after. */
async function staffContext(acc, device = 'desktop') {
  if (!sessions.has(acc.email)) {
    const ctx = await newContext(h, 'desktop');
    const page = await ctx.newPage();
    await signIn(page, acc);
    sessions.set(acc.email, await ctx.storageState());
    await ctx.close();
  }
  return newContext(h, device, { storageState: sessions.get(acc.email) });
}

/** Opens `path` as `acc` on desktop and phone, checks the status, audits both. */
async function auditBoth(acc, path, name, { status = 200, heading } = {}) {
  for (const device of ['desktop', 'phone']) {
    const ctx = acc ? await staffContext(acc, device) : await newContext(h, device);
    const page = await ctx.newPage();
    const res = await page.goto(path);
    assert.equal(res.status(), status, `${name}: status of ${path} on ${device}`);
    if (heading) assert.match(await h1(page), heading, `${name}: h1`);
    await audit(page, device, name);
    await ctx.close();
  }
}

/** The one-time link from the e-mail the server sent to `address` (the captured SMTP mail). */
async function enrolmentLinkMailedTo(address) {
  const mail = await h.smtp.waitForMail((m) => m.envelopeTo.includes(address) && /\/verwaltung\/einrichten\//.test(m.text ?? ''), 15_000);
  const link = mail.text.match(/https?:\/\/\S+\/verwaltung\/einrichten\/[A-Za-z0-9_-]+/)?.[0];
  assert.ok(link?.startsWith(`${h.server.url}/verwaltung/einrichten/`), `enrolment link in the mail:\n${mail.text}`);
  return link;
}

const hasSessionCookie = async (ctx) => (await ctx.cookies()).some((c) => c.name === SESSION_COOKIE);

// ---------------------------------------------------------------------------------------------
// The citizen's side

/** Reports a defect in Panketal; resolves with the reference and the status page's path. */
async function reportDefect(page, { name, email, description = 'Tiefes Schlagloch auf dem Radweg, etwa 30 cm breit.' } = {}) {
  await page.goto(SERVICE);
  await press(page, 'Jetzt starten');
  await page.getByLabel(CATEGORY, { exact: true }).check();
  await page.getByLabel('Beschreibung', { exact: true }).fill(description);
  await press(page, 'Weiter');
  await page.getByLabel('Mit einer Adresse', { exact: true }).check();
  await page.getByLabel('Straße', { exact: true }).fill('Schönerlinder Straße');
  await page.getByLabel(/^Hausnummer/).fill('47');
  await press(page, 'Weiter');
  assert.equal(pathOf(page), `${SERVICE}/schritt/foto`);
  await press(page, 'Weiter');
  assert.equal(pathOf(page), `${SERVICE}/schritt/kontakt`);
  if (name) await page.getByLabel(/^Ihr Name/).fill(name);
  if (email) await page.getByLabel(/^E-Mail-Adresse/).fill(email);
  await page.getByLabel(PRIVACY, { exact: true }).check();
  await press(page, 'Weiter');
  assert.equal(pathOf(page), `${SERVICE}/pruefen`);
  await press(page, 'Verbindlich absenden');
  assert.equal(pathOf(page), `${SERVICE}/bestaetigung`);
  const reference = (await page.locator('main .rh-reference').innerText()).trim();
  assert.match(reference, REFERENCE);
  const statusHref = await page.getByRole('link', { name: 'Bearbeitungsstand ansehen' }).getAttribute('href');
  return { reference, statusHref };
}

/** As a clerk on the inbox: the case's id, found by its reference. */
async function caseIdOf(page, reference) {
  await page.goto(`${INBOX}?q=${encodeURIComponent(reference)}`);
  const href = await page.locator('main table').getByRole('link', { name: reference, exact: true }).getAttribute('href');
  const id = href.match(/^\/verwaltung\/vorgaenge\/([^/]+)$/)?.[1];
  assert.ok(id, `case link ${href}`);
  return id;
}

/** The reference links listed in the inbox table (none when the inbox is empty). */
async function inboxReferences(page) {
  if (await page.locator('main table').count() === 0) return [];
  return (await page.locator('main table tbody th a').allInnerTexts()).map((s) => s.trim());
}

/** Submits the inbox's search with `q` (typed into its field) and returns the listed references. */
async function searchInbox(page, q) {
  await page.getByLabel('Aktenzeichen oder Name').fill(q);
  const res = await press(page, 'Filtern');
  assert.equal(res.status(), 200);
  const params = new URL(page.url()).searchParams;
  if (/\d/.test(q) && q.includes('-')) {
    assert.equal(params.get('q'), q, 'a reference number stays readable in the address');
  } else {
    // A name never appears in the address: it travels sealed for this session.
    assert.equal(params.get('q'), null);
    assert.ok(params.get('suche'), page.url());
    assert.ok(!page.url().toLowerCase().includes(q.toLowerCase()), `no name in ${page.url()}`);
  }
  assert.equal(await page.getByLabel('Aktenzeichen oder Name').inputValue(), q, 'the search box keeps the term');
  return inboxReferences(page);
}

// State shared by the tests of this file, in order.
const first = { reference: null, statusHref: null, id: null, path: null };

// ---------------------------------------------------------------------------------------------

describe('back office', () => {
  test('done when: a report from Panketal is found, taken over, asked about, answered, decided; the citizen downloads the notice and sees who accessed the case', async () => {
    const clerk = await account(CLERK);

    // The citizen reports a defect on the phone, with name and e-mail address.
    const citizen = await newContext(h, 'phone');
    const cpage = await citizen.newPage();
    Object.assign(first, await reportDefect(cpage, { name: 'Erika Mustermann', email: 'erika@example.org' }));
    await h.smtp.waitForMail((m) => (m.subject ?? '').includes(`Eingangsbestätigung ${first.reference}`), 15_000);
    await cpage.goto(first.statusHref);
    assert.match(await mainText(cpage), /Bisher hat noch niemand Ihren Vorgang geöffnet/);

    // The clerk signs in on the desktop: password, then the code from the app.
    const office = await newContext(h, 'desktop');
    const page = await office.newPage();
    await page.goto(INBOX);
    assert.equal(pathOf(page), SIGN_IN, 'the inbox asks for a sign-in first');
    assert.equal(new URL(page.url()).searchParams.get('weiter'), INBOX);
    assert.equal(await hasSessionCookie(office), false);
    await signIn(page, clerk, { expect: INBOX, from: pathOf(page) });
    assert.equal(await hasSessionCookie(office), true);
    sessions.set(clerk.email, await office.storageState());

    // The inbox lists the report; searching by reference and by the applicant's surname finds it.
    assert.equal(await h1(page), 'Vorgänge');
    assert.ok((await inboxReferences(page)).includes(first.reference), 'the new report is in the inbox');
    assert.deepEqual(await searchInbox(page, first.reference), [first.reference], 'search by reference');
    assert.deepEqual(await searchInbox(page, 'Mustermann'), [first.reference], 'search by the applicant\'s name');
    assert.deepEqual(await searchInbox(page, first.reference.toLowerCase()), [first.reference], 'reference in lower case');
    assert.deepEqual(await searchInbox(page, 'Musterfrau'), [], 'another name finds nothing');
    assert.match(await mainText(page), /Keine Vorgänge gefunden/);
    await searchInbox(page, 'Mustermann');

    // Open it.
    await follow(page, page.locator('main table').getByRole('link', { name: first.reference, exact: true }));
    first.id = pathOf(page).split('/').pop();
    first.path = `${INBOX}/${first.id}`;
    assert.equal(await h1(page), first.reference);
    assert.equal(await caseField(page, 'Status'), 'Eingegangen');
    assert.equal(await caseField(page, 'Zuständig'), 'niemand');
    assert.match(await mainText(page), /Erika Mustermann/);
    assert.match(await mainText(page), /Tiefes Schlagloch/);
    await auditBoth(clerk, first.path, 'case-received');

    // Take it over.
    await press(page, 'Übernehmen');
    assert.equal(pathOf(page), first.path);
    assert.equal(await caseField(page, 'Status'), 'In Bearbeitung');
    assert.equal(await caseField(page, 'Zuständig'), 'Sie');
    assert.equal(await page.getByRole('button', { name: 'Zurückgeben' }).count(), 1);
    // An internal note: on the case, never on the citizen's page.
    await page.getByLabel('Interne Notiz').fill(NOTE);
    await press(page, 'Notiz speichern');
    assert.match(await page.locator('main .rh-history').innerText(), /Auftrag 4711/);
    await auditBoth(clerk, first.path, 'case-in-progress');

    // Ask the citizen.
    await page.getByLabel('Rückfrage an die Bürgerin oder den Bürger').fill(QUESTION);
    await press(page, 'Rückfrage senden');
    assert.equal(await caseField(page, 'Status'), 'Rückfrage an Bürger/in');
    assert.match(await page.locator('main .rh-history').innerText(), /Rückfrage an Bürger\/in[\s\S]*Hausnummer 47 oder gegenüber/);
    await auditBoth(clerk, first.path, 'case-waiting-for-citizen');

    // The citizen gets an e-mail without content: the reference and the status link only.
    const news = await h.smtp.waitForMail((m) => m.envelopeTo.includes('erika@example.org')
      && /Neuigkeiten/.test(m.subject ?? ''), 15_000);
    assert.match(news.subject, new RegExp(first.reference));
    const statusUrl = `${h.server.url}${first.statusHref}`;
    assert.ok(news.text.includes(statusUrl), `the mail links to the status page:\n${news.text}`);
    for (const secret of ['Hausnummer 47', 'gegenüber', 'Schlagloch', 'Mustermann', 'Erika', 'Foto']) {
      assert.ok(!news.text.includes(secret) && !news.subject.includes(secret), `the mail does not contain "${secret}":\n${news.text}`);
    }
    assert.equal(news.attachments.length, 0, 'no attachments');

    // The citizen answers on the status page, on the phone, with a photo.
    await cpage.goto(statusUrl);
    assert.equal(await h1(cpage), 'Stand Ihres Vorgangs');
    const question = cpage.locator('main section[aria-labelledby=frage]');
    assert.match(await question.innerText(), /Die Verwaltung hat eine Frage an Sie[\s\S]*Hausnummer 47 oder gegenüber/);
    assert.doesNotMatch(await mainText(cpage), /Auftrag 4711/, 'internal notes stay internal');
    await audit(cpage, 'phone', 'citizen-status-question');
    await cpage.getByLabel('Ihre Antwort').fill(ANSWER);
    await cpage.locator('#f-files').setInputFiles({ name: 'nachweis.png', mimeType: 'image/png', buffer: png(4, 3) });
    const answered = await press(cpage, 'Antwort senden');
    assert.equal(answered.status(), 200);
    assert.match(await mainText(cpage), /Ihre Antwort wurde übermittelt/);
    assert.equal(await cpage.locator('main section[aria-labelledby=frage]').count(), 0, 'the question is answered');
    assert.match(await cpage.locator('main .rh-history').innerText(), /Direkt vor Hausnummer 47/);

    // The clerk sees the answer and the photo, and decides.
    await page.goto(first.path);
    assert.equal(await caseField(page, 'Status'), 'In Bearbeitung');
    assert.match(await page.locator('main .rh-history').innerText(), /Antwort von Bürger\/in[\s\S]*Direkt vor Hausnummer 47/);
    const files = page.locator('main section[aria-labelledby=dateien]');
    assert.match(await files.innerText(), /nachweis\.png[\s\S]*Mit einer Antwort nachgereicht/);
    const img = await page.request.get(await files.getByRole('link', { name: 'nachweis.png' }).getAttribute('href'));
    assert.equal(img.status(), 200);
    assert.equal(img.headers()['content-type'], 'image/png');
    await auditBoth(clerk, first.path, 'case-answered');
    await page.getByLabel('Stattgeben', { exact: true }).check();
    await page.getByLabel('Begründung', { exact: true }).fill(REASONS);
    await press(page, 'Entscheiden');
    assert.equal(await caseField(page, 'Status'), 'Entschieden');
    assert.match(await page.locator('main .rh-history').innerText(), /Entschieden: stattgegeben/);
    const notices = page.locator('main section[aria-labelledby=dokumente]');
    assert.match(await notices.innerText(), new RegExp(`Bescheid ${first.reference} \\(PDF\\)`));
    const officePdf = await page.request.get(await notices.getByRole('link').first().getAttribute('href'));
    assert.equal(officePdf.headers()['content-type'], 'application/pdf');
    assert.equal((await officePdf.body()).subarray(0, 5).toString('latin1'), '%PDF-');
    assert.equal(await page.locator('form[action$="/entscheiden"]').count(), 0, 'no second decision');
    await auditBoth(clerk, first.path, 'case-decided');

    // The citizen is told (again without content) and downloads the notice from the status page.
    await h.smtp.waitForMail((m) => m.envelopeTo.includes('erika@example.org')
      && /Neuigkeiten/.test(m.subject ?? '') && m !== news, 15_000);
    await cpage.goto(statusUrl);
    assert.match(await cpage.locator('main dl').innerText(), /Entschieden|Erledigt|Beschieden/);
    const link = cpage.getByRole('link', { name: `Bescheid ${first.reference} (PDF)` });
    const [download] = await Promise.all([cpage.waitForEvent('download'), link.click()]);
    const pdf = await readFile(await download.path());
    assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-');
    const pdfRes = await cpage.request.get(await link.getAttribute('href'));
    assert.equal(pdfRes.status(), 200);
    assert.equal(pdfRes.headers()['content-type'], 'application/pdf');
    assert.equal((await pdfRes.body()).subarray(0, 5).toString('latin1'), '%PDF-');

    // The access list names the office, not the person; the internal note is not shown.
    const access = cpage.locator('main h2:has-text("Wer hat Ihren Vorgang bearbeitet?") ~ ul').first();
    const accessText = await access.innerText();
    assert.match(accessText, /Gemeinde Panketal \(eingesehen\)/);
    assert.match(accessText, /Gemeinde Panketal \(bearbeitet\)/);
    assert.doesNotMatch(await mainText(cpage), /Sachbearbeitung|sachbearbeitung@/, 'no staff names on the status page');
    assert.doesNotMatch(await mainText(cpage), /Auftrag 4711/);
    // (A fresh page: the download shows up as an aborted navigation on the old one.)
    const cpage2 = await citizen.newPage();
    await cpage2.goto(statusUrl);
    await audit(cpage2, 'phone', 'citizen-status-notice');
    await citizen.close();

    // Closing the case: the last state.
    await page.goto(first.path);
    await press(page, 'Vorgang abschließen');
    assert.equal(await caseField(page, 'Status'), 'Abgeschlossen');
    await auditBoth(clerk, first.path, 'case-closed');
    await auditBoth(clerk, INBOX, 'inbox');
    await office.close();

    // The two citizen pages on the other device as well.
    const desk = await newContext(h, 'desktop');
    const dpage = await desk.newPage();
    await dpage.goto(first.statusHref);
    await audit(dpage, 'desktop', 'citizen-status-notice');
    await desk.close();
  });

  test('wrong password and wrong code: clear messages, no session; signing out ends the session', async () => {
    const niemegk = await account(NIEMEGK_CLERK);
    const ctx = await newContext(h, 'desktop');
    const page = await ctx.newPage();
    await page.goto(SIGN_IN);
    assert.equal(await h1(page), 'Anmeldung für Beschäftigte');
    await audit(page, 'desktop', 'sign-in');

    // A wrong password: 401, the message on top, the address kept, no cookie.
    await page.getByLabel('Dienstliche E-Mail-Adresse').fill(niemegk.email);
    await page.getByLabel('Passwort', { exact: true }).fill('demo-falsch-falsch-falsch');
    let res = await press(page, 'Weiter');
    assert.equal(res.status(), 401);
    assert.equal(pathOf(page), SIGN_IN);
    const alert = page.locator('main [role=alert]');
    assert.match(await alert.innerText(), new RegExp(ERR_INVALID.replace(/[.]/g, '\\.')));
    assert.ok((await page.title()).length > 0);
    assert.equal(await page.getByLabel('Dienstliche E-Mail-Adresse').inputValue(), niemegk.email, 'the address is kept');
    assert.equal(await page.getByLabel('Passwort', { exact: true }).inputValue(), '', 'the password is not sent back');
    assert.equal(await hasSessionCookie(ctx), false, 'no session cookie after a wrong password');
    await audit(page, 'desktop', 'sign-in-error');
    res = await page.goto('/verwaltung');
    assert.equal(pathOf(page), SIGN_IN, 'no session: the overview asks for a sign-in');

    // The right password, a wrong code: 401, the message links to the field, still no session.
    await page.getByLabel('Dienstliche E-Mail-Adresse').fill(niemegk.email);
    await page.getByLabel('Passwort', { exact: true }).fill(niemegk.password);
    await press(page, 'Weiter');
    assert.equal(pathOf(page), CODE);
    assert.equal(await h1(page), 'Bestätigungscode eingeben');
    await audit(page, 'desktop', 'code');
    await page.getByLabel('Sechsstelliger Code').fill(wrongCode(niemegk));
    res = await press(page, 'Bestätigen');
    assert.equal(res.status(), 401);
    assert.equal(pathOf(page), CODE);
    assert.match(await page.locator('main [role=alert]').innerText(), /Der Code stimmt nicht/);
    assert.equal(await page.getByLabel('Sechsstelliger Code').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.locator('main [role=alert] a[href="#f-code"]').count(), 1);
    await audit(page, 'desktop', 'code-error');
    const probe = await ctx.newPage();
    await probe.goto(INBOX);
    assert.equal(pathOf(probe), SIGN_IN, 'half signed in is not signed in');
    await probe.close();

    // The right code signs in.
    await page.getByLabel('Sechsstelliger Code').fill(await freshCode(niemegk));
    await press(page, 'Bestätigen');
    assert.equal(pathOf(page), '/verwaltung');
    assert.equal(await h1(page), 'Übersicht');
    assert.match(await mainText(page), /Amt Niemegk/);
    await follow(page, page.locator('main').getByRole('link', { name: 'Vorgänge' }));
    assert.equal(pathOf(page), INBOX);
    await page.goto('/verwaltung');
    const cookie = (await ctx.cookies()).find((c) => c.name === SESSION_COOKIE);

    // Signing out: the notice, the cookie gone; Back and the inbox lead to the sign-in.
    await press(page, 'Abmelden');
    assert.equal(pathOf(page), SIGN_IN);
    assert.match(await mainText(page), /Sie sind abgemeldet/);
    assert.equal(await hasSessionCookie(ctx), false, 'the session cookie is deleted');
    await audit(page, 'desktop', 'signed-out');
    // Back (the pages are not cached: see the test of Back after signing out) and reloading ask for a
    // sign-in.
    await page.goBack();
    await page.waitForLoadState('load');
    await page.reload();
    assert.equal(pathOf(page), SIGN_IN, `Back and reload after signing out shows the sign-in, not ${page.url()}`);
    assert.equal(await h1(page), 'Anmeldung für Beschäftigte');
    await page.goto(INBOX);
    assert.equal(pathOf(page), SIGN_IN);
    // The old session token is worthless on the server, even if a copy of the cookie survived.
    await ctx.addCookies([cookie]);
    await page.goto(INBOX);
    assert.equal(pathOf(page), SIGN_IN, 'the session ended on the server');
    await ctx.close();

    // The same pages on the phone (another account, so that the failure counters stay low).
    const phone = await newContext(h, 'phone');
    const p = await phone.newPage();
    await p.goto(SIGN_IN);
    await audit(p, 'phone', 'sign-in');
    await p.getByLabel('Dienstliche E-Mail-Adresse').fill('niemand@panketal.example');
    await p.getByLabel('Passwort', { exact: true }).fill('irgendein-passwort-123');
    res = await press(p, 'Weiter');
    assert.equal(res.status(), 401, 'an unknown account gets the same answer as a wrong password');
    assert.match(await p.locator('main [role=alert]').innerText(), /E-Mail-Adresse oder Passwort stimmen nicht/);
    await audit(p, 'phone', 'sign-in-error');
    const op = await account(OPERATOR);
    await p.getByLabel('Dienstliche E-Mail-Adresse').fill(op.email);
    await p.getByLabel('Passwort', { exact: true }).fill(op.password);
    await press(p, 'Weiter');
    await audit(p, 'phone', 'code');
    await p.getByLabel('Sechsstelliger Code').fill(wrongCode(op));
    await press(p, 'Bestätigen');
    await audit(p, 'phone', 'code-error');
    await phone.close();
  });

  test('a clerk of Bad Belzig neither sees the Panketal case in the inbox nor opens it by its address', async () => {
    const belzig = await account(BELZIG_CLERK);
    const ctx = await staffContext(belzig, 'desktop');
    const page = await ctx.newPage();
    await page.goto(INBOX);
    assert.equal(await h1(page), 'Vorgänge');
    assert.deepEqual(await inboxReferences(page), [], 'the inbox of Bad Belzig is empty');
    assert.match(await mainText(page), /Keine Vorgänge gefunden/);
    assert.deepEqual(await searchInbox(page, first.reference), []);
    assert.deepEqual(await searchInbox(page, 'Mustermann'), []);
    for (const path of [first.path, `${first.path}/dateien/x`, `${first.path}/dokumente/x`]) {
      const res = await page.goto(path);
      assert.equal(res.status(), 404, path);
      assert.equal(await h1(page), 'Seite nicht gefunden', path);
      assert.doesNotMatch(await mainText(page), new RegExp(first.reference));
    }
    // Changing it by a forged post does not work either.
    await page.goto('/verwaltung'); // its sign-out form carries a valid CSRF token
    const csrf = await page.locator('input[name=csrf]').first().inputValue();
    const r = await page.request.post(`${first.path}/notiz`, { form: { csrf, text: 'fremd' }, maxRedirects: 0 });
    assert.equal(r.status(), 404);
    await ctx.close();
    await auditBoth(belzig, INBOX, 'inbox-empty');
    await auditBoth(belzig, first.path, 'case-not-found', { status: 404, heading: /^Seite nicht gefunden$/ });

    // The citizen's access list does not name Bad Belzig: a refused attempt is no access.
    const citizen = await newContext(h, 'phone');
    const cpage = await citizen.newPage();
    await cpage.goto(first.statusHref);
    assert.doesNotMatch(await mainText(cpage), /Bad Belzig/);
    await citizen.close();
  });

  test('four-eyes rule: the admin enables it, a clerk only proposes, a second clerk (enrolled via the users page) confirms', async () => {
    const admin = await account(ADMIN);
    const clerk = await account(CLERK);

    // The admin enables the rule for the defect report.
    const actx = await staffContext(admin, 'desktop');
    const apage = await actx.newPage();
    await apage.goto('/verwaltung/einstellungen');
    assert.equal(await h1(apage), 'Einstellungen: Gemeinde Panketal');
    const form = apage.locator('form#s-maengelmelder');
    assert.equal(await form.getByLabel('Online anbieten').isChecked(), true);
    assert.equal(await form.getByLabel('Vier-Augen-Prinzip für Entscheidungen').isChecked(), false);
    await form.getByLabel('Vier-Augen-Prinzip für Entscheidungen').check();
    const saved = await press(apage, 'Speichern: Mangel melden', form);
    assert.equal(saved.status(), 200);
    assert.equal(await apage.locator('form#s-maengelmelder').getByLabel('Vier-Augen-Prinzip für Entscheidungen').isChecked(), true);

    // A second clerk: created on the users page. The one-time enrolment link goes to the person's
    // own address by e-mail; the administrator's page only says that it was sent.
    await apage.goto('/verwaltung/benutzer');
    assert.equal(await h1(apage), 'Benutzer: Gemeinde Panketal');
    assert.match(await apage.locator('main table').innerText(), /sachbearbeitung@panketal\.example/);
    await apage.getByLabel('Name', { exact: true }).fill('Max Zweitprüfer');
    await apage.getByLabel('Dienstliche E-Mail-Adresse').fill('zweitpruefung@panketal.example');
    await apage.getByLabel('Sachbearbeitung', { exact: true }).check();
    let res = await press(apage, 'Konto anlegen und Einrichtungslink senden');
    assert.equal(res.status(), 200);
    assert.match(await apage.locator('main [role=status]').innerText(), /Link an Max Zweitprüfer geschickt[\s\S]*zweitpruefung@panketal\.example/);
    assert.doesNotMatch(await apage.content(), /\/verwaltung\/einrichten\//, 'the administrator sees no link');
    const enrolLink = await enrolmentLinkMailedTo('zweitpruefung@panketal.example');
    assert.match(await apage.locator('main table').innerText(), /Max Zweitprüfer[\s\S]*Einrichtung ausstehend/);
    await audit(apage, 'desktop', 'users-link');

    // The new clerk follows it: password, then the authenticator app (the secret shown on the page).
    const second = { email: 'zweitpruefung@panketal.example', password: NEW_PASSWORD, totp: null };
    const sctx = await newContext(h, 'desktop');
    const spage = await sctx.newPage();
    res = await spage.goto(enrolLink);
    assert.equal(res.status(), 200);
    assert.equal(await h1(spage), 'Zugang einrichten');
    assert.match(await mainText(spage), /Guten Tag, Max Zweitprüfer/);
    await audit(spage, 'desktop', 'enrol');
    // Too short a password is refused next to the field.
    await spage.getByLabel('Neues Passwort').fill('kurz');
    await spage.getByLabel('Passwort wiederholen').fill('kurz');
    res = await press(spage, 'Weiter');
    assert.equal(res.status(), 422);
    assert.equal(await spage.getByLabel('Neues Passwort').getAttribute('aria-invalid'), 'true');
    await audit(spage, 'desktop', 'enrol-error');
    await spage.getByLabel('Neues Passwort').fill(NEW_PASSWORD);
    await spage.getByLabel('Passwort wiederholen').fill(NEW_PASSWORD);
    await press(spage, 'Weiter');
    assert.equal(pathOf(spage), CODE);
    assert.equal(await h1(spage), 'Authenticator-App einrichten');
    assert.equal(await spage.getByRole('img', { name: 'QR-Code zum Einrichten der Authenticator-App' }).count(), 1);
    second.totp = (await spage.locator('code#totp-secret').innerText()).replace(/\s+/g, '');
    assert.match(second.totp, /^[A-Z2-7]{32}$/);
    await audit(spage, 'desktop', 'enrol-code');
    await spage.getByLabel('Sechsstelliger Code').fill(await freshCode(second));
    await press(spage, 'Bestätigen');
    assert.equal(pathOf(spage), '/verwaltung');
    assert.match(await mainText(spage), /Max Zweitprüfer[\s\S]*Sachbearbeitung[\s\S]*Gemeinde Panketal/);
    sessions.set(second.email, await sctx.storageState());
    // The link works once.
    const again = await spage.goto(enrolLink);
    assert.equal(again.status(), 410);
    assert.equal(await h1(spage), 'Dieser Link ist nicht mehr gültig');
    await apage.goto('/verwaltung/benutzer');
    assert.match(await apage.locator('main table').innerText(), /Max Zweitprüfer[\s\S]*aktiv/);

    // A new report; the first clerk decides — which is only a proposal now.
    const citizen = await newContext(h, 'phone');
    const report = await reportDefect(await citizen.newPage(), { name: 'Otto Vier', description: 'Gullydeckel klappert laut bei jeder Überfahrt.' });
    await citizen.close();
    const cctx = await staffContext(clerk, 'desktop');
    const cpage = await cctx.newPage();
    const id = await caseIdOf(cpage, report.reference);
    const path = `${INBOX}/${id}`;
    await cpage.goto(path);
    assert.match(await mainText(cpage), /Vier-Augen-Prinzip[\s\S]*Entscheidungen brauchen eine Bestätigung/);
    await press(cpage, 'Übernehmen');
    await cpage.getByLabel('Ablehnen', { exact: true }).check();
    await cpage.getByLabel('Begründung', { exact: true }).fill('Privatgrundstück, keine Zuständigkeit der Gemeinde.');
    await press(cpage, 'Entscheiden (zur Bestätigung)');
    assert.equal(await caseField(cpage, 'Status'), 'In Bearbeitung', 'a proposal does not decide');
    const pending = cpage.locator('main [role=note]', { hasText: 'Entscheidung wartet auf Bestätigung' });
    assert.match(await pending.innerText(), /Vorschlag: ablehnen\. Begründung: Privatgrundstück/);
    assert.match(await pending.innerText(), /Eine andere Person muss Ihren Vorschlag bestätigen/);
    assert.equal(await cpage.getByRole('button', { name: 'Entscheidung bestätigen' }).count(), 0, 'no confirming one\'s own proposal');
    assert.equal(await cpage.locator('form[action$="/entscheiden"]').count(), 0, 'no second proposal');
    await auditBoth(clerk, path, 'case-proposed-own');
    // Not even by a forged post.
    const csrf = await cpage.locator('input[name=csrf]').first().inputValue();
    const version = await cpage.locator('input[name=version]').first().inputValue();
    const forged = await cpage.request.post(`${path}/bestaetigen`, { form: { csrf, version, seq: '1' }, maxRedirects: 0 });
    assert.ok([403, 409].includes(forged.status()), `confirming one's own proposal: ${forged.status()}`);
    await cpage.goto(path);
    assert.equal(await caseField(cpage, 'Status'), 'In Bearbeitung');

    // The second clerk confirms.
    const second2 = await newContext(h, 'desktop', { storageState: sessions.get(second.email) });
    const page2 = await second2.newPage();
    await page2.goto(path);
    assert.match(await page2.locator('main [role=note]').innerText(), /Vorschlag: ablehnen/);
    await audit(page2, 'desktop', 'case-proposed-other');
    await press(page2, 'Entscheidung bestätigen');
    assert.equal(pathOf(page2), path);
    assert.equal(await caseField(page2, 'Status'), 'Entschieden');
    assert.match(await page2.locator('main .rh-history').innerText(), /Entscheidung vorgeschlagen[\s\S]*Entschieden: abgelehnt/);
    assert.match(await page2.locator('main section[aria-labelledby=dokumente]').innerText(), new RegExp(`Bescheid ${report.reference}`));
    const phone2 = await newContext(h, 'phone', { storageState: sessions.get(second.email) });
    const pp = await phone2.newPage();
    await pp.goto(path);
    await audit(pp, 'phone', 'case-proposed-other-then-decided');
    await phone2.close();
    await second2.close();
    await cctx.close();

    // Four-eyes off again (the later tests decide alone).
    await apage.goto('/verwaltung/einstellungen');
    await apage.locator('form#s-maengelmelder').getByLabel('Vier-Augen-Prinzip für Entscheidungen').uncheck();
    await press(apage, 'Speichern: Mangel melden', apage.locator('form#s-maengelmelder'));
    assert.equal(await apage.locator('form#s-maengelmelder').getByLabel('Vier-Augen-Prinzip für Entscheidungen').isChecked(), false);
    await actx.close();
    await sctx.close();
  });

  test('tenant admin: contact data and office hours on the public page, an invalid IBAN refused at the field, a logo', async () => {
    const admin = await account(ADMIN);
    const ctx = await staffContext(admin, 'desktop');
    const page = await ctx.newPage();
    await page.goto('/verwaltung/einstellungen');
    await auditBoth(admin, '/verwaltung/einstellungen', 'settings');

    // Contact data and office hours.
    await page.getByLabel('Anschrift (eine Zeile je Eintrag)').fill('Gemeinde Panketal\nBürgerbüro\nSchönerlinder Straße 47\n16341 Panketal');
    await page.getByLabel('Telefon').fill('030 944 14-999');
    await page.getByLabel('E-Mail', { exact: true }).fill('buergerbuero@panketal.example');
    await page.getByLabel('Öffnungszeiten (eine Zeile je Tag)').fill('Montag 9–12 Uhr\nDienstag 9–12 und 13–18 Uhr\nDonnerstag 9–12 und 13–16 Uhr');
    let res = await press(page, 'Speichern');
    assert.equal(res.status(), 200);
    assert.equal(new URL(page.url()).searchParams.get('gespeichert'), '1');
    assert.match(await page.locator('main [role=status]').innerText(), /Gespeichert/);
    assert.equal(await page.getByLabel('Telefon').inputValue(), '030 944 14-999');
    await audit(page, 'desktop', 'settings-saved');

    const pub = await newContext(h, 'phone');
    const ppage = await pub.newPage();
    await ppage.goto('/panketal');
    const text = await mainText(ppage);
    for (const s of ['Bürgerbüro', 'Schönerlinder Straße 47', '030 944 14-999', 'buergerbuero@panketal.example', 'Dienstag 9–12 und 13–18 Uhr']) {
      assert.ok(text.includes(s), `the municipality page shows "${s}"`);
    }
    assert.doesNotMatch(text, /Beispieldaten/, 'no longer marked as example data');

    // An invalid IBAN: 422, the message next to the field and in the summary, the input kept.
    for (const device of ['desktop', 'phone']) {
      const c = device === 'desktop' ? ctx : await staffContext(admin, 'phone');
      const p = device === 'desktop' ? page : await c.newPage();
      if (device === 'phone') await p.goto('/verwaltung/einstellungen');
      await p.getByLabel('Kontoinhaber').fill('Gemeinde Panketal');
      await p.getByLabel('IBAN', { exact: true }).fill('DE00 1234 5678 9012 3456 78');
      res = await press(p, 'Speichern');
      assert.equal(res.status(), 422);
      const field = p.locator('.kern-form-input', { has: p.locator('#s-iban') });
      const message = (await field.locator('.kern-error').innerText()).trim();
      assert.ok(message.length > 5, `an error next to the IBAN field: "${message}"`);
      assert.equal(await p.locator('#s-iban').getAttribute('aria-invalid'), 'true');
      assert.ok((await p.locator('#s-iban').getAttribute('aria-describedby') ?? '').split(' ').includes('s-iban-error'));
      assert.equal((await p.locator('#s-iban-error').innerText()).trim(), message);
      assert.equal(await p.locator('main [role=alert] a[href="#s-iban"]').count(), 1, 'the summary links to the field');
      assert.equal(await p.getByLabel('IBAN', { exact: true }).inputValue(), 'DE00 1234 5678 9012 3456 78', 'the input is kept');
      assert.equal(await p.getByLabel('Telefon').inputValue(), '030 944 14-999');
      await audit(p, device, 'settings-error');
      if (device === 'phone') await c.close();
    }
    // Nothing of the refused form was saved.
    await ppage.goto('/panketal');
    assert.ok((await mainText(ppage)).includes('030 944 14-999'));

    // A valid new IBAN is not in force at once: it waits for a second person. Panketal has only
    // this administrator, so the page says a second one is needed; the operator confirms it.
    await page.goto('/verwaltung/einstellungen');
    await page.getByLabel('IBAN', { exact: true }).fill('DE89 3704 0044 0532 0130 00');
    res = await press(page, 'Speichern');
    assert.equal(res.status(), 200);
    assert.equal(new URL(page.url()).searchParams.get('gespeichert'), 'bank');
    assert.equal(await page.getByLabel('IBAN', { exact: true }).inputValue(), 'DE02120300000000202051', 'the old IBAN stays in force');
    const waiting = await page.locator('section', { has: page.locator('h2#bankverbindung') }).innerText();
    assert.match(waiting, /DE89 3704 0044 0532 0130 00/);
    assert.match(waiting, /Außer Ihnen gibt es dafür kein Verwaltungskonto/);
    assert.equal(await page.getByRole('button', { name: 'Neue Bankverbindung bestätigen' }).count(), 0, 'not for the proposer');
    await audit(page, 'desktop', 'settings-bank-waiting');
    const proposed = await h.smtp.waitForMail((m) => m.envelopeTo.includes(ADMIN) && /wartet auf Bestätigung/.test(m.subject ?? ''), 15_000);
    assert.match(proposed.text, /DE89 \*\*\*\* \*\*\*\* 3000/, 'the IBAN masked');
    assert.doesNotMatch(proposed.text, /DE89370400440532013000|DE89 3704 0044 0532 0130 00/);
    const octx = await staffContext(await account(OPERATOR), 'desktop');
    const opage = await octx.newPage();
    await opage.goto('/verwaltung/einstellungen?kommune=12060181');
    res = await press(opage, 'Neue Bankverbindung bestätigen');
    assert.equal(res.status(), 200);
    assert.match(await opage.locator('main [role=status]').innerText(), /Neue Bankverbindung bestätigt/);
    assert.equal(await opage.getByLabel('IBAN', { exact: true }).inputValue(), 'DE89370400440532013000');
    const confirmed = await h.smtp.waitForMail((m) => m.envelopeTo.includes(ADMIN) && /geändert/.test(m.subject ?? ''), 15_000);
    assert.doesNotMatch(confirmed.text, /DE89370400440532013000|DE89 3704 0044 0532 0130 00/);
    await octx.close();

    // A logo: a small PNG, shown in the settings and at /panketal/logo.png.
    await page.goto('/verwaltung/einstellungen');
    const logo = png(40, 20, [10, 80, 160]);
    await page.locator('#s-logo').setInputFiles({ name: 'wappen.png', mimeType: 'image/png', buffer: logo });
    res = await press(page, 'Logo hochladen');
    assert.equal(res.status(), 200);
    assert.equal(pathOf(page), '/verwaltung/einstellungen');
    const preview = page.getByRole('img', { name: 'Aktuelles Logo von Gemeinde Panketal' });
    assert.equal(await preview.count(), 1);
    assert.ok(await preview.evaluate((img) => img.complete && img.naturalWidth === 40), 'the preview loads');
    const served = await ppage.request.get('/panketal/logo.png');
    assert.equal(served.status(), 200);
    assert.equal(served.headers()['content-type'], 'image/png');
    const body = await served.body();
    assert.equal(body.subarray(0, 8).toString('hex'), '89504e470d0a1a0a');
    assert.equal(body.readUInt32BE(16), 40, 'width 40');
    assert.equal(body.readUInt32BE(20), 20, 'height 20');
    // Not a PNG: refused next to the field.
    await page.locator('#s-logo').setInputFiles({ name: 'wappen.png', mimeType: 'image/png', buffer: Buffer.from('kein Bild') });
    res = await press(page, 'Logo hochladen');
    assert.equal(res.status(), 422);
    assert.ok((await page.locator('.kern-form-input', { has: page.locator('#s-logo') }).locator('.kern-error').innerText()).trim().length > 5);
    assert.equal(await page.locator('#s-logo').getAttribute('aria-invalid'), 'true');
    await audit(page, 'desktop', 'settings-logo-error');
    await pub.close();
    await ctx.close();
  });

  test('every role\'s overview, users page, audit log and message pages: axe and screenshots', async () => {
    const clerk = await account(CLERK);
    const admin = await account(ADMIN);
    const op = await account(OPERATOR);
    await auditBoth(clerk, '/verwaltung', 'home-clerk', { heading: /^Übersicht$/ });
    await auditBoth(admin, '/verwaltung', 'home-tenant-admin', { heading: /^Übersicht$/ });
    await auditBoth(admin, '/verwaltung/benutzer', 'users');

    // The overview offers what the role may do.
    const links = async (acc) => {
      const c = await staffContext(acc, 'desktop');
      const p = await c.newPage();
      await p.goto('/verwaltung');
      const l = (await p.locator('main .rh-services a').allInnerTexts()).map((s) => s.trim());
      await c.close();
      return l;
    };
    assert.deepEqual(await links(clerk), ['Vorgänge']);
    assert.deepEqual(await links(admin), ['Einstellungen', 'Benutzer']);

    // An auditor, created on the phone (the page with the enrolment link, phone edition).
    const actx = await staffContext(admin, 'phone');
    const apage = await actx.newPage();
    await apage.goto('/verwaltung/benutzer');
    // Missing role: refused with a message.
    await apage.getByLabel('Name', { exact: true }).fill('Rita Revision');
    await apage.getByLabel('Dienstliche E-Mail-Adresse').fill('revision@panketal.example');
    let res = await press(apage, 'Konto anlegen und Einrichtungslink senden');
    assert.equal(res.status(), 422);
    assert.match(await apage.locator('main [role=alert]').innerText(), /Bitte wählen Sie eine Rolle/);
    await audit(apage, 'phone', 'users-error');
    await apage.getByLabel('Name', { exact: true }).fill('Rita Revision');
    await apage.getByLabel('Dienstliche E-Mail-Adresse').fill('revision@panketal.example');
    await apage.getByLabel('Revision / Datenschutz', { exact: true }).check();
    res = await press(apage, 'Konto anlegen und Einrichtungslink senden');
    assert.equal(res.status(), 200);
    assert.match(await apage.locator('main [role=status]').innerText(), /Link an Rita Revision geschickt/);
    await audit(apage, 'phone', 'users-link');
    await actx.close();
    const link = await enrolmentLinkMailedTo('revision@panketal.example');

    const auditor = { email: 'revision@panketal.example', password: NEW_PASSWORD, totp: null };
    const rctx = await newContext(h, 'phone');
    const rpage = await rctx.newPage();
    await rpage.goto(link);
    await audit(rpage, 'phone', 'enrol');
    await rpage.getByLabel('Neues Passwort').fill(NEW_PASSWORD);
    await rpage.getByLabel('Passwort wiederholen').fill(NEW_PASSWORD);
    await press(rpage, 'Weiter');
    auditor.totp = (await rpage.locator('code#totp-secret').innerText()).replace(/\s+/g, '');
    await audit(rpage, 'phone', 'enrol-code');
    await rpage.getByLabel('Sechsstelliger Code').fill(await freshCode(auditor));
    await press(rpage, 'Bestätigen');
    assert.equal(pathOf(rpage), '/verwaltung');
    sessions.set(auditor.email, await rctx.storageState());
    await rctx.close();
    await auditBoth(auditor, '/verwaltung', 'home-auditor', { heading: /^Übersicht$/ });
    assert.deepEqual(await links(auditor), ['Protokoll']);

    // The audit log: the auditor sees the reads and changes of the case, without its content.
    const c = await staffContext(auditor, 'desktop');
    const p = await c.newPage();
    await p.goto('/verwaltung/protokoll');
    assert.equal(await h1(p), 'Protokoll');
    await p.getByLabel('Aktenzeichen').fill(first.reference);
    await press(p, 'Filtern');
    const log = await p.locator('main table').innerText();
    for (const action of ['case.read', 'case.assign', 'case.ask', 'case.decide', 'case.close']) {
      assert.ok(log.includes(action), `the log for ${first.reference} has ${action}`);
    }
    assert.doesNotMatch(log, /Mustermann|Schlagloch|Hausnummer 47/, 'no case content in the log');
    await c.close();
    await auditBoth(auditor, '/verwaltung/protokoll', 'audit-log');
    await auditBoth(auditor, `/verwaltung/protokoll?vorgang=${first.reference}`, 'audit-log-case');

    // The operator: every municipality, and the installation's log.
    const octx = await newContext(h, 'desktop');
    const opage = await octx.newPage();
    await signIn(opage, op);
    sessions.set(op.email, await octx.storageState());
    await octx.close();
    await auditBoth(op, '/verwaltung', 'home-operator', { heading: /^Übersicht$/ });
    assert.deepEqual(await links(op), ['Protokoll']);
    await auditBoth(op, '/verwaltung/protokoll', 'audit-log-operator');
    await auditBoth(op, '/verwaltung/einstellungen?kommune=12060181', 'settings-operator');

    // Message pages: not allowed (403), form expired (403), link no longer valid (410).
    await auditBoth(clerk, '/verwaltung/einstellungen', 'forbidden', { status: 403, heading: /^Keine Berechtigung$/ });
    await auditBoth(null, `/verwaltung/einrichten/${'A'.repeat(43)}`, 'link-invalid', { status: 410, heading: /^Dieser Link ist nicht mehr gültig$/ });
    for (const device of ['desktop', 'phone']) {
      const cx = await staffContext(clerk, device);
      const px = await cx.newPage();
      await px.goto(first.path);
      await px.locator('form[action$="/notiz"] input[name=csrf]').evaluate((el) => { el.value = 'abgelaufen'; });
      await px.getByLabel('Interne Notiz').fill('Ein Formular von gestern');
      res = await press(px, 'Notiz speichern');
      assert.equal(res.status(), 403);
      assert.equal(await h1(px), 'Formular abgelaufen');
      await audit(px, device, 'form-expired');
      await cx.close();
    }
    // A case the office cannot decide (closed) shows why, on the case page.
    for (const device of ['desktop', 'phone']) {
      const cx = await staffContext(clerk, device);
      const px = await cx.newPage();
      await px.goto(first.path);
      assert.equal(await px.locator('form[action$="/zuweisen"], form[action$="/rueckfrage"], form[action$="/entscheiden"]').count(), 0,
        'a closed case offers no actions but the internal note');
      const version = '1';
      const csrf = await px.locator('input[name=csrf]').first().inputValue();
      // The form is no longer offered; post it as an outdated page would.
      res = await navigate(px, () => px.evaluate(({ action, csrf, version }) => {
        const f = document.createElement('form');
        f.method = 'post';
        f.action = action;
        for (const [k, v] of Object.entries({ csrf, version, question: 'Noch eine Frage?' })) {
          const i = document.createElement('input');
          i.type = 'hidden'; i.name = k; i.value = v; f.append(i);
        }
        document.body.append(f);
        f.submit();
      }, { action: `${first.path}/rueckfrage`, csrf, version }));
      assert.equal(res.status(), 409);
      assert.equal(pathOf(px), `${first.path}/rueckfrage`);
      assert.match(await px.locator('main [role=alert]').innerText(), /Nicht ausgeführt/);
      await audit(px, device, 'case-error');
      await cx.close();
    }
  });

  test('Back after signing out does not show the office page from the browser cache', async () => {
    const ctx = await newContext(h, 'desktop');
    const page = await ctx.newPage();
    await signIn(page, await account(NIEMEGK_CLERK));
    const res = await page.goto(INBOX);
    assert.equal(res.headers()['cache-control'], 'no-store');
    await page.goto('/verwaltung');
    await press(page, 'Abmelden');
    await page.goBack();
    await page.waitForLoadState('load');
    assert.equal(pathOf(page), SIGN_IN, `Back after signing out shows the sign-in, not ${page.url()}`);
    await ctx.close();
  });

  test('a tenant admin following "Vorgänge" is told in German that only clerks work on cases', async () => {
    const ctx = await staffContext(await account(ADMIN), 'desktop');
    const page = await ctx.newPage();
    const res = await page.goto(INBOX);
    assert.equal(res.status(), 403);
    assert.equal(await h1(page), 'Keine Berechtigung');
    assert.doesNotMatch(await mainText(page), /only clerks|work on cases/);
    await ctx.close();
  });

  test('creating an account with a taken e-mail address is refused in German', async () => {
    const ctx = await staffContext(await account(ADMIN), 'desktop');
    const page = await ctx.newPage();
    await page.goto('/verwaltung/benutzer');
    await page.getByLabel('Name', { exact: true }).fill('Doppelt');
    await page.getByLabel('Dienstliche E-Mail-Adresse').fill(CLERK);
    await page.getByLabel('Sachbearbeitung', { exact: true }).check();
    const res = await press(page, 'Konto anlegen und Einrichtungslink senden');
    assert.equal(res.status(), 422);
    assert.doesNotMatch(await page.locator('main [role=alert]').innerText(), /exists already|account/);
    await ctx.close();
  });

  test('a refused action on a closed case is explained in German', async () => {
    const ctx = await staffContext(await account(CLERK), 'desktop');
    const page = await ctx.newPage();
    await page.goto(first.path);
    const csrf = await page.locator('input[name=csrf]').first().inputValue();
    const r = await page.request.post(`${first.path}/rueckfrage`, { form: { csrf, version: '1', question: 'Noch eine Frage?' }, maxRedirects: 0 });
    assert.equal(r.status(), 409);
    assert.doesNotMatch(await r.text(), /cannot be|a case that is/);
    await ctx.close();
  });

  test('keyboard only: signing in and deciding a case', async () => {
    const clerk = await account(CLERK);
    const op = await account(OPERATOR);

    const ctx = await newContext(h, 'desktop');
    const page = await ctx.newPage();
    const focusedIs = (sel) => document.activeElement?.matches(sel) ?? false;
    async function tabTo(describe, selector) {
      for (let i = 0; i < 60; i += 1) {
        await page.keyboard.press('Tab');
        if (await page.evaluate(focusedIs, selector)) return;
      }
      throw new Error(`Tab never reached ${describe}`);
    }

    // The sign-in page: every control reachable with a visible focus indicator.
    await page.goto(SIGN_IN);
    const a = await keyboardAudit(page);
    assert.equal(a.focused[0].href, '#inhalt', 'the skip link comes first');
    assert.deepEqual(a.unreachable.map((u) => u.label), []);
    assert.deepEqual(a.withoutIndicator.map((f) => f.label), []);
    assert.deepEqual(a.offscreen.map((f) => f.label), []);

    // Sign in with the keyboard alone (the operator's account: its second sign-in waits for a new step).
    await page.goto(SIGN_IN);
    await tabTo('the e-mail field', '#f-email');
    await page.keyboard.type(op.email);
    await page.keyboard.press('Tab');
    assert.ok(await page.evaluate(focusedIs, '#f-password'), 'Tab leads from the e-mail to the password');
    await page.keyboard.type(op.password);
    await navigate(page, () => page.keyboard.press('Enter'));
    assert.equal(pathOf(page), CODE);
    const code = await freshCode(op);
    await tabTo('the code field', '#f-code');
    await page.keyboard.type(code);
    await navigate(page, () => page.keyboard.press('Enter'));
    assert.equal(pathOf(page), '/verwaltung');
    assert.match(await mainText(page), /Betrieb Rechenzentrum/);
    await ctx.close();

    // Deciding a new case with the keyboard alone.
    const citizen = await newContext(h, 'phone');
    const report = await reportDefect(await citizen.newPage(), { description: 'Baum ragt weit in den Gehweg, Kinderwagen passen nicht vorbei.' });
    await citizen.close();
    const cctx = await staffContext(clerk, 'desktop');
    const cpage = await cctx.newPage();
    const id = await caseIdOf(cpage, report.reference);
    const path = `${INBOX}/${id}`;
    await cpage.goto(path);
    const ca = await keyboardAudit(cpage);
    const radioGroups = new Set(await cpage.evaluate((reached) => {
      const all = document.getElementsByTagName('*');
      return reached.map((i) => all[i]).filter((el) => el.type === 'radio').map((el) => el.name);
    }, ca.focused.map((f) => f.domIndex)));
    const unreachable = [];
    for (const u of ca.unreachable) {
      const name = await cpage.evaluate((i) => { const el = document.getElementsByTagName('*')[i]; return el.type === 'radio' ? el.name : null; }, u.domIndex);
      if (!(name && radioGroups.has(name))) unreachable.push(u.label);
    }
    assert.deepEqual(unreachable, [], 'case page: elements Tab never reaches');
    assert.deepEqual(ca.withoutIndicator.map((f) => f.label), [], 'case page: focus indicators');
    assert.deepEqual(ca.offscreen.map((f) => f.label), [], 'case page: focused elements scrolled into view');

    await cpage.goto(path);
    const tabOn = async (describe, selector) => {
      for (let i = 0; i < 80; i += 1) {
        await cpage.keyboard.press('Tab');
        if (await cpage.evaluate(focusedIs, selector)) return;
      }
      throw new Error(`Tab never reached ${describe}`);
    };
    await tabOn('the decision', 'input[name=outcome]');
    await cpage.keyboard.press('Space');
    assert.equal(await cpage.evaluate(() => document.querySelector('input[name=outcome]:checked')?.value), 'approved');
    await cpage.keyboard.press('ArrowDown');
    assert.equal(await cpage.evaluate(() => document.querySelector('input[name=outcome]:checked')?.value), 'rejected');
    await cpage.keyboard.press('ArrowUp');
    assert.equal(await cpage.evaluate(() => document.querySelector('input[name=outcome]:checked')?.value), 'approved');
    await cpage.keyboard.press('Tab');
    assert.ok(await cpage.evaluate(focusedIs, '#reasons'), 'Tab leads from the decision to the reasons');
    await cpage.keyboard.type('Der Bauhof schneidet den Baum zurück.');
    await cpage.keyboard.press('Tab');
    assert.ok(await cpage.evaluate(focusedIs, 'form[action$="/entscheiden"] button[type=submit]'), 'then to the button');
    await settleScroll(cpage);
    await navigate(cpage, () => cpage.keyboard.press('Enter'));
    assert.equal(pathOf(cpage), path);
    assert.equal(await caseField(cpage, 'Status'), 'Entschieden');
    assert.match(await cpage.locator('main .rh-history').innerText(), /Entschieden: stattgegeben/);
    await cctx.close();
  });
});
