// Browser test harness for rathaus: a server per test file, Chromium, phone/desktop/no-JS
// contexts, axe accessibility checks, screenshots, keyboard walks and an SMTP capture server.
//
// Typical test file (run by `npm test --prefix web`, i.e. `node --test --test-concurrency=1 e2e/`):
//
//   import { test } from 'node:test';
//   import { useHarness, newContext, checkA11y, screenshot } from './harness.js';
//   const h = useHarness();                 // server + browser for this file, stopped afterwards
//   test('start page', async () => {
//     const ctx = await newContext(h, 'phone');
//     const page = await ctx.newPage();
//     await page.goto('/');
//     await checkA11y(page, 'start');
//     await screenshot(page, 'phone-01-start');
//     await ctx.close();
//   });
//
// Environment: RATHAUS_BIN (server binary), RATHAUS_E2E_OUT (logs, default test-results/e2e),
// RATHAUS_E2E_SCREENSHOTS (default screenshots/), RATHAUS_E2E_CHROMIUM (default /usr/bin/chromium),
// RATHAUS_E2E_PYTHON (python with aiosmtpd, default /var/tmp/rathaus-venv/bin/python),
// RATHAUS_E2E_DATABASE_URL (run the server on PostgreSQL instead of a fresh SQLite file),
// RATHAUS_E2E_HEADFUL=1 (show the browser).

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, createWriteStream, readdirSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { before, after } from 'node:test';
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OUT_DIR = path.resolve(process.env.RATHAUS_E2E_OUT || path.join(REPO_ROOT, 'test-results', 'e2e'));
export const SCREENSHOT_DIR = path.resolve(process.env.RATHAUS_E2E_SCREENSHOTS || path.join(REPO_ROOT, 'screenshots'));
export const ASSETS_DIR = path.join(REPO_ROOT, 'web', 'node_modules', '@kern-ux', 'native');

/** The axe rule tags every page must pass. */
export const A11Y_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

/** Browser context options per device kind. */
export const DEVICES = {
  phone: {
    viewport: { width: 360, height: 800 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: 'de-DE',
    timezoneId: 'Europe/Berlin',
  },
  desktop: {
    viewport: { width: 1280, height: 900 },
    deviceScaleFactor: 1,
    isMobile: false,
    hasTouch: false,
    locale: 'de-DE',
    timezoneId: 'Europe/Berlin',
  },
};

const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

// ---------------------------------------------------------------------------------------------
// Child processes: every process we spawn is killed when this test process ends, however it ends.

const children = new Set();
const tempDirs = new Set(); // data dirs of servers not stopped yet; removed at exit
let exitHooksInstalled = false;

function track(child) {
  children.add(child);
  // A forgotten stop() must not keep the test file running forever: the process may exit without
  // waiting for its children, and the exit hook below kills them.
  child.unref();
  for (const stream of [child.stdout, child.stderr]) stream?.unref?.();
  child.once('exit', () => children.delete(child));
  if (!exitHooksInstalled) {
    exitHooksInstalled = true;
    process.once('exit', () => {
      for (const c of children) {
        try { c.kill('SIGKILL'); } catch { /* already gone */ }
      }
      for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
    });
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
      process.once(sig, () => {
        for (const c of children) {
          try { c.kill('SIGTERM'); } catch { /* already gone */ }
        }
        process.exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 })[sig]);
      });
    }
  }
}

/** Sends SIGTERM, waits up to `graceMs` for the exit, then SIGKILL. Resolves with the exit code/signal. */
function terminate(child, graceMs = 10_000) {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
    child.kill('SIGTERM');
  });
}

/** Resolves with the first match of `regex` in the child's stdout; rejects if it exits or times out. */
function waitForLine(child, regex, timeoutMs, describe) {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const done = (fn, value) => {
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
      fn(value);
    };
    const onData = (chunk) => {
      buffer += chunk.toString('utf8');
      const m = buffer.match(regex);
      if (m) done(resolve, m);
    };
    const onExit = (code, signal) =>
      done(reject, new Error(`${describe()} exited (code ${code}, signal ${signal}) before it was ready`));
    const timer = setTimeout(
      () => done(reject, new Error(`${describe()} not ready after ${timeoutMs} ms`)),
      timeoutMs,
    );
    child.stdout.on('data', onData);
    child.once('exit', onExit);
  });
}

