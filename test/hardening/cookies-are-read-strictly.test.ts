// Rule: device cookies are read strictly. A credential comes out only when the Cookie header holds exactly one
// `device_id` and exactly one `hmac_secret`, each 32 lowercase hex characters; a second copy of either name, a
// malformed value or an oversize header yields no credential, and one cookie's id is never paired with another's
// secret. No input makes the parser throw.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readDeviceCookies } from '../../src/core/cookies.js';

const RUNS = { numRuns: 500 };
const HEX32 = /^[0-9a-f]{32}$/;

const hex32 = fc.stringMatching(/^[0-9a-f]{32}$/);
/** Values that are never a valid credential half: near misses of the format and plain junk. */
const badValue = fc.oneof(
  hex32.map((h) => h.toUpperCase().replace(/^[0-9]/, 'A')),
  hex32.map((h) => `${h}0`),
  hex32.map((h) => h.slice(1)),
  hex32.map((h) => `${h.slice(0, 31)}g`),
  hex32.map((h) => `%${h.slice(1)}`),
  hex32.map((h) => `${h.slice(0, 16)} ${h.slice(16)}`),
  hex32.map((h) => `${h.slice(0, 16)}\u0000${h.slice(17)}`),
  hex32.map((h) => `${h.slice(0, 16)}\uff10${h.slice(17)}`), // a full-width digit
  fc.constant(''),
  fc.string({ maxLength: 40 }).filter((s) => !s.includes(';') && !HEX32.test(s.trim().replace(/^"(.*)"$/, '$1'))),
);
/** Names that look like ours but are not. */
const otherName = fc.oneof(
  fc.constantFrom(
    'Device_ID',
    'DEVICE_ID',
    'device-id',
    'xdevice_id',
    'device_id2',
    'hmac-secret',
    'HMAC_SECRET',
    'hmac_secret_',
    '__Host-device_id',
  ),
  fc.stringMatching(/^[A-Za-z0-9_!#$%&'*+.^`|~-]{1,16}$/).filter((n) => n !== 'device_id' && n !== 'hmac_secret'),
);
const otherCookie = fc
  .tuple(
    otherName,
    fc.oneof(
      hex32,
      fc.string({ maxLength: 30 }).filter((s) => !s.includes(';')),
    ),
  )
  .map(([n, v]) => `${n}=${v}`);
const junkPart = fc.string({ maxLength: 30 }).filter((s) => !s.includes(';') && !/(device_id|hmac_secret)\s*=/.test(s) && !s.includes('='));

/** Header parts in a random order, joined the way browsers and careless clients join them. */
const joined = (parts: string[], separators: string[]) =>
  parts.map((p, i) => (i === 0 ? p : `${separators[i % separators.length]}${p}`)).join('');
const separators = fc.array(fc.constantFrom('; ', ';', ' ;  ', ';\t'), { minLength: 1, maxLength: 3 });

describe('device cookies are read strictly', () => {
  it('never throws, and yields either nothing or two 32-hex values that appear in the header', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), fc.string({ maxLength: 300 })), (header) => {
        const got = readDeviceCookies(header);
        if (got === undefined) return;
        expect(got.deviceId).toMatch(HEX32);
        expect(got.secret).toMatch(HEX32);
        expect(header).toContain(got.deviceId);
        expect(header).toContain(got.secret);
      }),
      RUNS,
    );
  });

  it('reads a valid pair exactly, whatever other cookies and junk surround it, in any order', () => {
    const headers = fc
      .tuple(hex32, hex32, fc.array(fc.oneof(otherCookie, junkPart), { maxLength: 8 }), fc.boolean(), separators)
      .chain(([id, secret, others, quoted, seps]) => {
        const q = (v: string) => (quoted ? `"${v}"` : v);
        const parts = [`device_id=${q(id)}`, `hmac_secret=${q(secret)}`, ...others];
        return fc.record({
          id: fc.constant(id),
          secret: fc.constant(secret),
          header: fc.shuffledSubarray(parts, { minLength: parts.length }).map((shuffled) => joined(shuffled, seps)),
        });
      });
    fc.assert(
      fc.property(headers, ({ id, secret, header }) => {
        expect(readDeviceCookies(header)).toEqual({ deviceId: id, secret });
      }),
      RUNS,
    );
  });

  it('refuses a second copy of either name, even an identical one, and never pairs across copies', () => {
    fc.assert(
      fc.property(
        hex32,
        hex32,
        fc.constantFrom('device_id', 'hmac_secret', ' device_id', 'hmac_secret '),
        fc.oneof(hex32, badValue),
        fc.array(otherCookie, { maxLength: 4 }),
        fc.nat(),
        separators,
        (id, secret, dupName, dupValue, others, at, seps) => {
          const parts = [`device_id=${id}`, `hmac_secret=${secret}`, ...others];
          parts.splice(at % (parts.length + 1), 0, `${dupName}=${dupValue}`);
          expect(readDeviceCookies(joined(parts, seps))).toBeUndefined();
        },
      ),
      RUNS,
    );
  });

  it('refuses a malformed value on either side, or either side missing', () => {
    fc.assert(
      fc.property(
        hex32,
        hex32,
        badValue,
        fc.constantFrom('id', 'secret', 'no-id', 'no-secret'),
        fc.array(otherCookie, { maxLength: 4 }),
        (id, secret, bad, which, others) => {
          const parts = [
            ...(which === 'no-id' ? [] : [`device_id=${which === 'id' ? bad : id}`]),
            ...(which === 'no-secret' ? [] : [`hmac_secret=${which === 'secret' ? bad : secret}`]),
            ...others,
          ];
          expect(readDeviceCookies(parts.join('; '))).toBeUndefined();
        },
      ),
      RUNS,
    );
  });

  it('refuses an oversize header (more than 8 KiB) even when it holds a valid pair', () => {
    fc.assert(
      fc.property(hex32, hex32, fc.integer({ min: 8193, max: 64 * 1024 }), (id, secret, size) => {
        const head = `device_id=${id}; hmac_secret=${secret}; pad=`;
        expect(readDeviceCookies(head + 'a'.repeat(size - head.length))).toBeUndefined();
      }),
      { numRuns: 50 },
    );
  });
});
