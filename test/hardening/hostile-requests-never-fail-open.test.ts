// Rule: hostile input never breaks the gate open. Random and malicious paths, headers, cookies, content types and
// bodies sent to /verify, the login routes and every other route never produce a 5xx; /verify answers 200 exactly
// when the caller's credential is valid for the service, the Cookie header holds one genuine device pair and that
// user may use the service; a failed login never sets a cookie; and no response redirects off the allowed hosts.
import fc from 'fast-check';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp, TRANSPORTS, type Transport } from '../support/app.js';

const RUNS = { numRuns: 400 };

type Owner = 'alice' | 'bob' | 'root';
interface Pair {
  id: string;
  secret: string;
}

// Each property runs in-process and through the production listener on a real socket (the Node fast path).
for (const transport of TRANSPORTS) defineHostileSuite(transport);

function defineHostileSuite(transport: Transport) {
  let t: TestApp;
  const tokens: Record<string, string> = {};
  const pairs = {} as Record<Owner, Pair>;
  const secrets: Record<string, string> = {};
  let carolCookie = '';

  const parsePair = (cookie: string): Pair => {
    const get = (n: string) => (new RegExp(`${n}=([0-9a-f]{32})`).exec(cookie)?.[1] ?? '') as string;
    return { id: get('device_id'), secret: get('hmac_secret') };
  };

  beforeAll(async () => {
    t = await createTestApp('sqlite', {}, undefined, transport);
    const a = t.runtime.admin;
    for (const [email, admin] of [
      ['alice@example.com', false],
      ['bob@example.com', false],
      ['root@example.com', true],
      ['carol@example.com', false],
    ] as const) {
      secrets[email] = (await a.addUser({ email, admin })).totpSecret;
    }
    tokens.EmailService = (await a.addService('EmailService')).token;
    tokens.Other = (await a.addService('Other')).token;
    tokens.proxy = (await a.addProxyToken('edge')).token;
    await a.grant({ email: 'alice@example.com', service: 'EmailService', scope: 'read:email' });
    pairs.alice = parsePair(await t.login('alice@example.com', secrets['alice@example.com'] as string));
    pairs.bob = parsePair(await t.login('bob@example.com', secrets['bob@example.com'] as string));
    pairs.root = parsePair(await t.login('root@example.com', secrets['root@example.com'] as string));
    carolCookie = await t.login('carol@example.com', secrets['carol@example.com'] as string);
  });
  afterAll(async () => t?.close());

  /** Builds a Request the way a client could actually send it; `undefined` if no client could. */
  function request(path: string, init: RequestInit): Request | undefined {
    try {
      return new Request(`http://auth.example.com${path}`, init);
    } catch {
      return undefined;
    }
  }

  async function send(req: Request, peer: string | undefined): Promise<Response> {
    t.peer = peer;
    return t.send(req);
  }

  /** No redirect anywhere may leave our hosts: a Location is a path on this service or an allowed host. */
  function expectSafeLocation(res: Response) {
    const location = res.headers.get('location');
    if (location === null) return;
    const url = new URL(location, 'https://auth.example.com');
    expect(url.hostname === 'example.com' || url.hostname.endsWith('.example.com'), location).toBe(true);
    expect(url.protocol).toBe('https:');
  }

  const printable = (max: number) =>
    fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((n) => String.fromCharCode(n)), maxLength: max });
  const peer = fc.constantFrom(undefined, '10.0.0.2', '198.51.100.9', '2001:db8::7');

  // ---- /verify ----

  type TokenName = 'EmailService' | 'Other' | 'proxy' | 'mutated' | 'random' | 'empty';
  const tokenName = fc.constantFrom<TokenName>('EmailService', 'Other', 'proxy', 'proxy', 'EmailService', 'mutated', 'random', 'empty');
  const tokenValue = (name: TokenName, salt: string) => {
    if (name === 'mutated') {
      // One character changed, so it is never the real token.
      const real = tokens.EmailService as string;
      return `${real.startsWith('A') ? 'B' : 'A'}${real.slice(1)}`;
    }
    if (name === 'random') return salt;
    if (name === 'empty') return '';
    return tokens[name] as string;
  };
  const authorization = fc.option(
    fc.oneof(
      {
        weight: 3,
        arbitrary: fc.record({
          prefix: fc.constant('Bearer '),
          token: fc.constantFrom<TokenName>('EmailService', 'proxy'),
          suffix: fc.constant(''),
        }),
      },
      {
        weight: 2,
        arbitrary: fc.record({
          prefix: fc.constantFrom('Bearer ', 'Bearer ', 'bearer ', 'BEARER ', 'Bearer  ', 'Basic ', 'Token ', ''),
          token: tokenName,
          suffix: fc.constantFrom('', '', ' ', ' x', ',x', ', Bearer y'),
        }),
      },
    ),
    { nil: undefined, freq: 4 },
  );
  const serviceTokenHeader = fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.record({ token: tokenName, suffix: fc.constantFrom('', '', ' ', ',x', ' y') }) },
  );

  type PieceKind = 'id' | 'secret';
  type Variant = 'plain' | 'quoted' | 'spaced' | 'upper' | 'truncated' | 'extra';
  const kindPiece = fc.record({
    kind: fc.constantFrom<PieceKind>('id', 'secret'),
    owner: fc.constantFrom<Owner | 'random'>('alice', 'alice', 'bob', 'root', 'random'),
    variant: fc.constantFrom<Variant>('plain', 'plain', 'plain', 'quoted', 'spaced', 'upper', 'truncated', 'extra'),
  });
  const otherPiece = fc
    .tuple(fc.stringMatching(/^[A-Za-z0-9_-]{1,10}$/), printable(20))
    .map(([n, v]) => ({ other: `${n}=${v.replace(/;/g, '')}` }));
  const piece = fc.oneof({ weight: 3, arbitrary: kindPiece }, { weight: 1, arbitrary: otherPiece });
  const VALID_VARIANTS: Variant[] = ['plain', 'quoted', 'spaced'];
  type Piece = { kind: PieceKind; owner: Owner | 'random'; variant: Variant } | { other: string };
  /** Half the time a genuine pair (in any order, among other cookies, sometimes with one stray extra piece). */
  const cookiePieces: fc.Arbitrary<Piece[]> = fc.oneof(
    fc
      .tuple(
        fc.constantFrom<Owner>('alice', 'alice', 'root', 'bob'),
        fc.constantFrom<Variant>(...VALID_VARIANTS),
        fc.constantFrom<Variant>(...VALID_VARIANTS),
        fc.array(otherPiece, { maxLength: 2 }),
        fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: kindPiece.map((p) => [p]) }),
      )
      .chain(([owner, v1, v2, others, stray]) => {
        const all: Piece[] = [{ kind: 'id', owner, variant: v1 }, { kind: 'secret', owner, variant: v2 }, ...others, ...stray];
        return fc.shuffledSubarray(all, { minLength: all.length });
      }),
    fc.array(piece, { maxLength: 5 }),
  );
  const hexOf = (owner: Owner | 'random', kind: PieceKind, salt: string) =>
    owner === 'random' ? salt.padEnd(32, '0').slice(0, 32) : pairs[owner][kind === 'id' ? 'id' : 'secret'];
  function cookiePiece(p: { kind: PieceKind; owner: Owner | 'random'; variant: Variant } | { other: string }, salt: string): string {
    if ('other' in p) return p.other;
    const name = p.kind === 'id' ? 'device_id' : 'hmac_secret';
    const v = hexOf(p.owner, p.kind, salt);
    switch (p.variant) {
      case 'plain':
        return `${name}=${v}`;
      case 'quoted':
        return `${name}="${v}"`;
      case 'spaced':
        return ` ${name} = ${v} `;
      case 'upper':
        return `${name}=${v.toUpperCase().replace(/^[0-9]/, 'F')}`;
      case 'truncated':
        return `${name}=${v.slice(1)}`;
      case 'extra':
        return `${name}=${v}0`;
    }
  }
  const serviceSegment = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('EmailService', 'EmailService', 'Other') },
    fc.constantFrom(
      'EmailService',
      'Other',
      'Missing',
      'emailservice',
      'EmailService%00',
      'Email%20Service',
      '%E0%A4%A',
      '%',
      '..%2Fhealthz',
      'x'.repeat(300),
      'EmailService%2F',
      'Other.',
      '',
    ),
    fc.string({ maxLength: 30 }).map((s) => encodeURIComponent(s)),
  );
  const query = fc.constantFrom(
    '',
    '',
    '',
    '',
    '',
    '',
    '',
    '',
    '?proxy=nginx',
    '?proxy=traefik',
    '?proxy=caddy',
    '?proxy=NGINX',
    '?proxy=nginx&proxy=caddy',
    '?proxy',
    '?%zz',
    '?proxy=%ff',
    '?proxy=nginx&x=1',
  );
  const extraHeaders = fc.dictionary(
    fc.constantFrom(
      'X-Forwarded-Proto',
      'X-Forwarded-Host',
      'X-Forwarded-Uri',
      'X-Forwarded-Method',
      'X-Original-URL',
      'X-Original-Method',
      'X-Forwarded-For',
      'Accept',
      'Sec-Fetch-Mode',
      'X-Requested-With',
    ),
    fc.oneof(
      printable(40),
      fc.constantFrom(
        'https',
        'evil.net',
        'app.example.com',
        '/x?y',
        'https://evil.net/',
        'https://app.example.com/a',
        'text/html',
        'navigate',
        'POST',
      ),
    ),
    { maxKeys: 5 },
  );

  function tryDecode(segment: string): string | undefined {
    try {
      return decodeURIComponent(segment);
    } catch {
      return undefined;
    }
  }

  describe(`hostile requests never fail open (${transport})`, () => {
    it('/verify: never a 5xx, and 200 exactly for a valid credential, one genuine device pair and access', async () => {
      let allowed = 0;
      let denied = 0;
      await fc.assert(
        fc.asyncProperty(
          authorization,
          serviceTokenHeader,
          cookiePieces,
          serviceSegment,
          query,
          extraHeaders,
          peer,
          fc.stringMatching(/^[0-9a-f]{32}$/),
          async (authz, xst, pieces, segment, q, extra, from, salt) => {
            const headers = new Headers();
            for (const [k, v] of Object.entries(extra)) headers.set(k, v);
            if (authz) headers.set('Authorization', `${authz.prefix}${tokenValue(authz.token, salt)}${authz.suffix}`);
            if (xst) headers.set('X-Service-Token', `${tokenValue(xst.token, salt)}${xst.suffix}`);
            if (pieces.length > 0) headers.set('Cookie', pieces.map((p) => cookiePiece(p, salt)).join('; '));
            const req = request(`/verify/${segment}${q}`, { headers });
            fc.pre(req !== undefined);
            const res = await send(req as Request, from);
            expect(res.status).toBeLessThan(500);
            expectSafeLocation(res);

            // The oracle, from the generated structure alone.
            const service = tryDecode(segment);
            const validTokens = new Set<TokenName>([
              'proxy',
              ...(service === 'EmailService' || service === 'Other' ? [service] : []),
            ] as TokenName[]);
            const authzOk =
              authz === undefined ||
              (['Bearer ', 'bearer ', 'BEARER '].includes(authz.prefix) &&
                ['', ' '].includes(authz.suffix) &&
                validTokens.has(authz.token));
            const xstOk = xst === undefined || (['', ' '].includes(xst.suffix) && validTokens.has(xst.token));
            const credentialOk =
              (authz !== undefined || xst !== undefined) &&
              authzOk &&
              xstOk &&
              (authz === undefined || xst === undefined || authz.token === xst.token);
            const ids = pieces.filter((p) => 'kind' in p && p.kind === 'id') as { owner: Owner | 'random'; variant: Variant }[];
            const secretsSent = pieces.filter((p) => 'kind' in p && p.kind === 'secret') as { owner: Owner | 'random'; variant: Variant }[];
            const [id] = ids;
            const [sec] = secretsSent;
            const owner =
              ids.length === 1 &&
              secretsSent.length === 1 &&
              id &&
              sec &&
              id.owner !== 'random' &&
              id.owner === sec.owner &&
              VALID_VARIANTS.includes(id.variant) &&
              VALID_VARIANTS.includes(sec.variant)
                ? id.owner
                : undefined;
            const access =
              (owner === 'alice' && service === 'EmailService') ||
              (owner === 'root' && (service === 'EmailService' || service === 'Other'));
            // Unknown, empty or repeated `proxy` values are refused (400); no `proxy` parameter at all is the direct style.
            const styleOk = !['?proxy=NGINX', '?proxy=nginx&proxy=caddy', '?proxy', '?proxy=%ff'].includes(q);
            const expected = styleOk && credentialOk && access;
            if (res.status === 200) allowed++;
            else denied++;
            expect(res.status === 200, `${res.status} for ${JSON.stringify({ authz, xst, pieces, segment, q })}`).toBe(expected);
            if (res.status === 200) {
              const body = (await res.json()) as { data: { UserServiceToken: string } };
              expect(res.headers.get('Remote-User')).toBe(body.data.UserServiceToken);
            }
          },
        ),
        RUNS,
      );
      // Both sides of the oracle were exercised, so neither direction holds vacuously.
      expect(allowed).toBeGreaterThan(5);
      expect(denied).toBeGreaterThan(100);
    });

    // ---- the login routes ----

    const email = fc.oneof(
      fc.constantFrom(
        'alice@example.com',
        ' ALICE@example.com ',
        'alice@example.com\u0000',
        'ａｌｉｃｅ@example.com',
        'nobody@example.com',
        '',
        '@',
        'a'.repeat(400),
      ),
      fc.emailAddress(),
      printable(30),
    );
    const code = fc.oneof(
      fc.constantFrom(
        '',
        '12345',
        '1234567',
        ' 123456',
        '123456 ',
        '١٢٣٤٥٦',
        '１２３４５６',
        '12345６',
        '0x1E240',
        '1e5',
        '-12345',
        '123 456',
      ),
      fc.stringMatching(/^[0-9]{6}$/),
      printable(8),
    );
    const jsonCode = fc.oneof(
      code,
      fc.integer({ min: 0, max: 999_999 }),
      fc.constant(null),
      fc.array(fc.stringMatching(/^[0-9]{6}$/), { maxLength: 3 }),
      fc.constant({ $gt: '' }),
      fc.boolean(),
    );
    const fields = fc.record(
      {
        email,
        code,
        rd: fc.oneof(printable(40), fc.constantFrom('https://evil.net/', 'https://app.example.com/x', '//evil.net', 'javascript:alert(1)')),
        device_type: printable(50),
        extra: printable(10),
      },
      { requiredKeys: [] },
    );
    const body = fc.oneof(
      fields.map((f) => new URLSearchParams(f as Record<string, string>).toString()),
      fc
        .tuple(fields, fields)
        .map(([a, b]) => `${new URLSearchParams(a as Record<string, string>)}&${new URLSearchParams(b as Record<string, string>)}`),
      fc
        .record(
          { email, device_registration_code: jsonCode, device_type: fc.oneof(printable(40), fc.integer(), fc.constant(null)) },
          { requiredKeys: [] },
        )
        .map((o) => JSON.stringify(o)),
      fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
      fields.map(
        (f) =>
          `${Object.entries(f)
            .map(([k, v]) => `--x\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
            .join('')}--x--\r\n`,
      ),
      fc.constant(
        `--x\r\nContent-Disposition: form-data; name="email"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\nalice@example.com\r\n--x--\r\n`,
      ),
      fc.string({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 200 }),
      fc.integer({ min: 16 * 1024 - 10, max: 40 * 1024 }).map((n) => `email=${'a'.repeat(n)}`),
    );
    const contentType = fc.option(
      fc.constantFrom(
        'application/x-www-form-urlencoded',
        'application/x-www-form-urlencoded',
        'application/json',
        'application/json',
        'multipart/form-data; boundary=x',
        'multipart/form-data',
        'multipart/form-data; boundary=',
        'text/plain',
        'APPLICATION/X-WWW-FORM-URLENCODED',
        'application/x-www-form-urlencoded; charset=utf-16',
        'application/json; charset=utf-16',
        'image/png',
        '',
        '*/*',
      ),
      { nil: undefined },
    );
    const loginPath = fc.constantFrom(
      '/login',
      '/login',
      '/device/add',
      '/device/add',
      '/login?rd=https://app.example.com/',
      '/login?rd=https://evil.net/',
      '/login/',
      '/login/x',
      '/logout',
      '/login/account/sign-out-everywhere',
      '/login/account/devices/x/revoke',
      '/',
    );
    const method = fc.constantFrom('POST', 'POST', 'POST', 'POST', 'PUT', 'PATCH', 'DELETE', 'GET');
    const cookie = fc.option(
      fc.oneof(
        fc.constant('carol'),
        printable(60),
        fc.stringMatching(/^[0-9a-f]{32}$/).map((h) => `device_id=${h}; hmac_secret=${h}`),
      ),
      { nil: undefined },
    );
    const browserHeaders = fc.record(
      {
        Origin: fc.constantFrom(
          'https://auth.example.com',
          'https://evil.net',
          'null',
          'http://auth.example.com',
          'https://example.com.evil.net',
        ),
        'Sec-Fetch-Site': fc.constantFrom('same-origin', 'same-site', 'cross-site', 'none', 'bogus'),
        'X-Forwarded-For': fc.oneof(fc.ipV4(), printable(30)),
        Accept: fc.constantFrom('application/json', 'text/html', '*/*'),
        'User-Agent': printable(80),
      },
      { requiredKeys: [] },
    );

    it('login routes: never a 5xx, never a cookie on a failed login, never a new device without a right code', async () => {
      const devicesBefore = (await t.runtime.admin.listDevices()).length;
      await fc.assert(
        fc.asyncProperty(
          loginPath,
          method,
          contentType,
          body,
          cookie,
          browserHeaders,
          peer,
          async (path, m, type, payload, c, extra, from) => {
            // Any currently right code for a real user would be a real login: never send one by chance.
            const now = Math.floor(t.clock.now() / 1000);
            const right = new Set<string>();
            for (const secret of Object.values(secrets))
              for (const d of [-30, 0, 30]) right.add(await generate({ secret, epoch: now + d }));
            const text = typeof payload === 'string' ? payload : Buffer.from(payload).toString('latin1');
            fc.pre(![...right].some((r) => text.includes(r)));

            const headers = new Headers(extra);
            if (type !== undefined) headers.set('Content-Type', type);
            if (c !== undefined) headers.set('Cookie', c === 'carol' ? carolCookie : c);
            const req = request(path, { method: m, headers, ...(m === 'GET' ? {} : { body: payload }) });
            fc.pre(req !== undefined);
            const res = await send(req as Request, from);
            expect(res.status, `${m} ${path}`).toBeLessThan(500);
            expectSafeLocation(res);
            for (const set of res.headers.getSetCookie()) {
              // The only cookies ever set here are the ones that clear the device cookies (sign out).
              expect(set, `${m} ${path} → ${res.status}`).toMatch(/^(device_id|hmac_secret)=;/);
              expect(set).toMatch(/Max-Age=0/i);
            }
            t.clock.advance(1000);
          },
        ),
        RUNS,
      );
      expect((await t.runtime.admin.listDevices()).length).toBeLessThanOrEqual(devicesBefore);
    });

    it('every other route: random GETs and HEADs with random cookies and headers never give a 5xx or an open redirect', async () => {
      const anyPath = fc.oneof(
        fc.constantFrom(
          '/',
          '/login',
          '/login?rd=https://evil.net/',
          '/login?rd=https://app.example.com/x',
          '/login?rd=a&rd=b',
          '/logout',
          '/login/account',
          '/healthz',
          '/readyz',
          '/metrics',
          '/login/style.css',
          '/%',
          '/%E0%A4%A',
          '//evil.net',
          '/\\evil.net',
          '/login/..%2F..%2Fetc%2Fpasswd',
        ),
        fc.webPath(),
        fc.string({ maxLength: 40 }).map((s) => `/login?rd=${encodeURIComponent(s)}`),
      );
      await fc.assert(
        fc.asyncProperty(
          anyPath,
          fc.constantFrom('GET', 'HEAD', 'OPTIONS'),
          cookie,
          browserHeaders,
          peer,
          async (path, m, c, extra, from) => {
            const headers = new Headers(extra);
            if (c !== undefined) headers.set('Cookie', c === 'carol' ? carolCookie : c);
            const req = request(path, { method: m, headers });
            fc.pre(req !== undefined);
            const res = await send(req as Request, from);
            expect(res.status, `${m} ${path}`).toBeLessThan(500);
            expectSafeLocation(res);
          },
        ),
        RUNS,
      );
    });

    it('the harness can log in at all: the same request builder with a right code gets cookies (sanity check)', async () => {
      const code = await t.nextCode(secrets['bob@example.com'] as string);
      const req = request('/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ email: 'bob@example.com', code }).toString(),
      });
      t.peer = '198.51.100.200';
      const res = await t.send(req as Request);
      expect(res.status).toBe(303);
      expect(res.headers.getSetCookie()).toHaveLength(2);
    });
  });
}
