// Rule: the path a rule sees is the path the app will serve. Every spelling of a protected path normalises to it
// (or is unreadable and fails closed), and a spelling that is not already canonical never matches `public`.
import { describe, expect, it } from 'vitest';
import type { StoredRule } from '../../src/core/model.js';
import { normalizeRequestPath } from '../../src/core/request-path.js';
import { RuleMatcher } from '../../src/core/rules.js';

const rule = (id: number, policy: string, paths: string[], extra: Partial<StoredRule> = {}): StoredRule => ({
  id,
  serviceId: 1,
  position: id,
  paths,
  methods: [],
  networks: [],
  users: [],
  groups: [],
  policy,
  createdAt: 0,
  ...extra,
});

describe('normalizeRequestPath', () => {
  it('keeps canonical paths as they are, query dropped', () => {
    for (const p of ['/', '/admin', '/admin/', '/a/b-c_d~e.txt', '/caf%C3%A9', '/x%20y', "/a!$&'()*+,=:@"]) {
      expect(normalizeRequestPath(p)).toEqual({ path: p, canonical: true });
    }
    expect(normalizeRequestPath('/admin?x=/../y')).toEqual({ path: '/admin', canonical: true });
    expect(normalizeRequestPath('/admin?a#b')).toEqual({ path: '/admin', canonical: true });
  });

  // Each of these is another spelling of /admin (or of a path under it) that some server serves as such.
  const toAdmin: ReadonlyArray<readonly [string, string]> = [
    ['/admin/../admin', '/admin'],
    ['/x/../admin', '/admin'],
    ['/%61dmin', '/admin'],
    ['/%61%64%6D%69%6E', '/admin'],
    ['/%61%64%6d%69%6e', '/admin'],
    ['//admin', '/admin'],
    ['///admin//', '/admin/'],
    ['/./admin', '/admin'],
    ['/admin/.', '/admin/'],
    ['/admin;x', '/admin'],
    ['/admin;jsessionid=1/users', '/admin/users'],
    ['/admin.', '/admin'],
    ['/admin..', '/admin'],
    ['/admin%2e', '/admin'],
    ['/admin%20', '/admin'],
    ['/admin.%20.', '/admin'],
    ['/%2e/admin', '/admin'],
    ['/%2e%2e/admin', undefined as unknown as string],
    ['/x/%2e%2e/admin', '/admin'],
    ['/x/.%2e/admin', '/admin'],
    ['/admin/x/..', '/admin/'],
    ['/admin/%7eroot', '/admin/~root'],
    ['/a%2Db', '/a-b'],
    ['/admin/%c3%a9', '/admin/%C3%A9'],
  ];
  it.each(toAdmin)('%s normalises to %s and is not canonical', (raw, want) => {
    const got = normalizeRequestPath(raw);
    if (want === undefined) expect(got).toBeUndefined();
    else expect(got).toEqual({ path: want, canonical: false });
  });

  const unreadable = [
    '',
    'admin',
    '*',
    'http://x/admin',
    '/admin%2f..',
    '/admin%2F../x',
    '/admin%5c..%5cx',
    '/admin\\..\\x',
    '/admin%00',
    '/admin%00.html',
    '/admin%0a',
    '/admin%7f',
    '/admin%25',
    '/admin%252e%252e',
    '/admin#x',
    '/health#/../admin/x',
    '/health/%c0%ae%c0%ae/admin/x',
    '/health/..%C0%AFadmin/x',
    '/%C3',
    '/%EF%BC',
    '/admin%',
    '/admin%g1',
    '/admin%1',
    '/admin x',
    '/admin\t',
    '/admin\u00e9',
    '/admin\u0000',
    '/..',
    '/../admin',
    '/a/../../admin',
    '/...',
    '/admin/.../x',
    `/${'a'.repeat(8192)}`,
  ];
  it.each(unreadable.map((p) => [p.length > 40 ? `${p.slice(0, 20)}… (${p.length})` : JSON.stringify(p), p]))(
    '%s is unreadable',
    (_n, raw) => {
      expect(normalizeRequestPath(raw)).toBeUndefined();
    },
  );

  it('reads a path of exactly 8 KB, and measures the limit without the query', () => {
    const p = `/${'a'.repeat(8191)}`;
    expect(normalizeRequestPath(p)?.canonical).toBe(true);
    expect(normalizeRequestPath(`${p}?${'q'.repeat(10_000)}`)?.canonical).toBe(true);
  });
});

