// Rules for clients that talk to the sidecar directly (no proxy in front), through the production listener:
//  - a declared body over the limit gets 413 before `100 Continue`, so the client never sends it;
//  - a client still sending a 10 MB body (Content-Length or chunked) reads the 413, every time: the connection is
//    closed in stages (half-close, the rest read and dropped, within a bound), never reset under the answer;
//  - a request Node cannot parse (a 196 KiB URL) gets its 431 the same way;
//  - no log line, at any level, shows an invite link's token, however the path is spelled.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging.js';
import { createTestApp, jsonLines, type TestApp } from '../support/app.js';
import { upload } from '../support/uploads.js';

const TEN_MB = 10_000_000;

describe('direct clients read their refusal, and logs never show an invite token', () => {
  let t: TestApp;
  const lines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    const sink = jsonLines(lines);
    t = await createTestApp('sqlite', {}, createLogger({ level: 'debug' }, sink), 'node');
  });
  afterAll(async () => t?.close());

  const post = (path: string, framing: string) =>
    `POST ${path} HTTP/1.1\r\nHost: auth.example.com\r\nContent-Type: application/x-www-form-urlencoded\r\n${framing}`;

  it('answers a declared body over the limit with 413 before 100 Continue', async () => {
    const answer = await upload({ port: t.port, head: post('/login', `Content-Length: ${TEN_MB}\r\nExpect: 100-continue`) });
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).not.toContain('100 Continue');
    expect(answer).toMatch(/\r\nConnection: close\r\n/i);
    // Within the limit, the client is told to go on, and its body is read.
    const small = await upload({
      port: t.port,
      head: post('/device/add', 'Content-Length: 2\r\nExpect: 100-continue\r\nConnection: close'),
      body: '{}',
    });
    expect(small).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 401 /);
  });

  it('lets a client sending 10 MB read the 413, with Content-Length or chunked, reading as it sends or only after', async () => {
    for (const path of ['/login', '/device/add']) {
      for (const framing of [`Content-Length: ${TEN_MB}`, 'Transfer-Encoding: chunked']) {
        for (const lazy of [false, true]) {
          for (let i = 0; i < 3; i++) {
            const answer = await upload({
              port: t.port,
              head: post(path, framing),
              bodyBytes: TEN_MB,
              chunked: framing.startsWith('Transfer'),
              lazy,
            });
            expect(answer.slice(0, 40), `${path}, ${framing}, ${lazy ? 'lazy' : 'curl-like'}, try ${i + 1}`).toMatch(/^HTTP\/1\.1 413 /);
            expect(answer).toContain('"status code":413');
          }
        }
      }
    }
  });

  it('answers a 196 KiB URL with 431, and the client reads it', async () => {
    for (let i = 0; i < 3; i++) {
      const answer = await upload({
        port: t.port,
        head: `GET /login?pad=${'x'.repeat(196 * 1024)} HTTP/1.1\r\nHost: auth.example.com`,
        lazy: true,
      });
      expect(answer.slice(0, 40), `try ${i + 1}`).toMatch(/^HTTP\/1\.1 431 /);
    }
  });

  it('masks an invite token in every log line: the body-limit warning and any spelling of the path at debug level', async () => {
    const { token } = await t.runtime.admin.inviteUser({ email: 'logged@example.com', create: 'if-missing' });
    const tooBig = await t.raw({
      method: 'POST',
      path: `/login/enroll/${token}`,
      headers: [['Content-Type', 'application/x-www-form-urlencoded']],
      body: `code=${'1'.repeat(17 * 1024)}`,
    });
    expect(tooBig.status).toBe(413);
    const encoded = [...'enroll'].map((ch) => `%${ch.charCodeAt(0).toString(16)}`).join('');
    for (const path of [
      `//login//enroll/${token}`,
      `/LOGIN/enroll/${token}`,
      `/login/ENROLL/${token}`,
      `/login/${encoded}/${token}`,
      `/login/%2565nroll/${token}`,
      `/login/enroll%2F${token}`,
      `/login/enroll/${token}/passkey/options`,
    ]) {
      await t.raw({ method: 'GET', path });
    }
    await t.raw({
      method: 'POST',
      path: `/login/enroll/${token}`,
      headers: [['Transfer-Encoding', 'chunked']],
      body: `4000\r\n${'a'.repeat(0x4000)}\r\n4000\r\n${'a'.repeat(0x4000)}\r\n0\r\n\r\n`,
    });
    const all = JSON.stringify(lines);
    expect(all).toContain('request body too large; answered 413');
    expect(lines.filter((l) => l.msg === 'request').length).toBeGreaterThanOrEqual(7);
    expect(all).not.toContain(token);
    expect(all).not.toContain(token.slice(0, 20));
    expect(lines).toContainEqual(expect.objectContaining({ msg: 'request', path: '/login/enroll/<token>/passkey/options' }));
  });
});
