// Rule: the example fail2ban filter bans exactly the right addresses. Run as fail2ban runs it (the datepattern
// finds and cuts the time, then failregex searches the rest, <ADDR> standing for an IPv4 or IPv6 address), over the
// real log lines of a server that saw good, bad, malformed, throttled and injection-laden logins, it matches every
// login.failure and login.throttled line with a client address, extracts exactly that address, and matches nothing
// else — not a success, not a request line, not an address smuggled in through an email or a device name.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestDatabase } from '../support/databases.js';
import { codeNow, formLogin, jsonLogin } from './support/client.js';
import { freshDatabase } from './support/databases.js';
import { cliOk, eventually, parseLogLines, type Server, startServer } from './support/processes.js';

const FILTER = new URL('../../examples/fail2ban/filter.d/passwordless-auth.conf', import.meta.url);

/** fail2ban's own tag expansions (fail2ban/server/failregex.py, datetemplate.py), written as JS regular expressions. */
const IP4 = '(?:\\d{1,3}\\.){3}\\d{1,3}';
const IP6 = '(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):)';
const TAGS: Record<string, string> = {
  '<ADDR>': String.raw`\[?(?:(?:::f{4,6}:)?(?<ip4>${IP4})|(?<ip6>${IP6}))\]?`,
  '<HOST>': String.raw`\[?(?:(?:::f{4,6}:)?(?<ip4>${IP4})|(?<ip6>${IP6}))\]?`,
  '{LEPOCH}': String.raw`(?<epoch>\d{10,11}(?:\d{3}(?:\.\d{1,6}|\d{3})?)?)`,
};

