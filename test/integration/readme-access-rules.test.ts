// README.md's access-rules example, run as written: its policy file is applied with its commands, and every
// `access check` must print the lines the README shows (the README trims each answer to its first lines).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_KEY } from '../support/app.js';
import { runCliInProcess } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/databases.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The fenced block right after `<!-- marker -->`. */
function blockAfter(marker: string): string {
  const at = README.indexOf(`<!-- ${marker} -->`);
  if (at < 0) throw new Error(`README.md has no ${marker} marker`);
  const match = /```[a-z]*\n([\s\S]*?)```/.exec(README.slice(at));
  if (!match) throw new Error(`no code block after ${marker}`);
  return match[1] as string;
}

describe("README's access-rules example", () => {
  let tdb: TestDatabase;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    tdb = await createTestDatabase('sqlite');
    dir = mkdtempSync(join(tmpdir(), 'pa-readme-rules-'));
    env = { DATABASE_URL: tdb.url, ENCRYPTION_KEYS: TEST_KEY, LOG_LEVEL: 'warn' };
  });
  afterAll(async () => {
    await tdb?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('applies the policy and answers every access check as shown', async () => {
    writeFileSync(join(dir, 'policy.yaml'), blockAfter('access-rules-example:policy'));
    const steps: Array<{ args: string[]; expected: string[] }> = [];
    for (const line of blockAfter('access-rules-example:check').split('\n')) {
      if (line.startsWith('$ passwordless-auth '))
        steps.push({ args: line.slice('$ passwordless-auth '.length).split(/\s+/), expected: [] });
      else if (line.trim() !== '') steps.at(-1)?.expected.push(line);
    }
    expect(steps.filter((s) => s.args[0] === 'access').length).toBeGreaterThanOrEqual(5);
    for (const { args, expected } of steps) {
      const { code, out, err } = await runCliInProcess(
        args.map((a) => (a === 'policy.yaml' ? join(dir, 'policy.yaml') : a)),
        env,
      );
      const isError = expected[0]?.startsWith('passwordless-auth:') === true;
      expect(code, `${args.join(' ')}\n${out}${err}`).toBe(isError ? 1 : 0);
      const got = (isError ? err : out).split('\n').slice(0, expected.length);
      expect(got, args.join(' ')).toEqual(expected);
    }
  });
});
