// Rule: a way into an account (a code login, a passkey sign-in, an invite redeemed with a code or a passkey) whose
// caller stopped waiting (its deadline passed) ends as `abandoned`, also when the database fails after that and
// before anything was committed (a connection opened too late, a query cut): nothing is written, the code,
// passkey counter or invite stays unused, and the audit log learns how the attempt ended. Before the deadline, a
// database failure is still an error (the request fails closed with its "try again" page).
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { generate } from 'otplib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAdmin } from '../../src/core/admin.js';
import { fixedClock } from '../../src/core/clock.js';
import { KeyRing } from '../../src/core/crypto.js';
import { Devices } from '../../src/core/devices.js';
import { Invites } from '../../src/core/invites.js';
import type { User } from '../../src/core/model.js';
import { Passkeys } from '../../src/core/passkeys.js';
import type { Store } from '../../src/core/ports.js';
import { relyingParty } from '../../src/core/relying-party.js';
import { SignIn } from '../../src/core/sign-in.js';
import { DEFAULT_CACHE_OPTIONS, VerifyCache } from '../../src/core/verify-cache.js';
import { START } from '../support/app.js';
import { SoftAuthenticator } from '../support/authenticator.js';
import { openMigratedStore, TEST_KEYS } from '../support/databases.js';

const EMAIL = 'late@example.com';
const ORIGIN = 'http://localhost:8080';
const CLIENT = '127.0.0.1';
const code = (secret: string) => generate({ secret, epoch: START / 1000 });

/** The database as a slow one fails: the deadline passes while it works (when `deadline` is given), then it fails. */
const failing = (deadline: AbortController | undefined) => async (): Promise<never> => {
  deadline?.abort();
  throw new Error('connect ETIMEDOUT');
};