function tail(file, lines = 40) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

let logCounter = 0;
function logPath(name) {
  mkdirSync(OUT_DIR, { recursive: true });
  logCounter += 1;
  const safe = name.replace(/[^A-Za-z0-9_.-]+/g, '-');
  return path.join(OUT_DIR, `${safe}-${process.pid}-${logCounter}.log`);
}

// ---------------------------------------------------------------------------------------------
// The rathaus server

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** The server binary: $RATHAUS_BIN, else the debug build in $CARGO_TARGET_DIR or ./target. */
export function rathausBin() {
  const candidates = [
    process.env.RATHAUS_BIN,
    process.env.CARGO_TARGET_DIR && path.join(process.env.CARGO_TARGET_DIR, 'debug', 'rathaus'),
    path.join(REPO_ROOT, 'target', 'debug', 'rathaus'),
  ].filter(Boolean);
  const found = candidates.find((c) => existsSync(c));
  if (!found) {
    throw new Error(`rathaus binary not found (tried ${candidates.join(', ')}); build it and set RATHAUS_BIN`);
  }
  return found;
}

/**
 * Starts `rathaus <args>` (default `demo`: seeds the demo installation and serves) on a free port with a
 * fresh data directory. Inherited RATHAUS_* variables are not passed on, so a developer's own
 * configuration never leaks into a test; pass `env` to set any.
 *
 * With port 0 rathaus's public_url (links in e-mails) would say port 0; `pickPort: true` picks a free
 * port first and sets RATHAUS_LISTEN and RATHAUS_PUBLIC_URL to it (tiny race, fine for serial tests).
 *
 * @param {{args?: string[], env?: Record<string,string>, name?: string, timeoutMs?: number,
 *          keepData?: boolean, pickPort?: boolean}} [options]
 * @returns {Promise<{url: string, port: number, dataDir: string, logFile: string,
 *          process: import('node:child_process').ChildProcess, stop: () => Promise<{code, signal}>}>}
 */
