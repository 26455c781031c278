// Concurrent /verify cold look-ups share one query per service; each caller still gets exactly its own answer.
import { describe, expect, it } from 'vitest';
import { createVerifyBatcher } from '../../src/store/verify-batcher.js';

const serviceRow = { s_id: 1, s_name: 'svc' };
const deviceRow = (id: string) => ({ ...serviceRow, d_id: id, u_id: 7, g_scope: 'read:email' });

function fakeDatabase(rowsFor: (ids: string[], service: string) => Record<string, unknown>[]) {
  const calls: Array<{ sql: string; params: readonly unknown[] }> = [];
  const run = async (sql: string, params: readonly unknown[]) => {
    calls.push({ sql, params });
    const service = params.at(-1) as string;
    return rowsFor(
      (params.slice(0, -1) as string[]).filter((p) => p !== ''),
      service,
    );
  };
  return { calls, batcher: createVerifyBatcher(run, (placeholders) => `IN (${placeholders})`) };
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
    expect(calls[0]?.sql).toBe('IN (?, ?, ?, ?)');
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
      return [deviceRow('a')];
    };
    const batcher = createVerifyBatcher(run, (p) => p);
    const results = await Promise.allSettled([batcher.load('a', 'svc'), batcher.load('b', 'svc')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    fail = false;
    await expect(batcher.load('a', 'svc')).resolves.toMatchObject({ d_id: 'a' });
  });

  it('splits big bursts into batches of at most the limit', async () => {
    const calls: number[] = [];
    const batcher = createVerifyBatcher(
      async (_sql, params) => {
        calls.push(params.length - 1);
        return [];
      },
      (p) => p,
      4,
    );
    await Promise.all(Array.from({ length: 10 }, (_, i) => batcher.load(`d${i}`, 'svc')));
    expect(calls).toEqual([4, 4, 2]);
  });
});
