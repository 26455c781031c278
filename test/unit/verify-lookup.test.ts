// The /verify look-up's SQL holds one placeholder per device id, then the service name; concurrent cold look-ups
// share one query per service, and each caller still gets exactly its own answer.
import { describe, expect, it } from 'vitest';
import { createVerifyBatcher, type VerifyRow, verifyLookupSql } from '../../src/store/verify-lookup.js';

const placeholders = (sql: string) => sql.match(/\?/g)?.length ?? 0;

describe('verifyLookupSql', () => {
  it.each([1, 2, 3, 4, 8, 64])('takes %i device ids in the IN list, then the service name', (idCount) => {
    const sql = verifyLookupSql(idCount);
    expect(placeholders(sql)).toBe(idCount + 1);
    const inList = /d\.id IN \(([^)]*)\)/.exec(sql)?.[1];
    expect(inList?.split(',').map((p) => p.trim())).toEqual(Array(idCount).fill('?'));
    // The ids bind first: nothing but the service name's placeholder follows the IN list.
    expect(sql.slice(sql.indexOf(inList ?? '') + (inList ?? '').length)).toMatch(/^\)[^?]*WHERE s\.name = \?\s*$/);
  });

  it('selects every column the mapping reads: device, owner, service and grant', () => {
    const aliases = [...verifyLookupSql(2).matchAll(/\bAS (\w+)/g)].map((m) => m[1]);
    expect(aliases).toEqual([
      ...['id', 'user_id', 'signature', 'device_type', 'created_at', 'last_seen_at', 'signed_in_with', 'signed_in_at'].map((c) => `d_${c}`),
      ...['id', 'email', 'username', 'role', 'totp_secret_sealed', 'last_totp_step', 'created_at', 'passkey_only'].map((c) => `u_${c}`),
      ...['id', 'name', 'token_hash', 'token_salt', 'token_alg', 'created_at'].map((c) => `s_${c}`),
      ...['scope', 'token_sealed', 'created_at', 'via_group'].map((c) => `g_${c}`),
      'u_groups',
      'g_group_scopes',
      's_rule_count',
    ]);
  });

  it('differs only in the IN list between sizes', () => {
    expect(verifyLookupSql(3).replace('?, ?, ?', '?')).toBe(verifyLookupSql(1));
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses %s ids: that is a caller bug, not an empty answer', (idCount) => {
    expect(() => verifyLookupSql(idCount)).toThrow(RangeError);
  });
});

const serviceRow = { s_id: 1, s_name: 'svc' };
const deviceRow = (id: string) => ({ ...serviceRow, d_id: id, u_id: 7, g_scope: 'read:email' });
/** The fake rows carry only the columns a test looks at. */
const asRows = (rows: object[]) => rows as VerifyRow[];

function fakeDatabase(rowsFor: (ids: string[], service: string) => object[]) {
  const calls: Array<{ sql: string; params: readonly unknown[] }> = [];
  const run = async (sql: string, params: readonly unknown[]) => {
    calls.push({ sql, params });
    const service = params.at(-1) as string;
    return asRows(
      rowsFor(
        (params.slice(0, -1) as string[]).filter((p) => p !== ''),
        service,
      ),
    );
  };
  return { calls, batcher: createVerifyBatcher(run) };
}

describe('verify batcher', () => {
  it('answers concurrent look-ups of one service with one query, each with its own row', async () => {
    const { calls, batcher } = fakeDatabase((ids) => ids.filter((id) => id !== 'missing').map(deviceRow));
    const [a, b, missing, a2] = await Promise.all([
      batcher.load('a', 'svc'),
      batcher.load('b', 'svc'),
      batcher.load('missing', 'svc'),
      batcher.load('a', 'svc'),
    ]);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.sql).toBe(verifyLookupSql(4));
    expect(calls[0]?.params).toEqual(['a', 'b', 'missing', '', 'svc']); // padded to a power of two
    expect(a).toMatchObject({ d_id: 'a' });
    expect(a2).toBe(a);
    expect(b).toMatchObject({ d_id: 'b' });
    // An unknown device still learns about the service, and nothing of another device.
    expect(missing).toEqual({ s_id: 1, s_name: 'svc', d_id: null, u_id: null, g_scope: null });
  });

  it('separates services, and says undefined when the service does not exist', async () => {
    const { calls, batcher } = fakeDatabase((ids, service) => (service === 'svc' ? ids.map(deviceRow) : []));
    const [x, y] = await Promise.all([batcher.load('a', 'svc'), batcher.load('a', 'other')]);
    expect(calls).toHaveLength(2);
    expect(calls.map((c) => c.sql)).toEqual([verifyLookupSql(1), verifyLookupSql(1)]);
    expect(x).toMatchObject({ d_id: 'a' });
    expect(y).toBeUndefined();
  });

  it('sends look-ups made later in a new query', async () => {
    const { calls, batcher } = fakeDatabase((ids) => ids.map(deviceRow));
    await batcher.load('a', 'svc');
    await batcher.load('b', 'svc');
    expect(calls).toHaveLength(2);
  });

  it('passes a database error to every caller of the batch, and recovers', async () => {
    let fail = true;
    const run = async () => {
      if (fail) throw new Error('database is down');
      return asRows([deviceRow('a')]);
    };
    const batcher = createVerifyBatcher(run);
    const results = await Promise.allSettled([batcher.load('a', 'svc'), batcher.load('b', 'svc')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    await expect(batcher.load('a', 'svc')).resolves.toMatchObject({ d_id: 'a' });
  });

  it('splits big bursts into batches of at most the limit, each with its own statement size', async () => {
    const calls: Array<{ ids: number; placeholders: number }> = [];
    const batcher = createVerifyBatcher(async (sql, params) => {
      calls.push({ ids: params.length - 1, placeholders: placeholders(sql) - 1 });
      return [];
    }, 4);
    await Promise.all(Array.from({ length: 10 }, (_, i) => batcher.load(`d${i}`, 'svc')));
    expect(calls).toEqual([
      { ids: 4, placeholders: 4 },
      { ids: 4, placeholders: 4 },
      { ids: 2, placeholders: 2 },
    ]);
  });
});
