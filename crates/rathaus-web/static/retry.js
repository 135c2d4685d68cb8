// Sends a form again by itself when the server was too busy to take it: it answered 503 and
// showed the same page again, with what was typed and a waiting notice. Without this script the
// citizen presses the button; the script only saves them the wait and the press.
(() => {
  'use strict';
  const form = document.querySelector('form[data-retry-after]');
  const button = form && form.querySelector('button[data-retry]');
  const notice = document.querySelector('[data-retry-notice]');
  if (!form || !button || !notice) return;

  // Each refusal in a row waits about twice as long, up to 30 s. The random share spreads the
  // browsers that were refused at the same moment, so that they do not all come back together.
  const base = Math.max(1, Number(form.dataset.retryAfter) || 3);
  const wait = Math.min(20, base * 2 ** refusalsInARow(form.action));
  const sendAt = Date.now() + wait * (1 + Math.random() / 2) * 1000;

  // The notice is a polite status region: its sentence changes once, so a screen reader says it
  // once. The countdown below ticks every second and is hidden from screen readers.
  notice.querySelector('[data-retry-message]').textContent = notice.dataset.autoText;
  const countdown = notice.querySelector('[data-retry-countdown]');
  const show = () => {
    const seconds = Math.max(1, Math.ceil((sendAt - Date.now()) / 1000));
    countdown.textContent = seconds === 1
      ? notice.dataset.countdownOne
      : notice.dataset.countdown.replace('{n}', String(seconds));
  };
  show();
  countdown.hidden = false;
  const ticker = setInterval(show, 1000);
  const timer = setTimeout(() => {
    clearInterval(ticker);
    if (form.requestSubmit) form.requestSubmit(button);
    else button.click();
  }, sendAt - Date.now());
  // Sent by hand (or by the timer): once is enough.
  form.addEventListener('submit', () => {
    clearTimeout(timer);
    clearInterval(ticker);
  });

  /** How many waiting pages for this form came just before this one (0 for the first). */
  function refusalsInARow(key) {
    try {
      const name = `rathaus-retry:${key}`;
      const last = JSON.parse(sessionStorage.getItem(name) || 'null');
      const n = last && Date.now() - last.at < 120000 ? last.n + 1 : 0;
      sessionStorage.setItem(name, JSON.stringify({ n, at: Date.now() }));
      return Math.min(n, 10);
    } catch {
      return 0; // storage refused (private mode): every wait is the first
    }
  }
})();
