// Rule: a service's rules are checked field by field when written, and evaluated first match wins on method,
// path, client network and who is asking; a rule naming users or groups matches only a signed-in user among them.
import { describe, expect, it } from 'vitest';
import type { StoredRule } from '../../src/core/model.js';
import { normalizeRequestPath } from '../../src/core/request-path.js';
import { checkRule, describeRule, NEEDS_SUBJECT, parsePolicy, type RuleInput, RuleMatcher } from '../../src/core/rules.js';

const input: RuleInput = { paths: [], methods: [], networks: [], users: [], groups: [], policy: 'deny' };
const rule = (id: number, policy: string, extra: Partial<StoredRule> = {}): StoredRule => ({
  id,
  serviceId: 1,
  position: id,
  createdAt: 0,
  ...input,
  policy,
  ...extra,
});
const facts = (raw: string, method = 'GET', client?: string) => ({ path: normalizeRequestPath(raw), method, client });
const idOf = (r: ReturnType<RuleMatcher['match']>) => (r === undefined ? 'none' : typeof r === 'string' ? r : r.id);

describe('checkRule', () => {
  it('accepts a well-formed rule and answers its stored form', () => {
    const checked = checkRule({
      paths: ['/admin/**', ' /api/*/hooks ', '/x/*.js'],
      methods: ['get', 'POST', 'get'],
      networks: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.1'],
      users: ['Ann@Example.com'],
      groups: ['ops'],
      policy: 'recent 15',
    });
    expect(checked).toEqual({
      ok: true,
      rule: {
        paths: ['/admin/**', '/api/*/hooks', '/x/*.js'],
        methods: ['GET', 'POST'],
        networks: ['10.0.0.0/8', '2001:db8::/32', '192.0.2.1'],
        users: ['ann@example.com'],
        groups: ['ops'],
        policy: 'recent:15',
      },
    });
  });

  const bad: ReadonlyArray<readonly [string, Partial<RuleInput>, string]> = [
    ['relative path', { paths: ['admin'] }, 'paths'],
    ['dot segment', { paths: ['/a/../admin'] }, 'paths'],
    ['double slash', { paths: ['//admin'] }, 'paths'],
    ['encoded letter', { paths: ['/%61dmin'] }, 'paths'],
    ['query', { paths: ['/a?b'] }, 'paths'],
    ['half a double star', { paths: ['/a**'] }, 'paths'],
    ['too many double stars', { paths: ['/**/a/**/b/**/c/**'] }, 'paths'],
    ['semicolon', { paths: ['/a;b'] }, 'paths'],
    ['method', { methods: ['GE T'] }, 'methods'],
    ['CIDR address', { networks: ['10.0.0.300/8'] }, 'networks'],
    ['CIDR bits', { networks: ['10.0.0.0/33'] }, 'networks'],
    ['IPv6 bits', { networks: ['::1/129'] }, 'networks'],
    ['CIDR junk', { networks: ['10.0.0.0/8/1'] }, 'networks'],
    ['email', { users: ['not-an-email'] }, 'users'],
    ['group', { groups: ['a b'] }, 'groups'],
    ['policy', { policy: 'allow' }, 'policy'],
    ['recent zero', { policy: 'recent:0' }, 'policy'],
    ['recent huge', { policy: 'recent:9999999' }, 'policy'],
    ['public with subjects', { policy: 'public', groups: ['ops'] }, 'policy'],
  ];
  it.each(bad)('refuses a bad %s naming the field', (_name, fields, field) => {
    const checked = checkRule({ ...input, ...fields });
    expect(checked).toMatchObject({ ok: false, field });
  });

  it('parses policies', () => {
    expect(parsePolicy('recent:5')).toEqual({ kind: 'recent', minutes: 5 });
    expect(parsePolicy('passkey')).toEqual({ kind: 'passkey' });
    expect(parsePolicy('Passkey')).toBeUndefined();
  });
});

