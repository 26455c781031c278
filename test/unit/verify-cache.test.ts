// The whole-answer cache of /verify: an exact (pair, service, credential) answer lives for the positive TTL, the
// cache never holds more than its bound, every invalidation empties it, and a TTL of 0 turns it off.
import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/core/clock.js';
import { RuleMatcher } from '../../src/core/rules.js';
import type { CachedAnswer } from '../../src/core/verify-cache.js';
import { VerifyCache } from '../../src/core/verify-cache.js';

const pair = (n: number) => ({ deviceId: n.toString(16).padStart(32, '0'), secret: 'f'.repeat(32) });
const answer = (n: number): CachedAnswer => ({
  outcome: { kind: 'allow', identity: { userServiceToken: `t${n}` }, userId: n, deviceId: pair(n).deviceId },
  serviceId: 1,
  found: {} as CachedAnswer['found'],
  matcher: new RuleMatcher([]),
});

describe('the whole-answer cache', () => {
  it('answers the exact request only, until the TTL has passed', () => {
    const clock = fixedClock(0);
    const cache = new VerifyCache(
      { positiveTtlInMs: 5000, fallbackTtlInMs: 5000, positiveMaxEntries: 10, negativeTtlInMs: 0, negativeMaxEntries: 0 },
      clock,
    );
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
      { positiveTtlInMs: 5000, fallbackTtlInMs: 5000, positiveMaxEntries: 3, negativeTtlInMs: 0, negativeMaxEntries: 0 },
      fixedClock(0),
    );
    for (let n = 1; n <= 4; n++) cache.rememberAnswer(pair(n), 'svc', 'token-0123456789abcdef', answer(n));
    expect(cache.request(pair(1), 'svc', 'token-0123456789abcdef')).toBeUndefined();
    for (let n = 2; n <= 4; n++) expect(cache.request(pair(n), 'svc', 'token-0123456789abcdef')).toEqual(answer(n));
  });

  it('is emptied by every invalidation', () => {
    const cache = new VerifyCache(
      { positiveTtlInMs: 5000, fallbackTtlInMs: 5000, positiveMaxEntries: 10, negativeTtlInMs: 0, negativeMaxEntries: 0 },
      fixedClock(0),
    );
    const invalidations = [
      () => cache.forget({ kind: 'device', deviceId: pair(9).deviceId }),
      () => cache.forget({ kind: 'user', userId: 9 }),
      () => cache.forget({ kind: 'grant', userId: 9, serviceId: 9 }),
      () => cache.forget({ kind: 'services' }),
      () => cache.forget({ kind: 'proxy-tokens' }),
      () => cache.forget({ kind: 'decisions' }),
    ];
    for (const invalidate of invalidations) {
      cache.rememberAnswer(pair(1), 'svc', 'token-0123456789abcdef', answer(1));
      invalidate();
      expect(cache.request(pair(1), 'svc', 'token-0123456789abcdef')).toBeUndefined();
    }
  });

  it('is off with a positive TTL of 0', () => {
    const cache = new VerifyCache(
      { positiveTtlInMs: 0, fallbackTtlInMs: 0, positiveMaxEntries: 10, negativeTtlInMs: 0, negativeMaxEntries: 0 },
      fixedClock(0),
    );
    cache.rememberAnswer(pair(1), 'svc', 'token-0123456789abcdef', answer(1));
    expect(cache.request(pair(1), 'svc', 'token-0123456789abcdef')).toBeUndefined();
  });
});

describe('the refused-request cache', () => {
  const options = {
    positiveTtlInMs: 5000,
    fallbackTtlInMs: 5000,
    positiveMaxEntries: 10,
    negativeTtlInMs: 60_000,
    negativeMaxEntries: 100,
  };
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
    for (const invalidate of [() => cache.forget({ kind: 'services' }), () => cache.forget({ kind: 'proxy-tokens' })]) {
      cache.rememberBadRequest(pair(1), 'svc', TOKEN);
      invalidate();
      expect(cache.request(pair(1), 'svc', TOKEN)).toBeUndefined();
    }
    cache.rememberBadRequest(pair(1), 'svc', TOKEN);
    cache.forget({ kind: 'device', deviceId: pair(1).deviceId });
    cache.forget({ kind: 'user', userId: 1 });
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

describe('the two bounds', () => {
  const user = {
    id: 1,
    email: 'a@example.com',
    username: null,
    role: 'user' as const,
    totpSecretSealed: '',
    lastTotpStep: null,
    createdAt: 0,
    passkeyOnly: false,
  };
  const device = {
    id: pair(1).deviceId,
    userId: 1,
    signature: '',
    deviceType: 't',
    createdAt: 0,
    lastSeenAt: null,
    signedInWith: 'code' as const,
    signedInAt: 0,
  };

  it('uses entries for the full TTL only while the feed is current, and only within the fallback bound otherwise', () => {
    const clock = fixedClock(1_000_000); // (lru-cache takes a start time of 0 for "no TTL")
    const cache = new VerifyCache(
      { positiveTtlInMs: 300_000, fallbackTtlInMs: 5000, positiveMaxEntries: 10, negativeTtlInMs: 0, negativeMaxEntries: 0 },
      clock,
    );
    // Until a feed says it is current, the fallback bound holds.
    expect(cache.boundInMs).toBe(5000);
    const fill = () => {
      cache.rememberAnswer(pair(1), 'svc', 'token-0123456789abcdef', answer(1));
      cache.rememberDevice(pair(1), { device, user });
      cache.rememberDecision(1, 1, { kind: 'forbidden' });
      cache.rememberCaller('svc', 'token-0123456789abcdef', 1);
    };
    const held = () =>
      [
        cache.request(pair(1), 'svc', 'token-0123456789abcdef'),
        cache.device(pair(1)),
        cache.decision(1, 1),
        cache.caller('svc', 'token-0123456789abcdef'),
      ].filter((x) => x !== undefined).length;
    fill();
    clock.advance(5001);
    expect(held()).toBe(0);
    cache.useFallbackBound(false);
    expect(cache.boundInMs).toBe(300_000);
    fill();
    clock.advance(299_999);
    expect(held()).toBe(4);
    // The feed falls behind: what was stored more than 5 s ago is not used any more.
    cache.useFallbackBound(true);
    expect(held()).toBe(0);
    fill();
    clock.advance(4999);
    expect(held()).toBe(4);
    clock.advance(1);
    expect(held()).toBe(0);
  });
});