export async function startServer({ args = ['demo'], env = {}, name = 'rathaus', timeoutMs = 120_000, keepData = false, pickPort = false } = {}) {
  const bin = rathausBin();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'rathaus-e2e-'));
  if (!keepData) tempDirs.add(dataDir);
  const logFile = logPath(name);
  const childEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RATHAUS_')));
  Object.assign(childEnv, {
    RATHAUS_LISTEN: '127.0.0.1:0',
    RATHAUS_DATA_DIR: dataDir,
    RATHAUS_ASSETS_DIR: ASSETS_DIR,
    RATHAUS_LOG_LEVEL: 'info',
    RATHAUS_SHUTDOWN_GRACE_SECONDS: '5',
    NO_COLOR: '1', // plain log file
  });
  if (pickPort) {
    const port = await freePort();
    childEnv.RATHAUS_LISTEN = `127.0.0.1:${port}`;
    childEnv.RATHAUS_PUBLIC_URL = `http://127.0.0.1:${port}`;
  }
  if (process.env.RATHAUS_E2E_DATABASE_URL) childEnv.RATHAUS_DATABASE_URL = process.env.RATHAUS_E2E_DATABASE_URL;
  Object.assign(childEnv, env);

  const log = createWriteStream(logFile);
  log.write(`# ${bin} ${args.join(' ')}\n# data dir ${dataDir}\n`);
  const child = spawn(bin, args, { env: childEnv, cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  child.stderr.pipe(log, { end: false });
  child.stdout.on('data', (chunk) => log.write(chunk));
  const describe = () => `rathaus ${args.join(' ')} (log: ${logFile})`;

  let match;
  try {
    match = await waitForLine(child, /listening on (http:\/\/127\.0\.0\.1:(\d+))/, timeoutMs, describe);
  } catch (err) {
    await terminate(child, 2000);
    log.end();
    if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    tempDirs.delete(dataDir);
    err.message += `\n--- last lines of ${logFile} ---\n${tail(logFile)}`;
    throw err;
  }
  const url = match[1];
  const port = Number(match[2]);
  let stopped;
  return {
    url,
    port,
    dataDir,
    logFile,
    process: child,
    /** SIGTERM, wait for the exit (SIGKILL after 10 s), remove the data directory. */
    stop() {
      stopped ??= terminate(child).then((result) => {
        log.end();
        if (!keepData) rmSync(dataDir, { recursive: true, force: true });
        tempDirs.delete(dataDir);
        return result;
      });
      return stopped;
    },
  };
}

/**
 * The staff accounts `rathaus demo` printed in its banner: e-mail → {email, role, password, totp, uri}.
 * Waits for the banner to reach the server's log (it is written asynchronously).
 */
export async function demoStaffFromLog(logFile, { atLeast = 7 } = {}) {
  const re = /^ {4}(\S+@\S+)\s+(.+?)\s*\n\s+password (\S+)\s*\n\s+TOTP\s+([A-Z2-7]+)\s*\n\s+(otpauth:\/\/\S+)/gm;
  for (let i = 0; i < 50; i += 1) {
    const text = readFileSync(logFile, 'utf8');
    const found = [...text.matchAll(re)].map((m) => ({ email: m[1], role: m[2], password: m[3], totp: m[4], uri: m[5] }));
    if (found.length >= atLeast) return Object.fromEntries(found.map((a) => [a.email, a]));
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`demo staff not found in ${logFile}`);
}

// ---------------------------------------------------------------------------------------------
// Chromium

/** Launches Debian's Chromium (never downloads a browser). */
export async function launchBrowser(options = {}) {
  const executablePath = process.env.RATHAUS_E2E_CHROMIUM || '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(`Chromium not found at ${executablePath} (apt-get install chromium)`);
  }
  return chromium.launch({
    executablePath,
    headless: process.env.RATHAUS_E2E_HEADFUL !== '1',
    args: CHROMIUM_ARGS,
    ...options,
  });
}

const pageProblemsMap = new WeakMap();

/** Paths the browser asks for by itself that rathaus does not serve (yet); their 404 is no problem. */
export const IGNORED_MISSING = ['/favicon.ico'];

/**
 * A new browser context for a device kind ('phone' or 'desktop'), with `baseURL` set to the server,
 * so `page.goto('/panketal')` works. `extra` is passed to `browser.newContext` (e.g.
 * `{ javaScriptEnabled: false }`). Every page opened in it records console errors, page errors
 * and failed requests (CSP violations show up here); read them with `pageProblems(page)`.
 *
 * @param {{browser, server}} h  what `useHarness()` returns (or any object with browser and server)
 * @param {'phone'|'desktop'} [device]
 * @param {object} [extra]
 */
