// Rule: a return URL taken from a request is followed only when a browser would land on an allowed origin: an
// allowed host over https on the default port, or an origin the list names with its port (http only in plain-http
// development mode, for entries that name no scheme), with no userinfo, control characters, whitespace or
// backslashes; everything else, and every repeated value, is refused. No input makes the validator throw.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allowList } from '../../src/core/allowed-origins.js';
import { safeRedirect } from '../../src/http/redirect.js';

const RUNS = { numRuns: 500 };
const policy = { allowedOrigins: allowList(['.example.com', 'auth.other.org', 'https://app.example.com:8443']), allowHttp: false };
const devPolicy = { ...policy, allowHttp: true };

/** Our own reading of the allow-list, written independently of the code under test. */
function originAllowed(url: URL, allowHttp: boolean): boolean {
  const host = url.hostname.replace(/\.$/, '');
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  if (url.protocol === 'https:' && host === 'app.example.com' && port === '8443') return true;
  const hostOk = host === 'example.com' || host.endsWith('.example.com') || host === 'auth.other.org';
  return hostOk && ((url.protocol === 'https:' && port === '443') || (allowHttp && url.protocol === 'http:' && port === '80'));
}

/** Pieces of real open-redirect payloads, glued together at random. */
const scheme = fc.constantFrom(
  'https://',
  'http://',
  'HTTPS://',
  'https:/',
  'https:',
  'https:\\\\',
  '//',
  '///',
  '\\\\',
  '/\\',
  'javascript:',
  'data:text/html,',
  ' https://',
  '\thttps://',
  'https://\u0000',
  'ftp://',
  '',
);
const userinfo = fc.constantFrom('', '', '', 'user@', 'app.example.com@', 'a:b@', 'evil.net@', '%40@', 'app.example.com%40');
const host = fc.constantFrom(
  'app.example.com',
  'example.com',
  'EXAMPLE.com',
  'auth.other.org',
  'x.auth.other.org',
  'other.org',
  'evil.net',
  'example.com.evil.net',
  'evilexample.com',
  'app.example.com.',
  'app.example.com..',
  'app。example。com',
  'ａｐｐ.example.com',
  'app.example.com%2f.evil.net',
  'app.example.com%00.evil.net',
  'xn--exmple-cua.com',
  'exa\u00admple.com',
  '[::1]',
  '127.0.0.1',
  '0x7f.1',
  'evil.net#.example.com',
  'evil.net?.example.com',
  'evil.net\\.example.com',
  'evil.net/.example.com',
  '',
);
const port = fc.constantFrom('', '', ':443', ':80', ':8443', ':8080', ':0', ':99999', ':abc', ':');
const rest = fc.constantFrom(
  '',
  '/',
  '/a?b=1#c',
  '/\\evil.net',
  '/%2f%2fevil.net',
  '@evil.net',
  '#@evil.net',
  '?@evil.net',
  '/%0d%0aSet-Cookie:x',
  '/ x',
  '\n',
);
const hostile = fc.tuple(scheme, userinfo, host, port, rest).map((p) => p.join(''));
const anyInput = fc.oneof(
  hostile,
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.webUrl({ withQueryParameters: true, withFragments: true }),
);

function checkAccepted(raw: string, result: string, allowHttp: boolean): void {
  const landed = new URL(raw); // what a browser sends the user to
  const ours = new URL(result);
  expect(ours.href).toBe(result);
  expect(landed.href).toBe(result);
  expect(allowHttp ? ['https:', 'http:'] : ['https:']).toContain(ours.protocol);
  expect(ours.username).toBe('');
  expect(ours.password).toBe('');
  expect(originAllowed(ours, allowHttp)).toBe(true);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what must not be there
  expect(result).not.toMatch(/[\u0000-\u0020\u007f-\u009f\\]/);
  // Validating what we return again gives the same answer: nothing changes on a second pass.
  expect(safeRedirect(result, { ...policy, allowHttp })).toBe(result);
}

describe('redirects stay on allowed origins', () => {
  it('accepts only what a browser would resolve to an allowed https host, and never throws', () => {
    fc.assert(
      fc.property(anyInput, (raw) => {
        const result = safeRedirect(raw, policy);
        if (result !== undefined) checkAccepted(raw, result, false);
      }),
      RUNS,
    );
  });

  it('in plain-http development mode, adds http and nothing else', () => {
    fc.assert(
      fc.property(anyInput, (raw) => {
        const result = safeRedirect(raw, devPolicy);
        if (result !== undefined) checkAccepted(raw, result, true);
        const strict = safeRedirect(raw, policy);
        if (strict !== undefined) expect(result).toBe(strict);
      }),
      RUNS,
    );
  });

  it('accepts the clean absolute URLs it should (so the checks above are not vacuous)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('example.com', 'app.example.com', 'a.b.example.com', 'auth.other.org'),
        fc.webPath(),
        fc.webQueryParameters(),
        (h, path, query) => {
          const raw = `https://${h}${path}${query ? `?${query}` : ''}`;
          fc.pre(!/[\s\\]/.test(raw));
          expect(safeRedirect(raw, policy)).toBe(new URL(raw).href);
        },
      ),
      RUNS,
    );
  });

  it('refuses an allowed host on a port the list does not name (an origin is scheme, host and port)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('example.com', 'app.example.com', 'auth.other.org'),
        fc.integer({ min: 1, max: 65535 }).filter((p) => p !== 443),
        fc.constantFrom('https', 'http'),
        (h, p, s) => {
          const raw = `${s}://${h}:${p}/`;
          const expected = originAllowed(new URL(raw), true) ? new URL(raw).href : undefined;
          expect(safeRedirect(raw, devPolicy)).toBe(expected);
        },
      ),
      RUNS,
    );
    expect(safeRedirect('https://app.example.test:8443/', policy)).toBeUndefined();
    expect(safeRedirect('https://app.example.com:8443/x', policy)).toBe('https://app.example.com:8443/x');
    expect(safeRedirect('https://a.example.com:8443/x', policy)).toBeUndefined();
    expect(safeRedirect('http://app.example.com:8443/x', devPolicy)).toBeUndefined();
  });

  it('refuses every repeated value, even two identical good ones', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(anyInput, fc.constant('https://app.example.com/')), { minLength: 2, maxLength: 4 }), (values) => {
        expect(safeRedirect(values, policy)).toBeUndefined();
      }),
      RUNS,
    );
  });
});