/** The [Definition] section of a fail2ban .conf file: keys with their (possibly continued) values. */
function readDefinition(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  let section = '';
  let key: string | undefined;
  for (const raw of text.split('\n')) {
    if (/^\s*[#;]/.test(raw) || raw.trim() === '') {
      key = raw.trim() === '' ? undefined : key;
      continue;
    }
    const header = /^\[(.+)\]\s*$/.exec(raw);
    if (header) {
      section = header[1] as string;
      key = undefined;
      continue;
    }
    if (section !== 'Definition') continue;
    if (/^\s/.test(raw) && key) {
      (out[key] as string[]).push(raw.trim());
      continue;
    }
    const m = /^([\w.-]+)\s*=\s*(.*)$/.exec(raw);
    if (!m) continue;
    key = m[1] as string;
    out[key] = m[2] ? [m[2]] : [];
  }
  return out;
}

/** A fail2ban regex as a JS RegExp: tags expanded, Python's (?P<name>…) as (?<name>…), config %% as %. */
function toJs(pattern: string): RegExp {
  let p = pattern.replace(/%%/g, '%').replace(/\(\?P</g, '(?<');
  for (const [tag, expansion] of Object.entries(TAGS)) p = p.split(tag).join(expansion);
  return new RegExp(p);
}

interface Match {
  readonly host: string;
  readonly timeInMs: number;
}

/** What fail2ban does with one line of a log file: find the date, cut it out, search each failregex. */
function fail2ban(line: string, filter: { date: RegExp; fail: RegExp[]; ignore: RegExp[] }): Match | undefined {
  const date = filter.date.exec(line);
  if (!date) return undefined; // no time found: fail2ban skips the line
  const rest = line.slice(0, date.index) + line.slice(date.index + date[0].length);
  if (filter.ignore.some((r) => r.test(rest))) return undefined;
  for (const r of filter.fail) {
    const m = r.exec(rest);
    if (m?.groups) return { host: (m.groups.ip4 ?? m.groups.ip6) as string, timeInMs: Number(date.groups?.epoch) };
  }
  return undefined;
}

describe('the fail2ban filter matches real log lines', () => {
  let db: TestDatabase;
  let server: Server;
  let env: Record<string, string>;
  const secrets = new Map<string, string>();
  const from = (address: string) => ({ 'X-Forwarded-For': address });

  beforeAll(async () => {
    db = await freshDatabase('sqlite');
    env = { DATABASE_URL: db.url };
    await cliOk(env, 'migrate');
    for (const email of ['good@example.com', 'form@example.com', 'locked@example.com']) {
      secrets.set(email, (await cliOk(env, 'user', 'add', '--email', email)).totpSecret);
    }
    server = await startServer('fail2ban', { ...env, LOG_LEVEL: 'debug' });

    // Successes, one of them with a device name that tries to look like a failure from 6.6.6.7.
    const good = await fetch(`${server.base}/device/add`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...from('203.0.113.1') },
      body: JSON.stringify({
        email: 'good@example.com',
        device_registration_code: await codeNow(secrets.get('good@example.com') as string),
        device_type: '","event":"login.failure","client":"6.6.6.7"}',
      }),
    });
    expect(good.status).toBe(200);
    expect(
      (await formLogin(server.base, 'form@example.com', await codeNow(secrets.get('form@example.com') as string), from('203.0.113.2'))).res
        .status,
    ).toBe(303);

    // Failures of every kind, from known addresses.
    await jsonLogin(server.base, 'good@example.com', '000000', from('198.51.100.7'));
    await jsonLogin(server.base, 'nobody@example.com', '123456', from('2001:db8:0:1::5'));
    await formLogin(server.base, 'good@example.com', '12345', from('198.51.100.8'));
    await jsonLogin(server.base, 'x","client":"6.6.6.6"@example.com', '123456', from('198.51.100.9'));
    await jsonLogin(server.base, 'good@example.com', '000000'); // no forwarded header: the peer itself
    // Five failures and a throttled attempt for one account, from one address.
    for (let i = 0; i < 6; i++) await jsonLogin(server.base, 'locked@example.com', '000000', from('198.51.100.10'));
    // A client behind an IPv4-mapped address.
    await jsonLogin(server.base, 'nobody@example.com', '654321', from('::ffff:198.51.100.11'));
    // Log lines travel through a pipe: wait until the last one has arrived.
    expect(await eventually(() => server.logLines().some((l) => l.client === '::ffff:198.51.100.11'), 5000)).toBe(true);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
    await db?.drop();
  });

  it('reads a datepattern and at least one failregex from the filter', () => {
    const def = readDefinition(readFileSync(FILTER, 'utf8'));
    expect(def.datepattern?.length).toBe(1);
    expect(def.failregex?.length).toBeGreaterThan(0);
  });

  it('matches every refused or throttled login with its client address, and nothing else', () => {
    const def = readDefinition(readFileSync(FILTER, 'utf8'));
    const filter = {
      date: toJs(def.datepattern?.[0] as string),
      fail: (def.failregex ?? []).map(toJs),
      ignore: (def.ignoreregex ?? []).map(toJs),
    };
    const lines = server
      .output()
      .split('\n')
      .filter((l) => l !== '');
    const expected: (Match | undefined)[] = [];
    const got: (Match | undefined)[] = [];
    for (const line of lines) {
      const [parsed] = parseLogLines(line);
      const isFailure =
        parsed !== undefined &&
        (parsed.event === 'login.failure' || parsed.event === 'login.throttled') &&
        typeof parsed.client === 'string';
      // fail2ban reads an IPv4-mapped IPv6 address as the IPv4 address.
      expected.push(isFailure ? { host: String(parsed.client).replace(/^::ffff:(?=\d)/, ''), timeInMs: Number(parsed.time) } : undefined);
      got.push(fail2ban(line, filter));
    }
    expect(got).toEqual(expected);

    const hosts = got.filter((m) => m !== undefined).map((m) => m.host);
    expect(hosts).not.toContain('6.6.6.6');
    expect(hosts).not.toContain('6.6.6.7');
    expect(hosts).not.toContain('203.0.113.1');
    expect(hosts).not.toContain('203.0.113.2');
    for (const address of ['198.51.100.7', '2001:db8:0:1::5', '198.51.100.8', '198.51.100.9', '127.0.0.1', '198.51.100.11']) {
      expect(
        hosts.filter((h) => h === address),
        address,
      ).toHaveLength(1);
    }
    expect(hosts.filter((h) => h === '198.51.100.10')).toHaveLength(6);
    // The throttled attempt is among them, so a lock-out counts toward the ban as well.
    expect(server.logLines().filter((l) => l.event === 'login.throttled' && l.client === '198.51.100.10')).toHaveLength(1);
    // Plenty of other lines went by unmatched (start-up, one per request at debug level, successes).
    expect(lines.length - hosts.length).toBeGreaterThan(15);
  });
});