export async function newContext(h, device = 'phone', extra = {}) {
  const base = DEVICES[device];
  if (!base) throw new Error(`unknown device ${device} (use ${Object.keys(DEVICES).join(', ')})`);
  const ctx = await h.browser.newContext({ ...base, baseURL: h.server?.url, ...extra });
  ctx.setDefaultTimeout(15_000);
  ctx.setDefaultNavigationTimeout(30_000);
  ctx.on('page', (page) => {
    const problems = [];
    const documents = new Set();
    pageProblemsMap.set(page, problems);
    page.on('request', (req) => {
      if (req.resourceType() === 'document') documents.add(req.url());
    });
    page.on('console', (msg) => {
      if (msg.type() !== 'error') return;
      if (msg.text().startsWith('Failed to load resource')) {
        const url = msg.location()?.url ?? '';
        // The document's own status is the test's business (a 404 page is meant to be a 404).
        if (documents.has(url)) return;
        if (IGNORED_MISSING.some((p) => new URL(url, 'http://x').pathname === p)) return;
      }
      problems.push(`console error: ${msg.text()} (${msg.location()?.url ?? ''})`);
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('requestfailed', (req) => {
      // A navigation cancels the previous page's pending loads (fonts, images): the browser's doing, not
      // the server's. A server failure still shows as an HTTP status or a connection error.
      if (req.failure()?.errorText === 'net::ERR_ABORTED') return;
      problems.push(`request failed: ${req.url()} (${req.failure()?.errorText})`);
    });
    page.on('response', (res) => {
      // The document's own status is the test's business (e.g. a 404 page); sub-resources must load.
      if (res.status() >= 400 && res.request().resourceType() !== 'document') {
        problems.push(`HTTP ${res.status()} for ${res.url()}`);
      }
    });
  });
  return ctx;
}

/** Phone context (360×800 @2x, touch, de-DE). */
export const phoneContext = (h, extra = {}) => newContext(h, 'phone', extra);
/** Desktop context (1280×900, de-DE). */
export const desktopContext = (h, extra = {}) => newContext(h, 'desktop', extra);
/** A context with JavaScript disabled (phone unless `device` says otherwise). */
export const noJsContext = (h, device = 'phone', extra = {}) => newContext(h, device, { ...extra, javaScriptEnabled: false });

/** Console errors, page errors and failed sub-resource requests seen on a page so far. */
export function pageProblems(page) {
  return pageProblemsMap.get(page) ?? [];
}

/**
 * Starts a server and a browser before the tests of the calling file and stops both afterwards
 * (also when tests fail). Returns an object whose `server` and `browser` are set once `before` ran.
 *
 * @param {{server?: object, smtp?: boolean}} [options]
 *   `server` is passed to startServer; its `env` may be a function `({smtp}) => env` to hand the
 *   capture server's port to rathaus. `smtp: true` starts a capture server first (h.smtp). E.g.
 *   useHarness({ smtp: true, server: { pickPort: true,
 *     env: ({ smtp }) => ({ RATHAUS_SMTP_URL: `smtp://127.0.0.1:${smtp.port}` }) } })
 */
export function useHarness(options = {}) {
  const h = { server: null, browser: null, smtp: null };
  before(async () => {
    const serverOptions = { ...(options.server ?? {}) };
    if (options.smtp) {
      h.smtp = await startSmtp();
    }
    if (typeof serverOptions.env === 'function') serverOptions.env = serverOptions.env({ smtp: h.smtp });
    h.server = await startServer(serverOptions);
    h.browser = await launchBrowser();
  });
  after(async () => {
    await h.browser?.close().catch(() => {});
    await h.server?.stop();
    await h.smtp?.stop();
  });
  return h;
}

// ---------------------------------------------------------------------------------------------
// Accessibility, screenshots, keyboard

function formatViolations(violations) {
  return violations
    .map((v) => {
      const nodes = v.nodes
        .map((n) => `      - ${n.target.join(' ')}${n.failureSummary ? `\n        ${n.failureSummary.replace(/\n/g, '\n        ')}` : ''}`)
        .join('\n');
      return `  * ${v.id} [${v.impact}] ${v.help}\n    ${v.helpUrl}\n${nodes}`;
    })
    .join('\n');
}

/**
 * Runs axe (WCAG 2.0/2.1 A and AA rules) on the page and throws a readable list of violations if there
 * is any. The full result goes to OUT_DIR/axe-<name>.json.
 *
 * @param {import('playwright-core').Page} page
 * @param {string} name  used in the message and the report file name
 * @param {{include?: string[], exclude?: string[], disableRules?: string[]}} [options]
 * @returns {Promise<object>} the axe results
 */
export async function checkA11y(page, name, { include = [], exclude = [], disableRules = [] } = {}) {
  let builder = new AxeBuilder({ page }).withTags(A11Y_TAGS);
  for (const s of include) builder = builder.include(s);
  for (const s of exclude) builder = builder.exclude(s);
  if (disableRules.length) builder = builder.disableRules(disableRules);
  const results = await builder.analyze();
  mkdirSync(OUT_DIR, { recursive: true });
  const safe = name.replace(/[^A-Za-z0-9_.-]+/g, '-');
  await import('node:fs/promises').then((fs) =>
    fs.writeFile(path.join(OUT_DIR, `axe-${safe}.json`), JSON.stringify(results, null, 2)));
  if (results.violations.length > 0) {
    throw new Error(`axe found ${results.violations.length} accessibility violation(s) on "${name}" (${page.url()}):\n`
      + formatViolations(results.violations));
  }
  return results;
}

/**
 * Deletes the screenshots whose names match `pattern`, before a test file numbers its own anew:
 * those of an earlier run would otherwise mix in.
 */
export function clearScreenshots(pattern) {
  let names = [];
  try { names = readdirSync(SCREENSHOT_DIR); } catch { /* none yet */ }
  for (const f of names) if (pattern.test(f)) rmSync(path.join(SCREENSHOT_DIR, f));
}

/**
 * Writes a full-page PNG to screenshots/<name>.png (name like 'phone-01-start') and returns its path.
 */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, name.endsWith('.png') ? name : `${name}.png`);
  await page.screenshot({ path: file, fullPage: true, animations: 'disabled' });
  return file;
}

