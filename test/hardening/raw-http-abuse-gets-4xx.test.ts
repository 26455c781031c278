// Rule: abuse at the HTTP level is answered with a 4xx, never a 5xx, never a 200 without credentials, and the
// server stays up. Sent over a raw socket to the real server (what the in-process tests cannot see, since a Request
// object has already joined repeated headers): oversize headers, a flood of cookies, repeated credentials, an
// oversize body with or without Content-Length (and the connection it came on still works for the next request),
// a body trickled in too slowly (408 and one warning line, no error), and malformed requests.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from '../support/databases.js';
import { codeNow, cookieHeader, jsonLogin, verify } from './support/client.js';
import { freshDatabase } from './support/databases.js';
import { cliOk, eventually, type Server, startServer, TEST_ENCRYPTION_KEYS } from './support/processes.js';
import { SecretLedger } from './support/secrets.js';

/** Sends `raw` as is and returns the status of the first response (0 if the connection closed without one). */
function rawStatus(port: number, raw: string | Buffer, timeoutInMs = 5000): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const done = () => {
      socket.destroy();
      resolve(Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0));
    };
    socket.setTimeout(timeoutInMs, done);
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      if (/\r\n\r\n/.test(text)) done();
    });
    socket.on('error', done);
    socket.on('close', done);
    socket.end(raw);
  });
}

/** A keep-alive connection: send bytes, read whole responses (Content-Length framed) one after the other. */
function keepAlive(port: number) {
  const socket = connect(port, '127.0.0.1');
  let buffer = Buffer.alloc(0);
  let waiting: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    waiting?.();
  });
  socket.on('close', () => waiting?.());
  const next = (timeoutInMs = 20_000) =>
    new Promise<{ status: number; headers: string; body: string } | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutInMs);
      const check = () => {
        const text = buffer.toString('latin1');
        const end = text.indexOf('\r\n\r\n');
        if (end >= 0) {
          const headers = text.slice(0, end);
          const length = Number(/\r\ncontent-length: *(\d+)/i.exec(headers)?.[1] ?? 0);
          if (buffer.length >= end + 4 + length) {
            buffer = buffer.subarray(end + 4 + length);
            clearTimeout(timer);
            waiting = undefined;
            resolve({
              status: Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1] ?? 0),
              headers,
              body: text.slice(end + 4, end + 4 + length),
            });
            return;
          }
        }
        if (socket.destroyed) {
          clearTimeout(timer);
          resolve(undefined);
        }
      };
      waiting = check;
      check();
    });
  return { socket, write: (data: string | Buffer) => socket.write(data), next, close: () => socket.destroy() };
}

