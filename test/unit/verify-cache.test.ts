// The whole-answer cache of /verify: an exact (pair, service, credential) answer lives for the positive TTL, the
// cache never holds more than its bound, every invalidation empties it, and a TTL of 0 turns it off.
import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/core/clock.js';
import type { CachedAnswer } from '../../src/core/verify-cache.js';
import { VerifyCache } from '../../src/core/verify-cache.js';

const pair = (n: number) => ({ deviceId: n.toString(16).padStart(32, '0'), secret: 'f'.repeat(32) });
const answer = (n: number): CachedAnswer => ({
  outcome: { kind: 'allow', identity: { userServiceToken: `t${n}` }, userId: n, deviceId: pair(n).deviceId },
  serviceId: 1,
  found: {} as CachedAnswer['found'],
});

describe('the whole-answer cache', () => {
  it('answers the exact request only, until the TTL has passed', () => {
    const clock = fixedClock(0);
    const cache = new VerifyCache({ positiveTtlInMs: 5000, positiveMaxEntries: 10, negativeTtlInMs: 0, negativeMaxEntries: 0 }, clock);
    cache.rememberAnswer(pair(1), 'svc', 'token-0123456789abcdef', answer(1));
    expect(cache.request(pair(1), 'svc', 'token-0123456789abcdef')).toEqual(answer(1));
    expect(cache.request(pair(1), 'svc', 'token-0123456789abcdeX')).toBeUndefined();
    expect(cache.request(pair(1), 'other', 'token-0123456789abcdef')).toBeUndefined();
    expect(cache.request({ ...pair(1), secret: 'e'.repeat(32) }, 'svc', 'token-0123456789abcdef')).toBeUndefined();
    clock.advance(4999);
    expect(cache.request(pair(1), 'svc', 'token-0123456789abcdef')).toBeDefined();
    clock.advance(1);
    expect(cache.request(pair(1), 'svc', 'token-0123456789abcdef')).toBeUndefined();
    expect(cache.stats.positiveHits).toBe(2);
  });

  it('holds at most its bound, dropping the oldest', () => {
    const cache = new VerifyCache(
      { positiveTtlInMs: 5000, positiveMaxEntries: 3, negativeTtlInMs: 0, negativeMaxEntries: 0 },
      fixedClock(0),
    );
    for (let n = 1; n <= 4; n++) cache.rememberAnswer(pair(n), 'svc', 'token-0123456789abcdef', answer(n));
    expect(cache.request(pair(1), 'svc', 'token-0123456789abcdef')).toBeUndefined();
    for (let n = 2; n <= 4; n++) expect(cache.request(pair(n), 'svc', 'token-0123456789abcdef')).toEqual(answer(n));
  });

  it('is emptied by every invalidation', () => {
    const cache = new VerifyCache(
      { positiveTtlInMs: 5000, positiveMaxEntries: 10, negativeTtlInMs: 0, negativeMaxEntries: 0 },
      fixedClock(0),
    );
    const invalidations = [
      () => cache.deviceRevoked(pair(9).deviceId),
      () => cache.userChanged(9),
      () => cache.grantChanged(9, 9),
      () => cache.servicesChanged(),
      () => cache.proxyTokensChanged(),
    ];
    for (const invalidate of invalidations) {
      cache.rememberAnswer(pair(1), 'svc', 'token-0123456789abcdef', answer(1));
      invalidate();
      expect(cache.request(pair(1), 'svc', 'token-0123456789abcdef')).toBeUndefined();
    }
  });

  it('is off with a positive TTL of 0', () => {
    const cache = new VerifyCache({ positiveTtlInMs: 0, positiveMaxEntries: 10, negativeTtlInMs: 0, negativeMaxEntries: 0 }, fixedClock(0));
    cache.rememberAnswer(pair(1), 'svc', 'token-0123456789abcdef', answer(1));
    expect(cache.request(pair(1), 'svc', 'token-0123456789abcdef')).toBeUndefined();
  });
});

describe('the refused-request cache', () => {
  const options = { positiveTtlInMs: 5000, positiveMaxEntries: 10, negativeTtlInMs: 60_000, negativeMaxEntries: 100 };
  const TOKEN = 'token-0123456789abcdef';

  it('refuses the exact request again, for the positive TTL, as a negative hit', () => {
    const clock = fixedClock(0);
    const cache = new VerifyCache(options, clock);
    cache.rememberBadRequest(pair(1), 'svc', TOKEN);
    expect(cache.request(pair(1), 'svc', TOKEN)).toBe('bad');
    // Another caller credential or service is not vouched for by this entry: it must be checked on its own.
    expect(cache.request(pair(1), 'svc', `${TOKEN}X`)).toBeUndefined();
    expect(cache.request(pair(1), 'other', TOKEN)).toBeUndefined();
    expect(cache.stats.negativeHits).toBe(1);
    clock.advance(5000);
    expect(cache.request(pair(1), 'svc', TOKEN)).toBeUndefined();
  });

  it('is emptied when callers may have changed (services or proxy tokens), and kept otherwise', () => {
    const cache = new VerifyCache(options, fixedClock(0));
    for (const invalidate of [() => cache.servicesChanged(), () => cache.proxyTokensChanged()]) {
      cache.rememberBadRequest(pair(1), 'svc', TOKEN);
      invalidate();
      expect(cache.request(pair(1), 'svc', TOKEN)).toBeUndefined();
    }
    cache.rememberBadRequest(pair(1), 'svc', TOKEN);
    cache.deviceRevoked(pair(1).deviceId);
    cache.userChanged(1);
    expect(cache.request(pair(1), 'svc', TOKEN)).toBe('bad');
  });

  it('never displaces a warm answer, and is off without a positive or a negative cache', () => {
    const cache = new VerifyCache({ ...options, positiveMaxEntries: 2 }, fixedClock(0));
    cache.rememberAnswer(pair(1), 'svc', TOKEN, answer(1));
    for (let n = 100; n < 200; n++) cache.rememberBadRequest(pair(n), 'svc', TOKEN);
    expect(cache.request(pair(1), 'svc', TOKEN)).toEqual(answer(1));
    for (const off of [{ positiveTtlInMs: 0 }, { negativeTtlInMs: 0 }, { negativeMaxEntries: 0 }]) {
      const none = new VerifyCache({ ...options, ...off }, fixedClock(0));
      none.rememberBadRequest(pair(1), 'svc', TOKEN);
      expect(none.request(pair(1), 'svc', TOKEN), JSON.stringify(off)).toBeUndefined();
    }
  });
});