const INTERACTIVE = 'a[href], area[href], button, input:not([type=hidden]), select, textarea, summary, '
  + 'iframe, [tabindex], [contenteditable=""], [contenteditable=true], audio[controls], video[controls]';

// Runs in the page: describes the focused element (or, with an argument, a given element).
function describeFocus() {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  const all = document.getElementsByTagName('*');
  const domIndex = Array.prototype.indexOf.call(all, el);
  const cs = getComputedStyle(el);
  const rect = el.getBoundingClientRect();
  const outlineWidth = parseFloat(cs.outlineWidth) || 0;
  const hasOutline = cs.outlineStyle !== 'none' && outlineWidth > 0;
  const hasShadow = cs.boxShadow && cs.boxShadow !== 'none';
  const text = (el.getAttribute('aria-label') || el.innerText || el.value || el.getAttribute('title') || '')
    .replace(/\s+/g, ' ').trim();
  const tag = el.tagName.toLowerCase();
  return {
    domIndex,
    tag,
    id: el.id || null,
    href: el.getAttribute('href'),
    text,
    label: `${tag}${el.id ? `#${el.id}` : ''}${el.getAttribute('href') ? `[href="${el.getAttribute('href')}"]` : ''} "${text}"`,
    outline: `${cs.outlineStyle} ${cs.outlineWidth} ${cs.outlineColor}`,
    boxShadow: cs.boxShadow,
    hasFocusIndicator: Boolean(hasOutline || hasShadow),
    focusVisible: el.matches(':focus-visible'),
    rect: { x: rect.x, y: rect.y, width: rect.width, height: rect.height },
    inViewport: rect.width > 0 && rect.height > 0 && rect.bottom > 0 && rect.right > 0
      && rect.top < window.innerHeight && rect.left < window.innerWidth,
  };
}

/**
 * Waits until the page's web fonts have loaded (or failed), at most `maxMs`. Polls
 * `document.fonts.status` instead of awaiting `document.fonts.ready`: with JavaScript disabled the
 * page never runs the promise's callbacks, so awaiting it would hang.
 */