describe('raw HTTP abuse gets a 4xx and leaves the server up', () => {
  let db: TestDatabase;
  let server: Server;
  let token: string;
  let cookie: string;
  const ledger = new SecretLedger();
  ledger.addEncryptionKeys(TEST_ENCRYPTION_KEYS);

  beforeAll(async () => {
    db = await freshDatabase('sqlite');
    const env = { DATABASE_URL: db.url };
    await cliOk(env, 'migrate');
    const secret = (await cliOk(env, 'user', 'add', '--email', 'raw@example.com')).totpSecret as string;
    ledger.add('totp-secret', secret);
    token = (await cliOk(env, 'service', 'add', 'app')).token;
    ledger.add('service-token', token);
    await cliOk(env, 'grant', '--email', 'raw@example.com', '--service', 'app');
    server = await startServer('raw-http', env);
    const code = await codeNow(secret);
    ledger.add('totp-code', code);
    const login = await jsonLogin(server.base, 'raw@example.com', code);
    expect(login.res.status).toBe(200);
    cookie = cookieHeader(login.res);
    ledger.addCookies(cookie);
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  const get = (path: string, headers: string[]) =>
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers.map((h) => `${h}\r\n`).join('')}Connection: close\r\n\r\n`;

  it('the same request without abuse is a 200, so the refusals below are about the abuse', async () => {
    expect(await rawStatus(server.port, get('/verify/app', [`Authorization: Bearer ${token}`, `Cookie: ${cookie}`]))).toBe(200);
  });

  it('oversize headers: 431 from the HTTP layer, whatever they carry', async () => {
    const huge = `Cookie: ${cookie}; pad=${'a'.repeat(20_000)}`;
    expect(await rawStatus(server.port, get('/verify/app', [`Authorization: Bearer ${token}`, huge]))).toBe(431);
    expect(await rawStatus(server.port, get('/login', [`X-Junk: ${'b'.repeat(20_000)}`]))).toBe(431);
  });

  it('a Cookie header over 8 KiB, or hundreds of cookies, never authenticates and never fails', async () => {
    const big = `Cookie: ${cookie}; pad=${'a'.repeat(9000)}`;
    expect(await rawStatus(server.port, get('/verify/app', [`Authorization: Bearer ${token}`, big]))).toBe(404);
    const many = `Cookie: ${Array.from({ length: 600 }, (_, i) => `c${i}=${i}`).join('; ')}`;
    expect(await rawStatus(server.port, get('/verify/app', [`Authorization: Bearer ${token}`, many]))).toBe(404);
    const duplicated = `Cookie: ${cookie}; ${cookie}`;
    expect(await rawStatus(server.port, get('/verify/app', [`Authorization: Bearer ${token}`, duplicated]))).toBe(404);
  });

  it('repeated credentials are no credential: two Authorization or X-Service-Token lines, or both disagreeing', async () => {
    const withCookie = (h: string[]) => get('/verify/app', [...h, `Cookie: ${cookie}`]);
    expect(await rawStatus(server.port, withCookie([`Authorization: Bearer ${token}`, `Authorization: Bearer ${token}`]))).toBe(401);
    expect(await rawStatus(server.port, withCookie([`X-Service-Token: ${token}`, `X-Service-Token: ${token}`]))).toBe(401);
    expect(await rawStatus(server.port, withCookie([`Authorization: Bearer ${token}`, 'X-Service-Token: something-else-entirely']))).toBe(
      401,
    );
  });

  it('an oversize body is refused before parsing, with or without Content-Length', async () => {
    const body = JSON.stringify({ email: 'raw@example.com', device_registration_code: '123456', pad: 'x'.repeat(40_000) });
    const sized = `POST /device/add HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
    expect(await rawStatus(server.port, sized)).toBe(413);
    const chunks = [body.slice(0, 20_000), body.slice(20_000)].map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join('');
    const chunked = `POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunks}0\r\n\r\n`;
    expect(await rawStatus(server.port, chunked)).toBe(413);
    const lying = `POST /device/add HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10\r\nConnection: close\r\n\r\n${body}`;
    const status = await rawStatus(server.port, lying);
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(500);
  });

  it('an oversize body with Content-Length gets 413 and leaves the connection usable (what a proxy pools)', async () => {
    const conn = keepAlive(server.port);
    try {
      const body = `email=${'x'.repeat(180_000)}`;
      conn.write(
        `POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      // Sent in pieces, as a proxy streams it.
      for (let i = 0; i < body.length; i += 16_384) conn.write(body.slice(i, i + 16_384));
      const refused = await conn.next();
      expect(refused?.status).toBe(413);
      expect(refused?.body).toBe('{"status code":413,"error":"Request body too large"}');
      conn.write(`GET /verify/app HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nCookie: ${cookie}\r\n\r\n`);
      const after = await conn.next();
      expect(after?.status, 'the next request on the same connection').toBe(200);
    } finally {
      conn.close();
    }
  });

  it('a body trickled in too slowly gets 408 with one warning line, not a 503 and an error', async () => {
    const linesBefore = server.logLines().length;
    const conn = keepAlive(server.port);
    const body = 'email=raw%40example.com&code=000000';
    try {
      conn.write(
        `POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n`,
      );
      // One byte a second: the whole body would take longer than a client is given.
      let sent = 0;
      const trickle = setInterval(() => {
        if (sent < body.length && !conn.socket.destroyed) conn.write(body.charAt(sent++));
      }, 1000);
      const answer = await conn.next(30_000);
      clearInterval(trickle);
      expect(answer?.status).toBe(408);
      expect(answer?.headers).toMatch(/\r\nconnection: close/i);
      expect(sent).toBeLessThan(body.length);
    } finally {
      conn.close();
    }
    // Log lines are written asynchronously: wait for this one, then look at everything logged since it started.
    const timedOut = (l: Record<string, unknown>) => typeof l.msg === 'string' && l.msg.startsWith('request body not received in time');
    await eventually(() => server.logLines().slice(linesBefore).some(timedOut), 5000);
    const lines = server.logLines().slice(linesBefore);
    expect(lines.filter(timedOut).map((l) => [l.level, l.path, l.msg])).toEqual([
      [40, '/login', 'request body not received in time; answered 408'],
    ]);
    expect(lines.filter((l) => (l.level as number) >= 50)).toEqual([]);
    expect(JSON.stringify(lines)).not.toContain('stack');
  }, 40_000);

  it('malformed requests are refused by the HTTP layer with a 4xx', async () => {
    for (const raw of [
      'GET /verify/app HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header\r\n\r\n',
      'GET /verify/app HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'GET /verify/a\u0000pp HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
      'BREW /login HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
      'GET /verify/app HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n',
    ]) {
      const status = await rawStatus(server.port, raw);
      expect(status, JSON.stringify(raw)).toBeGreaterThanOrEqual(400);
      expect(status, JSON.stringify(raw)).toBeLessThan(500);
    }
  });

  it('the server is still up and still right afterwards, and logged no secret', async () => {
    expect((await verify(server.base, 'app', token, cookie)).res.status).toBe(200);
    expect(server.output()).not.toMatch(/"level":(50|60)/);
    expect(ledger.scan(server.output())).toEqual([]);
  });
});
