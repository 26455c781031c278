// Rule: the change feed drops exactly what each row names; a malformed or unknown row is logged and skipped and
// never stops the feed; a row committed out of id order is still applied; when the feed cannot be read the cache
// falls back to its short bound, and when it catches up everything cached is looked up afresh.
import { describe, expect, it } from 'vitest';
import { ChangeFeed, GAP_WAIT_MS, HEALTHY_WITHIN_MS } from '../../src/core/change-feed.js';
import { type Change, decodeChange, encodeChange } from '../../src/core/changes.js';
import { fixedClock } from '../../src/core/clock.js';
import type { ChangeStore, FedChange } from '../../src/core/ports.js';

function setup(rows: FedChange[] = []) {
  const clock = fixedClock(1_000_000);
  const state = { broken: false, queries: 0 };
  const changes: ChangeStore = {
    latestId: async () => rows.reduce((m, r) => Math.max(m, r.id), 0),
    since: async (after, limit) => {
      state.queries++;
      if (state.broken) throw new Error('permission denied for table changes');
      return rows
        .filter((r) => r.id > after)
        .sort((a, b) => a.id - b.id)
        .slice(0, limit);
    },
    prune: async () => 0,
    onCommitted: () => {},
  };
  const forgotten: Change[] = [];
  const events: string[] = [];
  const warnings: string[] = [];
  const feed = new ChangeFeed({
    changes,
    clock,
    pollEveryInMs: 60_000, // the tests turn it by hand
    cache: {
      forget: (c) => forgotten.push(c),
      forgetAllPositive: () => events.push('forget all'),
      useFallbackBound: (f) => events.push(f ? 'fallback' : 'full'),
    },
    warn: (_, message) => warnings.push(message),
  });
  const add = (id: number, change: Change | { kind: string; subject: string }) =>
    rows.push({ id, row: 'subject' in change ? change : encodeChange(change) });
  return { feed, clock, state, forgotten, events, warnings, add };
}

describe('change rows', () => {
  it('round-trip, and anything else decodes to nothing', () => {
    const all: Change[] = [
      { kind: 'device', deviceId: 'a'.repeat(32) },
      { kind: 'user', userId: 7 },
      { kind: 'grant', userId: 7, serviceId: 9 },
      { kind: 'services' },
      { kind: 'proxy-tokens' },
      { kind: 'decisions' },
    ];
    for (const c of all) expect(decodeChange(encodeChange(c))).toEqual(c);
    for (const row of [
      { kind: 'device', subject: 'A'.repeat(32) },
      { kind: 'device', subject: '' },
      { kind: 'user', subject: '0' },
      { kind: 'user', subject: '1e3' },
      { kind: 'grant', subject: '1:2:3' },
      { kind: 'grant', subject: '1' },
      { kind: 'services', subject: 'x' },
      { kind: 'group', subject: '1' },
      { kind: '', subject: '' },
    ])
      expect(decodeChange(row)).toBeUndefined();
  });
});

describe('ChangeFeed', () => {
  it('starts from "now" and applies only what comes after, each row once', async () => {
    const t = setup();
    t.add(1, { kind: 'user', userId: 1 });
    await t.feed.start();
    t.add(2, { kind: 'device', deviceId: 'b'.repeat(32) });
    await t.feed.tick();
    await t.feed.tick();
    expect(t.forgotten).toEqual([{ kind: 'device', deviceId: 'b'.repeat(32) }]);
    expect(t.feed.status.position).toBe(2);
    await t.feed.stop();
  });

  it('logs and skips a malformed or unknown row, and goes on with the next', async () => {
    const t = setup();
    await t.feed.start();
    t.add(1, { kind: 'device', subject: 'not hex' });
    t.add(2, { kind: 'from-a-newer-version', subject: '' });
    t.add(3, { kind: 'user', userId: 5 });
    await t.feed.tick();
    expect(t.forgotten).toEqual([{ kind: 'user', userId: 5 }]);
    expect(t.warnings.filter((w) => w.startsWith('skipped'))).toHaveLength(2);
    expect(t.feed.status.position).toBe(3);
    await t.feed.stop();
  });

  it('applies a row that commits after a newer one (an id taken before its commit), and gives a gap up in time', async () => {
    const t = setup();
    await t.feed.start();
    t.add(2, { kind: 'user', userId: 2 });
    await t.feed.tick();
    expect(t.feed.status.position).toBe(0); // 1 is missing: not yet committed, or rolled back
    t.add(1, { kind: 'user', userId: 1 });
    await t.feed.tick();
    expect(t.forgotten).toEqual([
      { kind: 'user', userId: 2 },
      { kind: 'user', userId: 1 },
    ]);
    expect(t.feed.status.position).toBe(2);
    t.add(4, { kind: 'user', userId: 4 });
    await t.feed.tick();
    expect(t.feed.status.position).toBe(2);
    t.clock.advance(GAP_WAIT_MS);
    await t.feed.tick();
    expect(t.feed.status.position).toBe(4);
    expect(t.forgotten).toHaveLength(3);
    await t.feed.stop();
  });

  it('falls back to the short bound when the feed cannot be read, and forgets everything when it catches up', async () => {
    const t = setup();
    await t.feed.start();
    expect(t.events).toEqual(['full']);
    expect(t.feed.status).toMatchObject({ healthy: true, lagInMs: 0 });
    t.state.broken = true;
    t.clock.advance(HEALTHY_WITHIN_MS);
    await t.feed.tick();
    expect(t.feed.status.healthy).toBe(true); // 2 s is still healthy
    t.add(1, { kind: 'device', deviceId: 'c'.repeat(32) });
    t.clock.advance(1);
    await t.feed.tick();
    expect(t.events).toEqual(['full', 'fallback']);
    expect(t.feed.status).toMatchObject({ healthy: false, lagInMs: HEALTHY_WITHIN_MS + 1 });
    expect(t.warnings.some((w) => w.startsWith('could not read the change feed'))).toBe(true);
    t.state.broken = false;
    await t.feed.tick();
    expect(t.forgotten).toEqual([{ kind: 'device', deviceId: 'c'.repeat(32) }]);
    expect(t.events).toEqual(['full', 'fallback', 'forget all', 'full']);
    expect(t.feed.status).toMatchObject({ healthy: true, lagInMs: 0 });
    await t.feed.stop();
  });

  it('is in the fallback bound until it has started', () => {
    const t = setup();
    expect(t.feed.status).toMatchObject({ healthy: false, lagInMs: null });
  });
});