export async function fontsLoaded(page, maxMs = 5000) {
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    if (await page.evaluate(() => document.fonts.status) === 'loaded') return;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Waits until the page stops scrolling (KERN UX sets `scroll-behavior: smooth`), at most `maxMs`. */
export async function settleScroll(page, maxMs = 2000) {
  const deadline = Date.now() + maxMs;
  // Stable for several samples: under load a smooth scroll may start only after the first look.
  let last = null;
  let stable = 0;
  while (Date.now() < deadline) {
    const pos = await page.evaluate(() => `${window.scrollX},${window.scrollY}`);
    stable = pos === last ? stable + 1 : 0;
    if (stable >= 4) return;
    last = pos;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Presses Tab repeatedly (call it right after navigation, so focus starts at the top) and returns one
 * description per focused element, in order, until focus leaves the page or comes back round.
 * Each entry: {domIndex, tag, id, href, text, label, outline, boxShadow, hasFocusIndicator,
 * focusVisible, rect, inViewport}.
 *
 * @param {import('playwright-core').Page} page
 * @param {{max?: number, key?: string}} [options]
 */
export async function tabThrough(page, { max = 200, key = 'Tab' } = {}) {
  const focused = [];
  for (let i = 0; i < max; i += 1) {
    await page.keyboard.press(key);
    await settleScroll(page);
    const info = await page.evaluate(describeFocus);
    if (!info) break;
    if (focused.length > 0 && info.domIndex === focused[0].domIndex) break;
    focused.push(info);
  }
  return focused;
}

/**
 * Walks the page with the keyboard and compares with the interactive elements in the DOM.
 * Returns {focused, unreachable, withoutIndicator, offscreen}: `unreachable` lists visible
 * interactive elements Tab never reached, `withoutIndicator` focused elements whose computed
 * outline and box-shadow are both none, `offscreen` focused elements not scrolled into view.
 */
export async function keyboardAudit(page, options = {}) {
  const focused = await tabThrough(page, options);
  const candidates = await page.evaluate((selector) => {
    const all = document.getElementsByTagName('*');
    return Array.from(document.querySelectorAll(selector))
      .filter((el) => {
        if (el.matches(':disabled') || el.getAttribute('tabindex') === '-1') return false;
        if (el.closest('[inert], [hidden]')) return false;
        const cs = getComputedStyle(el);
        // Elements shown only on focus (e.g. skip links) are positioned off-screen, not hidden.
        return cs.visibility !== 'hidden' && cs.display !== 'none' && el.getClientRects().length > 0;
      })
      .map((el) => ({
        domIndex: Array.prototype.indexOf.call(all, el),
        label: `${el.tagName.toLowerCase()}${el.getAttribute('href') ? `[href="${el.getAttribute('href')}"]` : ''} "${(el.innerText || el.value || '').replace(/\s+/g, ' ').trim()}"`,
      }));
  }, INTERACTIVE);
  const reached = new Set(focused.map((f) => f.domIndex));
  return {
    focused,
    unreachable: candidates.filter((c) => !reached.has(c.domIndex)),
    withoutIndicator: focused.filter((f) => !f.hasFocusIndicator),
    offscreen: focused.filter((f) => !f.inViewport),
  };
}

// ---------------------------------------------------------------------------------------------
// SMTP capture

function decodeTransfer(body, encoding) {
  const enc = (encoding || '7bit').trim().toLowerCase();
  if (enc === 'base64') return Buffer.from(body.toString('latin1').replace(/\s+/g, ''), 'base64');
  if (enc === 'quoted-printable') {
    const s = body.toString('latin1').replace(/=\r?\n/g, '');
    const bytes = [];
    for (let i = 0; i < s.length; i += 1) {
      if (s[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
        bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
        i += 2;
      } else {
        bytes.push(s.charCodeAt(i) & 0xff);
      }
    }
    return Buffer.from(bytes);
  }
  return body;
}

function decodeCharset(buf, charset) {
  try {
    return new TextDecoder((charset || 'utf-8').toLowerCase()).decode(buf);
  } catch {
    return buf.toString('utf8');
  }
}

/** Decodes RFC 2047 encoded words (=?utf-8?Q?...?= / =?utf-8?B?...?=) in a header value. */
export function decodeHeader(value) {
  return value
    .replace(/(=\?[^?]+\?[QqBb]\?[^?]*\?=)\s+(?==\?)/g, '$1')
    .replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_, charset, enc, text) => {
      const buf = enc.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64')
        : decodeTransfer(Buffer.from(text.replace(/_/g, ' '), 'latin1'), 'quoted-printable');
      return decodeCharset(buf, charset.replace(/\*.*$/, ''));
    });
}

function splitHeadAndBody(buf) {
  const s = buf.toString('latin1');
  const m = s.match(/\r?\n\r?\n/);
  if (!m) return [s, Buffer.alloc(0)];
  return [s.slice(0, m.index), buf.subarray(m.index + m[0].length)];
}

function parseHeaders(head) {
  const list = [];
  for (const line of head.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && list.length) list[list.length - 1][1] += ` ${line.trim()}`;
    else if (line.includes(':')) {
      const i = line.indexOf(':');
      list.push([line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim()]);
    }
  }
  return list.map(([k, v]) => [k, decodeHeader(Buffer.from(v, 'latin1').toString('utf8'))]);
}

function contentTypeParams(value) {
  const [type, ...rest] = (value || 'text/plain').split(';');
  const params = {};
  for (const p of rest) {
    const m = p.match(/^\s*([^=\s]+)\s*=\s*"?([^"]*)"?\s*$/);
    if (m) params[m[1].toLowerCase()] = m[2];
  }
  return { type: type.trim().toLowerCase(), params };
}

