// What every route gets: the dependencies `createApp` is given, and the request-scoped values the middleware sets.
import type { BlockList } from 'node:net';
import type { Context } from 'hono';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { Access } from '../core/access.js';
import type { AuthenticatorApp } from '../core/authenticator-app.js';
import type { FeedStatus } from '../core/change-feed.js';
import type { Devices } from '../core/devices.js';
import type { Invites } from '../core/invites.js';
import type { PasskeyAccount } from '../core/passkey-account.js';
import type { Passkeys } from '../core/passkeys.js';
import type { SignIn } from '../core/sign-in.js';
import type { Metrics } from './metrics.js';

export interface AppDeps {
  readonly config: Config;
  readonly signIn: SignIn;
  readonly devices: Devices;
  readonly access: Access;
  readonly invites: Invites;
  /** `undefined` when passkeys are off (PUBLIC_URL names an IP address): the pages then offer codes only. */
  readonly passkeys: Passkeys | undefined;
  readonly passkeyAccount: PasskeyAccount;
  readonly authenticatorApp: AuthenticatorApp;
  readonly logger: Logger;
  /** Readiness: resolves when the database answers and is migrated. */
  readonly ready: () => Promise<boolean>;
  /** How far behind the change feed is, for /readyz (absent where no feed runs). */
  readonly feedStatus?: (() => FeedStatus) | undefined;
  readonly metrics?: Metrics | undefined;
  /** The socket peer's address; the Node adapter's connection info in production. */
  readonly peerAddress: (c: Context) => string | undefined;
}

export interface AppEnv {
  Variables: {
    deps: AppDeps;
    trusted: BlockList;
    /** Aborts when the request's deadline passes; work that commits something checks it first. */
    deadline: AbortSignal;
    /** The request body, read in full before the handler runs (POST only). */
    body: Uint8Array;
  };
}

/** The signed-in user and device of a request. */
export type SignedIn = NonNullable<Awaited<ReturnType<Devices['authenticate']>>>;

/** What `requireSignedIn` adds: the signed-in user and device. */
export type SignedInEnv = AppEnv & { Variables: { me: SignedIn } };
/** What `requirePasskeys` adds: the passkeys, known to be on. */
export type PasskeysEnv = AppEnv & { Variables: { passkeys: Passkeys } };

/**
 * The context of any route, whatever the guards before its handler added: what the request helpers and answers
 * take. (Hono's `Context` is invariant in its variables, so a guarded handler's context is not a
 * `Context<AppEnv>`.)
 */
export type AppContext = Context<AppEnv> | Context<SignedInEnv> | Context<PasskeysEnv> | Context<SignedInEnv & PasskeysEnv>;