describe('rules meet every spelling', () => {
  const matcher = new RuleMatcher([
    rule(1, 'public', ['/health', '/hooks/*/in']),
    rule(2, 'deny', ['/admin/**']),
    rule(3, 'passkey', ['/secret']),
    rule(4, 'public', ['/**']),
  ]);
  const decide = (raw: string) => {
    const path = normalizeRequestPath(raw);
    if (path === undefined) return 'unreadable';
    const r = matcher.match({ path, method: 'GET', client: undefined }, null);
    return r === undefined ? 'none' : typeof r === 'string' ? r : r.policy.kind;
  };

  // The battery: everything that may be the admin area is denied or unreadable, never public.
  const adminSpellings = [
    '/admin',
    '/admin/',
    '/admin/x',
    '/ADMIN',
    '/Admin/x',
    '/%61dmin',
    '/%41DMIN/x',
    '//admin',
    '/admin;x',
    '/admin;x/y',
    '/admin.',
    '/admin%2e',
    '/admin%20',
    '/./admin',
    '/x/../admin',
    '/x/%2e%2e/admin/y',
    '/x/%2E%2E/admin',
    '/admin/../admin/x',
    '/admin%2f..',
    '/admin%2F',
    '/admin%5c',
    '/admin\\x',
    '/admin%00',
    '/admin%00/x',
    '/admin%252f',
    '/ad%6Din',
    '/admin..;/x',
    `/admin/${'a'.repeat(9000)}`,
    '/SECRET',
    '/secret;a',
    '/secret/',
    '/%73ecret',
    '/public/../secret',
    '/secret.',
    '/Health/../admin',
    '/health/../admin',
    '/health/..%2fadmin',
    '/health%2f..%2fadmin',
    '/hooks/a/in/../../../admin',
    '/hooks/..%2f..%2fadmin/in',
    '/hooks/%2e%2e/admin',
    '/health#/../admin/x',
    '/health%23/../admin/x',
    '/health%3f/../admin/x',
    '/health/..;/admin/x',
    '/health/%C0%AE%C0%AE/admin/x',
    '/health%00/../admin/x',
    '/%2561dmin/x',
    '/health/%252e%252e/admin/x',
    '/login/../admin/x',
  ];
  it.each(adminSpellings.map((p) => [p.length > 40 ? `${p.slice(0, 20)}…` : p, p]))('%s never reaches public', (_n, raw) => {
    expect(['deny', 'passkey', 'unreadable']).toContain(decide(raw));
  });

  it('keeps valid UTF-8 escapes (upper-cased) and reads them as characters of their segment', () => {
    expect(normalizeRequestPath('/caf%c3%a9')).toEqual({ path: '/caf%C3%A9', canonical: false });
    expect(normalizeRequestPath('/%EF%BC%A1dmin')).toEqual({ path: '/%EF%BC%A1dmin', canonical: true });
  });

  it('public matches only canonical spellings, exactly', () => {
    expect(decide('/health')).toBe('public');
    expect(decide('/hooks/github/in')).toBe('public');
    expect(decide('/anything/else')).toBe('public'); // rule 4
    // Not canonical: not public; the catch-all public rule 4 does not take them either.
    expect(decide('/HEALTH')).toBe('public'); // rule 4 takes it as the exact path /HEALTH
    expect(decide('/%68ealth')).toBe('none');
    expect(decide('//health')).toBe('none');
    expect(decide('/health;x')).toBe('none');
  });
});