function parsePart(buf) {
  const [head, body] = splitHeadAndBody(buf);
  const headerList = parseHeaders(head);
  const headers = {};
  for (const [k, v] of headerList) if (!(k in headers)) headers[k] = v;
  const { type, params } = contentTypeParams(headers['content-type']);
  const part = { headers, headerList, type, params, parts: [] };
  if (type.startsWith('multipart/') && params.boundary) {
    const s = body.toString('latin1');
    const delimiter = `--${params.boundary}`;
    const chunks = s.split(delimiter).slice(1);
    for (const chunk of chunks) {
      if (chunk.startsWith('--')) break;
      const content = chunk.replace(/^\r?\n/, '').replace(/\r?\n$/, '');
      part.parts.push(parsePart(Buffer.from(content, 'latin1')));
    }
  } else {
    part.content = decodeTransfer(body, headers['content-transfer-encoding']);
    if (type.startsWith('text/')) part.text = decodeCharset(part.content, params.charset);
    const disposition = headers['content-disposition'] || '';
    const fn = disposition.match(/filename\*?="?([^";]+)"?/i) || (headers['content-type'] || '').match(/name="?([^";]+)"?/i);
    if (fn) part.filename = fn[1];
  }
  return part;
}

function leaves(part) {
  return part.parts.length ? part.parts.flatMap(leaves) : [part];
}

/**
 * Parses a raw message. Returns {headers (lower-case name → first value, encoded words decoded),
 * headerList, from, to, subject, envelopeFrom, envelopeTo[], text (first text/plain part, decoded),
 * html (first text/html part), attachments [{filename, type, content: Buffer}], raw}.
 */
