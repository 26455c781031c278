// Rule: the configured keys must open the stored secrets. The check names every key id the stored values need and
// the configuration lacks, and a configured id holding another key; rotation (new key first, old kept) passes, as
// does an empty database; one damaged value is not mistaken for a wrong key.
import { describe, expect, it } from 'vitest';
import { type EncryptionKey, KeyRing, sealContext, sealedKeyId } from '../../src/core/crypto.js';
import { checkKeys, keyProblem } from '../../src/core/key-check.js';
import type { SealedKeyGroup, SealedValue, SealedValueStore } from '../../src/core/ports.js';

const key = (id: string, fill: number): EncryptionKey => ({ id, key: Buffer.alloc(32, fill) });
const A = key('a', 1);
const B = key('b', 2);

/** A store holding these values, grouped the way the SQL store groups them. */
function storeOf(values: SealedValue[]): SealedValueStore {
  return {
    async groupByKeyId(samplesPerKey) {
      const groups = new Map<string, SealedValue[]>();
      for (const v of values) {
        const id = v.sealed.split('.')[1] ?? '';
        groups.set(id, [...(groups.get(id) ?? []), v]);
      }
      return [...groups].map(([keyId, vs]): SealedKeyGroup => ({ keyId, count: vs.length, samples: vs.slice(0, samplesPerKey) }));
    },
  };
}

function sealedWith(k: EncryptionKey, users: number[], grants: [number, number][] = []): SealedValue[] {
  const ring = new KeyRing([k]);
  return [
    ...users.map((userId) => ({
      column: 'users.totp_secret' as const,
      userId,
      sealed: ring.seal('secret', sealContext.totpSecret(userId)),
    })),
    ...grants.map(([userId, serviceId]) => ({
      column: 'grants.token' as const,
      userId,
      serviceId,
      sealed: ring.seal('token', sealContext.grantToken(userId, serviceId)),
    })),
  ];
}

describe('key check', () => {
  it('passes an empty database', async () => {
    const check = await checkKeys(storeOf([]), new KeyRing([B]));
    expect(check).toEqual({ total: 0, missing: [], wrong: [], stale: [] });
    expect(keyProblem(check)).toBeUndefined();
  });

  it('names the key id the stored secrets need when the configuration lacks it', async () => {
    const check = await checkKeys(storeOf(sealedWith(A, [1, 2], [[1, 7]])), new KeyRing([B]));
    expect(check.missing).toEqual([{ keyId: 'a', count: 3 }]);
    expect(keyProblem(check)).toMatch(
      /3 of 3 stored secret\(s\) do not decrypt with the configured keys.*missing key id\(s\) "a" \(3 values\): add those keys/,
    );
  });

  it('finds a configured id that holds another key than the one the values were sealed with', async () => {
    const check = await checkKeys(storeOf(sealedWith(A, [1, 2])), new KeyRing([key('a', 9)]));
    expect(check.missing).toEqual([]);
    expect(check.wrong).toEqual([{ keyId: 'a', count: 2 }]);
    expect(keyProblem(check)).toMatch(/key id\(s\) "a" \(2 values\) hold other keys than the ones those values were sealed with/);
  });

  it('passes a rotation (new key first, the old one kept) and reports the values still sealed with the old key', async () => {
    const check = await checkKeys(storeOf([...sealedWith(A, [1, 2]), ...sealedWith(B, [3])]), new KeyRing([B, A]));
    expect(keyProblem(check)).toBeUndefined();
    expect(check.stale).toEqual([{ keyId: 'a', count: 2 }]);
    expect(check.total).toBe(3);
  });

  it('does not take one damaged value for a wrong key, but a group of only damaged values is one', async () => {
    const [good, other] = sealedWith(A, [1, 2]) as [SealedValue, SealedValue];
    const damaged = { ...other, sealed: `${other.sealed.slice(0, -4)}AAAA` };
    expect(keyProblem(await checkKeys(storeOf([damaged, good]), new KeyRing([A])))).toBeUndefined();
    expect(keyProblem(await checkKeys(storeOf([damaged]), new KeyRing([A])))).toMatch(/"a" \(1 value\) hold other keys/);
  });

  it('reads the key id of a sealed value, and nothing from other text', () => {
    const [v] = sealedWith(B, [1]) as [SealedValue];
    expect(sealedKeyId(v.sealed)).toBe('b');
    expect(sealedKeyId('sealed-for-1')).toBeUndefined();
    expect(sealedKeyId('v2.b.abc')).toBeUndefined();
    expect(sealedKeyId('v1.b.abc.def')).toBeUndefined();
  });
});
