// The examples do what their comments promise: the verify client against the real sidecar (direct calls,
// reference answers), the upstream against the identity headers a proxy sets.
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUpstream } from '../../examples/upstream/server.js';
import { createVerifyClient, deviceCookieHeader } from '../../examples/verify-client/client.js';
import { builtSidecar, requirementsGate } from './support/requirements.js';
import { type RunningSidecar, startSidecar, totpCode } from './support/sidecar.js';

describe('examples/upstream', () => {
  const server = createUpstream();
  let base: string;
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('reads the identity headers, treating empty ones as hidden', async () => {
    const response = await fetch(`${base}/whoami.json`, {
      headers: { 'Remote-User': 'pseudonym-1', 'Remote-Email': 'a@example.test', 'Remote-Name': '', 'Remote-Role': 'user' },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ userServiceToken: 'pseudonym-1', email: 'a@example.test', role: 'user' });
  });

  it('refuses a request that did not come with an identity, or with a repeated one', async () => {
    expect((await fetch(`${base}/`)).status).toBe(403);
    const repeated = new Headers([
      ['Remote-User', 'a'],
      ['Remote-User', 'b'],
    ]);
    expect((await fetch(`${base}/`, { headers: repeated })).status).toBe(403);
  });
});

describe('examples/verify-client (unit)', () => {
  it('forwards only the two device cookies', () => {
    expect(deviceCookieHeader('session=x; device_id=aa; theme=dark; hmac_secret=bb')).toBe('device_id=aa; hmac_secret=bb');
    expect(deviceCookieHeader('device_id=aa')).toBeUndefined();
    expect(deviceCookieHeader(undefined)).toBeUndefined();
  });
});

const sidecarBuild = builtSidecar();

describe.skipIf(requirementsGate('verify client against the sidecar', [sidecarBuild]))(
  'examples/verify-client against the real sidecar',
  () => {
    let sidecar: RunningSidecar;
    let serviceToken: string;
    const publicUrl = 'http://app.example.test:1';

    /** Logs in through the reference's JSON API and returns the Cookie header a browser would then send. */
    async function deviceCookies(email: string, secret: string): Promise<string> {
      const response = await fetch(`http://127.0.0.1:${sidecar.port}/device/add`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ email, device_registration_code: await totpCode(secret), device_type: 'e2e test' }),
      });
      expect(response.status).toBe(200);
      return response.headers
        .getSetCookie()
        .map((cookie) => cookie.split(';')[0])
        .join('; ');
    }

    const client = (overrides: { service?: string; serviceToken?: string } = {}) =>
      createVerifyClient({
        baseUrl: `http://127.0.0.1:${sidecar.port}`,
        service: overrides.service ?? 'billing',
        serviceToken: overrides.serviceToken ?? serviceToken,
      });

    let granted: string;
    let notGranted: string;

    beforeAll(async () => {
      sidecar = await startSidecar({ publicUrl, landingUrl: `${publicUrl}/`, cookieDomain: 'example.test' });
      serviceToken = String((await sidecar.cli(['service', 'add', 'billing'])).token);
      const carol = await sidecar.addUser('carol@example.test', { username: 'carol' });
      const dave = await sidecar.addUser('dave@example.test', { username: 'dave' });
      await sidecar.cli(['grant', '--email', carol.email, '--service', 'billing', '--scope', 'read:email']);
      granted = `app_session=1; ${await deviceCookies(carol.email, carol.totpSecret)}`;
      notGranted = await deviceCookies(dave.email, dave.totpSecret);
    }, 120_000);
    afterAll(async () => sidecar?.stop());

    it('maps a success to the user, with only the granted facts', async () => {
      const result = await client().verify(granted);
      expect(result.kind).toBe('allowed');
      if (result.kind !== 'allowed') return;
      expect(result.user.userServiceToken).toMatch(/^\S{8,}$/);
      expect(result.user.email).toBe('carol@example.test');
      expect(result.user.username).toBeUndefined();
      expect(result.user.role).toBeUndefined();
    });

    it('tells unauthenticated, forbidden and misconfigured apart', async () => {
      expect(await client().verify(undefined)).toEqual({ kind: 'unauthenticated' });
      expect(await client().verify(`device_id=${'0'.repeat(32)}; hmac_secret=${'1'.repeat(32)}`)).toEqual({ kind: 'unauthenticated' });
      expect(await client().verify(notGranted)).toEqual({ kind: 'forbidden' });
      expect(await client({ serviceToken: 'not-the-token' }).verify(granted)).toMatchObject({ kind: 'error', status: 401 });
      expect(await client({ service: 'no-such-service' }).verify(granted)).toMatchObject({ kind: 'error' });
    });
  },
);
