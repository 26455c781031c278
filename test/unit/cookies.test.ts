import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readDeviceCookies } from '../../src/core/cookies.js';

const id = '0123456789abcdef0123456789abcdef';
const secret = 'fedcba9876543210fedcba9876543210';

describe('readDeviceCookies', () => {
  it('reads the pair among other cookies, in any order', () => {
    expect(readDeviceCookies(`a=1; device_id=${id}; b=2; hmac_secret=${secret}`)).toEqual({ deviceId: id, secret });
    expect(readDeviceCookies(`hmac_secret=${secret};device_id=${id}`)).toEqual({ deviceId: id, secret });
  });

  it('is missing when either cookie is missing or empty', () => {
    expect(readDeviceCookies(undefined)).toBeUndefined();
    expect(readDeviceCookies('')).toBeUndefined();
    expect(readDeviceCookies(`device_id=${id}`)).toBeUndefined();
    expect(readDeviceCookies(`device_id=${id}; hmac_secret=`)).toBeUndefined();
  });

  it('rejects anything but 32 lowercase hex characters', () => {
    for (const bad of [id.toUpperCase(), `${id}0`, id.slice(1), `${id.slice(0, 31)}g`, `%30${id.slice(1)}`, 'x'.repeat(65)]) {
      expect(readDeviceCookies(`device_id=${bad}; hmac_secret=${secret}`)).toBeUndefined();
      expect(readDeviceCookies(`device_id=${id}; hmac_secret=${bad}`)).toBeUndefined();
    }
  });

  it('rejects a second copy of either name, never pairing one id with another secret', () => {
    expect(readDeviceCookies(`device_id=${id}; hmac_secret=${secret}; device_id=${secret}`)).toBeUndefined();
    expect(readDeviceCookies(`device_id=${id}; hmac_secret=${secret}; hmac_secret=${id}`)).toBeUndefined();
    expect(readDeviceCookies(`device_id=${id}; hmac_secret=${secret}; device_id=${id}`)).toBeUndefined();
  });

  it('does not confuse similar names', () => {
    expect(readDeviceCookies(`xdevice_id=${id}; hmac_secret=${secret}`)).toBeUndefined();
    expect(readDeviceCookies(`Device_Id=${id}; hmac_secret=${secret}`)).toBeUndefined();
  });

  it('rejects oversize headers outright', () => {
    expect(readDeviceCookies(`pad=${'a'.repeat(9000)}; device_id=${id}; hmac_secret=${secret}`)).toBeUndefined();
  });

  it('reads exactly what splitting on ";" and trimming reads (the plain reading, kept here as the oracle)', () => {
    const plain = (header: string) => {
      if (header.length > 8192) return undefined;
      const found: Record<string, string[]> = { device_id: [], hmac_secret: [] };
      for (const part of header.split(';')) {
        const eq = part.indexOf('=');
        if (eq < 0) continue;
        let value = part.slice(eq + 1).trim();
        if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
        found[part.slice(0, eq).trim()]?.push(value);
      }
      const [deviceId, ...moreIds] = found.device_id ?? [];
      const [secretValue, ...moreSecrets] = found.hmac_secret ?? [];
      if (moreIds.length || moreSecrets.length || !deviceId || !secretValue) return undefined;
      if (!/^[0-9a-f]{32}$/.test(deviceId) || !/^[0-9a-f]{32}$/.test(secretValue)) return undefined;
      return { deviceId, secret: secretValue };
    };
    const piece = fc.oneof(
      fc.constantFrom(
        `device_id=${id}`,
        `hmac_secret=${secret}`,
        ` device_id = "${id}" `,
        `\thmac_secret=\u00a0${secret}`,
        'device_id',
        '=',
        ';',
        '',
      ),
      fc.constantFrom('device_id', 'hmac_secret', 'x').chain((n) => fc.string({ maxLength: 40 }).map((v) => `${n}=${v}`)),
      fc.string({ maxLength: 20 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 8 }), fc.constantFrom('; ', ';', ' ; '), (pieces, sep) => {
        const header = pieces.join(sep);
        expect(readDeviceCookies(header)).toEqual(plain(header));
      }),
      { numRuns: 2000 },
    );
  });
});
