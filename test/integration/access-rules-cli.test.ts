// Access rules through the CLI: groups and members (shown by `user list`), group grants, rules with their order
// and --before, `access check` in text and JSON, `policy export` and `policy apply` (--dry-run, one transaction,
// errors naming the field or the line, nothing written on any error). The commands run in-process through the
// CLI's own entry (`runCli`: argument parsing, output, exit code); cli.test.ts runs the built one as a process.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_KEY } from '../support/app.js';
import { runCliInProcess } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

describe('access rules through the CLI (sqlite)', () => {
  let tdb: TestDatabase;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    tdb = await createTestDatabase('sqlite');
    dir = mkdtempSync(join(tmpdir(), 'pa-policy-'));
    env = { DATABASE_URL: tdb.url, ENCRYPTION_KEYS: TEST_KEY, LOG_LEVEL: 'warn' };
  });
  afterAll(async () => {
    await tdb?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const cli = (...args: string[]) => runCliInProcess(args, env);
  const ok = async (...args: string[]) => {
    const r = await cli(...args);
    expect(r.code, `${args.join(' ')}: ${r.out}${r.err}`).toBe(0);
    return r;
  };
  const rules = async () =>
    (await ok('rule', 'list', '--service', 'app', '--json')).json() as Array<{
      id: number;
      policy: string;
      paths: string[];
      methods: string[];
    }>;

  it('manages groups, members and group grants; user list shows the groups', async () => {
    await ok('user', 'add', '--email', 'ann@example.com');
    await ok('user', 'add', '--email', 'bob@example.com');
    await ok('service', 'add', 'app');
    expect((await ok('group', 'add', 'ops', '--json')).json()).toMatchObject({ name: 'ops' });
    expect((await cli('group', 'add', 'ops')).err).toContain('already exists');
    expect((await cli('group', 'add', 'bad name')).err).toContain('invalid group name');
    await ok('group', 'member', 'add', '--email', 'ann@example.com', '--group', 'ops');
    expect((await cli('group', 'member', 'add', '--email', 'nobody@example.com', '--group', 'ops')).err).toContain('no user with email');
    expect((await ok('grant', '--group', 'ops', '--service', 'app', '--scope', 'read:email', '--json')).json()).toEqual({
      group: 'ops',
      service: 'app',
      scope: 'read:email',
    });
    expect((await ok('group', 'list', '--json')).json()).toEqual([
      expect.objectContaining({ name: 'ops', members: ['ann@example.com'], grants: [{ service: 'app', scope: 'read:email' }] }),
    ]);
    const users = (await ok('user', 'list', '--json')).json() as Array<{ email: string; groups: string[] }>;
    expect(users.find((u) => u.email === 'ann@example.com')?.groups).toEqual(['ops']);
    expect((await ok('user', 'list')).out).toMatch(/ann@example\.com .* ops /);
  });

  it('adds rules in order (--before), refuses a malformed one naming the field, writes nothing then', async () => {
    const added = (
      await ok('rule', 'add', '--service', 'app', '--path', '/admin/**', '--group', 'ops', '--policy', 'passkey', '--json')
    ).json();
    expect(added).toMatchObject({ id: expect.any(Number), paths: ['/admin/**'], groups: ['ops'], policy: 'passkey' });
    await ok('rule', 'add', '--service', 'app', '--path', '/admin/**', '--policy', 'deny');
    await ok(
      'rule',
      'add',
      '--service',
      'app',
      '--path',
      '/health,/hooks/*/in',
      '--method',
      'GET',
      '--method',
      'POST',
      '--policy',
      'public',
      '--before',
      String(added.id),
    );
    expect((await rules()).map((r) => r.policy)).toEqual(['public', 'passkey', 'deny']);
    expect((await rules())[0]).toMatchObject({ paths: ['/health', '/hooks/*/in'], methods: ['GET', 'POST'] });
    const bad: ReadonlyArray<readonly [readonly string[], string]> = [
      [['--path', 'admin'], 'paths: "admin" must start with /'],
      [['--path', '/a/../b'], 'paths:'],
      [['--network', '10.0.0.0/33'], 'networks: "10.0.0.0/33" prefix length'],
      [['--method', 'GE T'], 'methods:'],
      [['--group', 'nope'], 'groups: no group named nope'],
      [['--user', 'ghost@example.com'], 'users: no user with email ghost@example.com'],
      [['--before', '99999'], 'before: no rule #99999'],
    ];
    for (const [args, message] of bad) {
      const r = await cli('rule', 'add', '--service', 'app', ...args, '--policy', 'deny');
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.err).toContain(message);
    }
    const policy = await cli('rule', 'add', '--service', 'app', '--path', '/x', '--policy', 'allow');
    expect(policy.err).toContain('policy: "allow" is not one of');
    expect(await rules()).toHaveLength(3);
    expect((await ok('rule', 'list', '--service', 'app')).out).toContain('passkey /admin/** for group ops');
  });

  it('access check explains the decision and the rule, in text and JSON', async () => {
    const pub = await ok('access', 'check', '--service', 'app', '--url', 'https://app.example.com/health');
    expect(pub.out).toContain('decision: public');
    expect((await ok('access', 'check', '--service', 'app', '--url', '/%68ealth', '--json')).json()).toMatchObject({
      decision: 'sign-in',
      rule: null,
    });
    expect(
      (await ok('access', 'check', '--service', 'app', '--url', '/admin/x', '--email', 'ann@example.com', '--json')).json(),
    ).toMatchObject({
      decision: 'allow',
      rule: expect.stringMatching(/passkey \/admin\/\*\* for group ops/),
      reason: expect.stringContaining('signed in with a passkey'),
    });
    expect(
      (await ok('access', 'check', '--service', 'app', '--url', '/ADMIN/x', '--email', 'bob@example.com', '--json')).json(),
    ).toMatchObject({
      decision: 'deny',
      rule: expect.stringMatching(/deny \/admin\/\*\*/),
    });
    const none = await ok('access', 'check', '--service', 'app', '--url', '/other', '--email', 'bob@example.com');
    expect(none.out).toContain('decision: forbidden');
    expect(none.out).toContain('no rule matched: grant');
    expect((await ok('access', 'check', '--service', 'app', '--url', '/admin%2f..', '--json')).json()).toMatchObject({
      decision: 'deny',
      path: null,
    });
  });

  it('policy export, then apply: dry run first, one transaction, errors name the line and change nothing', async () => {
    const exported = (await ok('policy', 'export')).out;
    expect(exported).toContain('ops:');
    expect(exported).toContain('/admin/**');
    // The exported file applies to no change at all.
    writeFileSync(join(dir, 'same.yaml'), exported);
    expect((await ok('policy', 'apply', join(dir, 'same.yaml'))).out).toContain('No changes');

    const next = `groups:
  ops:
    members: [ann@example.com, bob@example.com]
    grants:
      app: read:email
services:
  app:
    grants:
      bob@example.com: read:username
    rules:
      - paths: [/health]
        policy: public
      - paths: [/admin/**]
        groups: [ops]
        policy: recent:10
`;
    writeFileSync(join(dir, 'next.yaml'), next);
    const dry = await ok('policy', 'apply', join(dir, 'next.yaml'), '--dry-run');
    expect(dry.out).toContain('+ member bob@example.com of group ops');
    expect(dry.out).toContain('+ grant app to bob@example.com, scope read:username');
    expect(dry.out).toContain('~ rules of app');
    expect(dry.out).toContain('nothing written');
    expect(await rules()).toHaveLength(3);
    await ok('policy', 'apply', join(dir, 'next.yaml'));
    expect((await rules()).map((r) => r.policy)).toEqual(['public', 'recent:10']);
    expect((await ok('policy', 'apply', join(dir, 'next.yaml'))).out).toContain('No changes');

    const bad: ReadonlyArray<readonly [string, string]> = [
      ['services:\n  app:\n    rules:\n      - paths: [/a]\n        policy: bogus\n', 'line 4: service app rule, policy:'],
      [
        'services:\n  app:\n    rules:\n      - paths: [/a]\n        networks: [300.1.1.1]\n        policy: deny\n',
        'line 4: service app rule, networks:',
      ],
      ['services:\n  app:\n    rules:\n      - groups: [nope]\n        policy: deny\n', 'line 4: service app rule, groups: no group nope'],
      ['services:\n  missing:\n    rules: []\n', 'line 2: no service named missing'],
      ['groups:\n  ops:\n    members: [ghost@example.com]\n', 'line 3: no user with email ghost@example.com'],
      ['groups:\n  a: [\n', 'line 3: not valid YAML'],
      ['groups:\n  ops:\n    colour: red\n', 'line 3: group ops: unknown key colour'],
      [`services:\n  app:\n    rules:\n      - paths: ${'['.repeat(12)}/a${']'.repeat(12)}\n        policy: deny\n`, 'nested deeper'],
      ['a: &x [1]\nb: *x\n', 'aliases'],
    ];
    for (const [text, message] of bad) {
      writeFileSync(join(dir, 'bad.yaml'), text);
      const r = await cli('policy', 'apply', join(dir, 'bad.yaml'));
      expect(r.code, text).toBe(1);
      expect(r.err, text).toContain(message);
    }
    writeFileSync(join(dir, 'big.yaml'), `# ${'x'.repeat(1_000_001)}\n`);
    expect((await cli('policy', 'apply', join(dir, 'big.yaml'))).err).toContain('larger than 1000000 bytes');
    expect((await cli('policy', 'apply', join(dir, 'no-such.yaml'))).err).toContain('no-such.yaml: no such file');
    // Nothing of any of them was written.
    expect((await rules()).map((r) => r.policy)).toEqual(['public', 'recent:10']);
    await ok('rule', 'remove', '--id', String((await rules())[0]?.id), '--yes');
    expect((await rules()).map((r) => r.policy)).toEqual(['recent:10']);
  });
});