export function parseEml(raw) {
  const buf = Buffer.isBuffer(raw) ? raw : Buffer.from(raw, 'utf8');
  const root = parsePart(buf);
  const all = leaves(root);
  const h = root.headers;
  return {
    headers: h,
    headerList: root.headerList,
    from: h.from ?? null,
    to: h.to ?? null,
    subject: h.subject ?? null,
    envelopeFrom: h['x-envelope-from'] ?? null,
    envelopeTo: (h['x-envelope-to'] ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    text: all.find((p) => p.type === 'text/plain' && !p.filename)?.text ?? null,
    html: all.find((p) => p.type === 'text/html' && !p.filename)?.text ?? null,
    attachments: all.filter((p) => p.filename).map((p) => ({ filename: p.filename, type: p.type, content: p.content })),
    root,
    raw: buf.toString('utf8'),
  };
}

/** The python that has aiosmtpd installed. */
function smtpPython() {
  const candidates = [process.env.RATHAUS_E2E_PYTHON, '/var/tmp/rathaus-venv/bin/python'].filter(Boolean);
  return candidates.find((c) => existsSync(c)) ?? 'python3';
}

/**
 * Starts scripts/smtp-capture.py on a free port, storing messages in a fresh directory.
 * @returns {Promise<{port: number, dir: string, logFile: string, stop: () => Promise<object>,
 *   mails: () => object[], waitForMail: (predicate?: (mail) => boolean, timeoutMs?: number) => Promise<object>}>}
 */
export async function startSmtp({ name = 'smtp', timeoutMs = 20_000 } = {}) {
  mkdirSync(OUT_DIR, { recursive: true });
  const dir = mkdtempSync(path.join(OUT_DIR, 'mail-'));
  const logFile = logPath(name);
  const log = createWriteStream(logFile);
  const child = spawn(smtpPython(), [path.join(REPO_ROOT, 'scripts', 'smtp-capture.py'), '0', dir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  child.stderr.pipe(log, { end: false });
  child.stdout.on('data', (chunk) => log.write(chunk));
  const describe = () => `smtp-capture.py (log: ${logFile})`;
  let match;
  try {
    match = await waitForLine(child, /smtp listening on (\d+)/, timeoutMs, describe);
  } catch (err) {
    await terminate(child, 2000);
    log.end();
    err.message += `\n--- ${logFile} ---\n${tail(logFile)}`;
    throw err;
  }
  const cache = new Map();
  const mails = () =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.eml'))
      .sort()
      .map((f) => {
        if (!cache.has(f)) cache.set(f, { file: path.join(dir, f), ...parseEml(readFileSync(path.join(dir, f))) });
        return cache.get(f);
      });
  let stopped;
  return {
    port: Number(match[1]),
    dir,
    logFile,
    mails,
    /** Resolves with the first received mail (in arrival order) matching `predicate`. */
    async waitForMail(predicate = () => true, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = mails().find(predicate);
        if (found) return found;
        if (Date.now() > deadline) {
          const seen = mails().map((m) => `  - to ${m.to}: ${m.subject}`).join('\n') || '  (none)';
          throw new Error(`no matching mail within ${timeoutMs} ms; received:\n${seen}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    stop() {
      stopped ??= terminate(child, 5000).then((r) => {
        log.end();
        return r;
      });
      return stopped;
    },
  };
}

/**
 * Runs `action` (a click or key press that submits a form or follows a link) and waits until the
 * resulting document has loaded. Resolves with the final document response (after redirects).
 */
export async function navigate(page, action) {
  let last = null;
  const onResponse = (r) => {
    if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) last = r;
  };
  page.on('response', onResponse);
  try {
    const loaded = page.waitForEvent('load');
    loaded.catch(() => {}); // if the action fails, its error is the one to report
    await action();
    await loaded;
  } finally {
    page.off('response', onResponse);
  }
  return last;
}

/**
 * Layout faults a person would see: on a phone, sideways scrolling and elements sticking out on the
 * right (a scrollable table's content excepted); on any device, a button squeezed so narrow that
 * its label breaks letter by letter or spills out.
 */
export async function assertLayout(page, name, device) {
  if (device === 'phone') {
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${name} (${page.url()}) scrolls horizontally by ${overflow}px on 360 px`);
    const wide = await page.evaluate(() => Array.from(document.querySelectorAll('main *'))
      .filter((el) => !el.closest('.kern-table-responsive') || el.matches('.kern-table-responsive'))
      .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1)
      .map((el) => `${el.tagName.toLowerCase()}.${el.className} "${(el.innerText || '').slice(0, 40)}"`)
      .slice(0, 5));
    assert.deepEqual(wide, [], `${name}: elements sticking out on the right on 360 px`);
  }
  const squeezed = await page.evaluate(() => Array.from(document.querySelectorAll('main button, main .kern-btn'))
    .filter((el) => el.getBoundingClientRect().height > 96
      || (el.querySelector('.kern-label')?.getBoundingClientRect().width ?? 0) > el.getBoundingClientRect().width + 1)
    .map((el) => `${el.innerText.trim()} (${Math.round(el.getBoundingClientRect().width)}×${Math.round(el.getBoundingClientRect().height)}px)`));
  assert.deepEqual(squeezed, [], `${name}: buttons squeezed too narrow for their label on ${device}`);
}