describe('RuleMatcher', () => {
  it('takes the first match on method, path and network; no match is undefined', () => {
    const m = new RuleMatcher([
      rule(1, 'public', { paths: ['/hooks/*'], methods: ['POST'] }),
      rule(2, 'deny', { paths: ['/admin/**'], networks: ['203.0.113.0/24', '2001:db8::/32'] }),
      rule(3, 'passkey', { paths: ['/admin/**'] }),
      rule(4, 'signed-in', { networks: ['10.0.0.0/8'] }),
    ]);
    expect(idOf(m.match(facts('/hooks/github', 'POST'), undefined))).toBe(1);
    expect(idOf(m.match(facts('/hooks/github', 'GET'), undefined))).toBe('none');
    expect(idOf(m.match(facts('/hooks/a/b', 'POST'), undefined))).toBe('none');
    expect(idOf(m.match(facts('/admin', 'GET', '203.0.113.9'), undefined))).toBe(2);
    expect(idOf(m.match(facts('/admin/x', 'GET', '::ffff:203.0.113.9'), undefined))).toBe(2);
    expect(idOf(m.match(facts('/ADMIN/x', 'GET', '2001:db8::1'), undefined))).toBe(2);
    expect(idOf(m.match(facts('/admin/x', 'GET', '198.51.100.1'), undefined))).toBe(3);
    expect(idOf(m.match(facts('/admin/x', 'GET', undefined), undefined))).toBe(3);
    expect(idOf(m.match(facts('/other', 'GET', '10.1.2.3'), undefined))).toBe(4);
    expect(idOf(m.match(facts('/other', 'GET', '11.1.2.3'), undefined))).toBe('none');
    expect(m.usesPaths && m.usesNetworks).toBe(true);
  });

  it('asks who is asking only when the first candidate names users or groups, then matches members only', () => {
    const m = new RuleMatcher([
      rule(1, 'deny', { paths: ['/x'] }),
      rule(2, 'passkey', { paths: ['/admin/**'], groups: ['ops'], users: ['boss@example.com'] }),
      rule(3, 'deny', { paths: ['/admin/**'] }),
    ]);
    expect(idOf(m.match(facts('/x'), undefined))).toBe(1);
    expect(m.match(facts('/admin'), undefined)).toBe(NEEDS_SUBJECT);
    expect(idOf(m.match(facts('/admin'), null))).toBe(3);
    expect(idOf(m.match(facts('/admin'), { email: 'ann@example.com', groups: ['ops'] }))).toBe(2);
    expect(idOf(m.match(facts('/admin'), { email: 'boss@example.com', groups: [] }))).toBe(2);
    expect(idOf(m.match(facts('/admin'), { email: 'eve@example.com', groups: ['dev'] }))).toBe(3);
  });

  it('globs: * is one segment, ** any number of whole segments', () => {
    const m = new RuleMatcher([
      rule(1, 'deny', { paths: ['/api/*/hooks'] }),
      rule(2, 'passkey', { paths: ['/files/**/secret'] }),
      rule(3, 'signed-in', { paths: ['/static/*.js'] }),
    ]);
    expect(idOf(m.match(facts('/api/v1/hooks'), null))).toBe(1);
    expect(idOf(m.match(facts('/api/v1/v2/hooks'), null))).toBe('none');
    expect(idOf(m.match(facts('/files/secret'), null))).toBe(2);
    expect(idOf(m.match(facts('/files/a/b/secret/'), null))).toBe(2);
    expect(idOf(m.match(facts('/static/app.js'), null))).toBe(3);
    expect(idOf(m.match(facts('/static/a/app.js'), null))).toBe('none');
  });

  it('a GET rule covers HEAD; a method not sent in upper case never meets public', () => {
    const m = new RuleMatcher([
      rule(1, 'public', { paths: ['/p'], methods: ['GET'] }),
      rule(2, 'deny', { methods: ['DELETE'] }),
      rule(3, 'public', { paths: ['/q'] }),
    ]);
    expect(idOf(m.match(facts('/p', 'HEAD'), null))).toBe(1);
    expect(idOf(m.match({ ...facts('/p', 'GET'), methodCanonical: false }, null))).toBe('none');
    expect(idOf(m.match({ ...facts('/q', 'GET'), methodCanonical: false }, null))).toBe('none');
    expect(idOf(m.match({ ...facts('/x', 'DELETE'), methodCanonical: false }, null))).toBe(2);
  });

  it('skips a stored rule that no longer passes its checks, and says so', () => {
    const m = new RuleMatcher([rule(1, 'bogus', { paths: ['/x'] }), rule(2, 'deny', { paths: ['/x'] })]);
    expect(m.skipped.map((r) => r.id)).toEqual([1]);
    expect(idOf(m.match(facts('/x'), null))).toBe(2);
  });

  it('describes a rule for people', () => {
    expect(describeRule(rule(3, 'passkey', { paths: ['/admin/**'], methods: ['GET'], networks: ['10.0.0.0/8'], groups: ['ops'] }))).toBe(
      '#3 passkey /admin/** GET from 10.0.0.0/8 for group ops',
    );
  });
});
