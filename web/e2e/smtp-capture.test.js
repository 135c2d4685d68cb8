// The SMTP capture server (scripts/smtp-capture.py) and the harness's mail parsing, without rathaus:
// a raw SMTP conversation over a socket, then waitForMail() must see the decoded message.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startSmtp } from './harness.js';

/** Talks SMTP line by line: sends each command and checks the reply's status code. */
async function smtpConversation(port, steps) {
  const socket = net.createConnection({ host: '127.0.0.1', port });
  socket.setEncoding('utf8');
  let buffer = '';
  const waiters = [];
  socket.on('data', (d) => {
    buffer += d;
    // A reply is complete when a line has a space after the code ("250 ok", not "250-ok").
    for (;;) {
      const m = buffer.match(/^(?:\d{3}-[^\n]*\n)*(\d{3}) [^\n]*\n/);
      if (!m) break;
      buffer = buffer.slice(m[0].length);
      waiters.shift()?.resolve({ code: Number(m[1]), text: m[0] });
    }
  });
  const reply = () => new Promise((resolve, reject) => {
    waiters.push({ resolve });
    socket.once('error', reject);
  });
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const greeting = await reply();
  assert.equal(greeting.code, 220, greeting.text);
  for (const [send, expect] of steps) {
    const r = reply();
    socket.write(send);
    const { code, text } = await r;
    assert.equal(code, expect, `after ${JSON.stringify(send.slice(0, 40))}: ${text}`);
  }
  socket.end();
}

let smtp;
before(async () => { smtp = await startSmtp(); });
after(async () => { await smtp?.stop(); });

test('the capture server stores a message that waitForMail decodes', async () => {
  const body = [
    'From: =?utf-8?Q?Amt_Niemegk?= <noreply@amt-niemegk.example>',
    'To: buerger@example.org',
    'Subject: =?utf-8?B?SWhyIEFudHJhZyBhdWYgSHVuZGVzdGV1ZXIgKE3DvGhsZW5mbGllw58p?=',
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Guten Tag,=0D',
    'Ihr Aktenzeichen lautet HST-2025-0001. Gr=C3=BC=C3=9Fe aus M=C3=BChlenflie=',
    '=C3=9F.',
    '..eine Zeile mit Punkt am Anfang',
    '--b1',
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('<p>Grüße</p>').toString('base64'),
    '--b1--',
    '',
  ].join('\r\n');

  await smtpConversation(smtp.port, [
    ['EHLO test.example\r\n', 250],
    ['MAIL FROM:<noreply@amt-niemegk.example>\r\n', 250],
    ['RCPT TO:<buerger@example.org>\r\n', 250],
    ['DATA\r\n', 354],
    [`${body}.\r\n`, 250],
    ['QUIT\r\n', 221],
  ]);

  const mail = await smtp.waitForMail((m) => m.to === 'buerger@example.org', 5000);
  assert.equal(mail.subject, 'Ihr Antrag auf Hundesteuer (Mühlenfließ)');
  assert.equal(mail.from, 'Amt Niemegk <noreply@amt-niemegk.example>');
  assert.equal(mail.envelopeFrom, 'noreply@amt-niemegk.example');
  assert.deepEqual(mail.envelopeTo, ['buerger@example.org']);
  assert.match(mail.text, /Aktenzeichen lautet HST-2025-0001\. Grüße aus Mühlenfließ\./);
  assert.match(mail.text, /^\.eine Zeile mit Punkt am Anfang/m, 'SMTP dot-stuffing is undone');
  assert.equal(mail.html, '<p>Grüße</p>');
  assert.equal(smtp.mails().length, 1);

  await assert.rejects(smtp.waitForMail((m) => m.to === 'niemand@example.org', 300), /no matching mail/);
});