describe('a sign-in after its deadline', () => {
  let store: Store;
  let close: () => Promise<void>;
  let user: User;
  let totpSecret: string;
  let invites: Invites;
  const clock = fixedClock(START);
  const keys = new KeyRing(TEST_KEYS);
  const rp = relyingParty({ publicUrl: ORIGIN, cookieDomain: undefined, insecureHttp: false, name: 't' });
  if (!('relyingParty' in rp)) throw new Error('no relying party');

  beforeEach(async () => {
    ({ store, close } = await openMigratedStore('sqlite'));
    const devices = new Devices({ store, cache: new VerifyCache(DEFAULT_CACHE_OPTIONS, clock), clock });
    invites = new Invites({ store, keys, clock, lifetimeInMs: 3_600_000, issuer: 't' });
    ({ user, totpSecret } = await createAdmin({ store, keys, clock, issuer: 't', invites, devices }).addUser({ email: EMAIL }));
  });
  afterEach(async () => {
    await close?.();
  });

  const devicesOf = async () => store.devices.list(user.id);
  /** A passkey made by `authenticator` for the user and checked, not stored. */
  const newPasskey = async (authenticator: SoftAuthenticator, purpose: 'register' | 'enroll') => {
    const passkeys = new Passkeys({ store, clock, relyingParty: rp.relyingParty });
    const ceremony = await passkeys.startRegistration(user, purpose, CLIENT);
    if (!ceremony) throw new Error('no ceremony');
    const response = authenticator.register(ceremony.options) as unknown as RegistrationResponseJSON;
    const made = await passkeys.finishRegistration({ handle: ceremony.handle, response, user, purpose, name: 'k', client: CLIENT });
    if (!made.ok) throw new Error(`registration refused: ${made.reason}`);
    return made.passkey;
  };

  describe('with a code', () => {
    /** The store, with the user look-up failing. */
    const failingLookUp = (deadline: AbortController | undefined): Store => ({
      ...store,
      users: { ...store.users, findByEmail: failing(deadline) },
    });
    const attempt = async (s: Store, signal?: AbortSignal) =>
      new SignIn({ store: s, keys, clock }).login({ email: EMAIL, code: await code(totpSecret), deviceType: 't', client: CLIENT }, signal);

    it('ends as abandoned when the database fails after the deadline: no device, the code unused', async () => {
      const deadline = new AbortController();
      const result = await attempt(failingLookUp(deadline), deadline.signal);
      expect(result).toEqual({ ok: false, reason: 'abandoned', email: EMAIL });
      expect((await store.users.findByEmail(EMAIL))?.lastTotpStep).toBeNull();
      expect(await devicesOf()).toEqual([]);
      // The code is still unused: the same code signs in once the database answers.
      expect((await attempt(store)).ok).toBe(true);
    });

    it('still fails with the error when the database fails before the deadline', async () => {
      const deadline = new AbortController();
      await expect(attempt(failingLookUp(undefined), deadline.signal)).rejects.toThrow('connect ETIMEDOUT');
    });
  });

  describe('with a passkey', () => {
    let authenticator: SoftAuthenticator;

    beforeEach(async () => {
      authenticator = new SoftAuthenticator(ORIGIN, rp.relyingParty.id);
      const passkey = await newPasskey(authenticator, 'register');
      expect((await new Passkeys({ store, clock, relyingParty: rp.relyingParty }).add(passkey)).ok).toBe(true);
    });

    /** The store, with the passkey's sign-in write failing before it commits. */
    const failingWrite = (deadline: AbortController | undefined): Store => ({
      ...store,
      passkeys: { ...store.passkeys, signIn: failing(deadline) },
    });
    const attempt = async (s: Store, signal?: AbortSignal) => {
      const passkeys = new Passkeys({ store: s, clock, relyingParty: rp.relyingParty });
      const ceremony = await passkeys.startSignIn(CLIENT);
      if (!ceremony) throw new Error('no ceremony');
      const response = authenticator.authenticate(ceremony.options) as unknown as Parameters<Passkeys['finishSignIn']>[0]['response'];
      return passkeys.finishSignIn({ handle: ceremony.handle, response, deviceType: 't', client: CLIENT }, signal);
    };

    it('ends as abandoned when the database fails after the deadline: no device, the counter unmoved', async () => {
      const deadline = new AbortController();
      const result = await attempt(failingWrite(deadline), deadline.signal);
      expect(result).toEqual({ ok: false, reason: 'abandoned', email: EMAIL });
      expect(await devicesOf()).toEqual([]);
      expect((await store.passkeys.list(user.id)).map((p) => p.signCount)).toEqual([0]);
      expect((await attempt(store)).ok).toBe(true);
    });

    it('still fails with the error when the database fails before the deadline', async () => {
      await expect(attempt(failingWrite(undefined), new AbortController().signal)).rejects.toThrow('connect ETIMEDOUT');
    });
  });

  describe('through an invite', () => {
    /** The store, with the redemption's write failing before it commits. */
    const failingRedeem = (deadline: AbortController | undefined): Store => ({
      ...store,
      invites: { ...store.invites, redeem: failing(deadline) },
    });
    const redeem = async (s: Store, token: string, signal?: AbortSignal) => {
      const secret = (await invites.open(token))?.totp?.secret ?? '';
      const lateInvites = new Invites({ store: s, keys, clock, lifetimeInMs: 3_600_000, issuer: 't' });
      return lateInvites.redeemWithCode({ token, code: await code(secret), deviceType: 't', client: CLIENT }, signal);
    };

    it('with a code: ends as abandoned when the database fails after the deadline, the invite still unused', async () => {
      const { token } = await invites.create(user.id);
      const deadline = new AbortController();
      expect(await redeem(failingRedeem(deadline), token, deadline.signal)).toEqual({ ok: false, reason: 'abandoned', email: EMAIL });
      expect(await devicesOf()).toEqual([]);
      expect(await invites.open(token)).toBeDefined();
      expect((await redeem(store, token)).ok).toBe(true);
    });

    it('with a code: still fails with the error when the database fails before the deadline', async () => {
      const { token } = await invites.create(user.id);
      await expect(redeem(failingRedeem(undefined), token, new AbortController().signal)).rejects.toThrow('connect ETIMEDOUT');
    });

    it('with a passkey: ends as abandoned when the database fails after the deadline, the invite still unused', async () => {
      const { token } = await invites.create(user.id);
      const passkey = await newPasskey(new SoftAuthenticator(ORIGIN, rp.relyingParty.id), 'enroll');
      const deadline = new AbortController();
      const late = new Invites({ store: failingRedeem(deadline), keys, clock, lifetimeInMs: 3_600_000, issuer: 't' });
      const result = await late.redeemWithPasskey({ token, passkey, deviceType: 't' }, deadline.signal);
      expect(result).toEqual({ ok: false, reason: 'abandoned', email: EMAIL });
      expect(await devicesOf()).toEqual([]);
      expect(await store.passkeys.list(user.id)).toEqual([]);
      expect(await invites.open(token)).toBeDefined();
    });
  });
});
