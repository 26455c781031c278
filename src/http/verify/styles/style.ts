// What a proxy style is: how it reads where the browser was going, and what it answers when the device is not
// signed in or its user may not use the service. One module per style, as Authelia has one per implementation.
import type { BlockList } from 'node:net';
import type { Config } from '../../../config/config.js';
import type { VerifyOutcome } from '../../../core/decisions.js';
import type { FactNeeds, RequestFacts } from '../../../core/rules.js';
import type { Answer } from '../answer.js';
import type { VerifyRequest } from '../request.js';

export interface StyleContext {
  readonly config: Config;
  readonly trusted: BlockList;
  readonly pageHeaders: Readonly<Record<string, string>>;
}

type Denial = Extract<VerifyOutcome, { kind: 'forbidden' | 'unknown-service' | 'denied' }>;

/** Why a signed-in device must sign in again: a `passkey` rule (step up) or a `recent:N` rule (fresh). */
export type SignInAgain = 'step-up' | 'fresh';

export interface ProxyStyle {
  unauthenticated(req: VerifyRequest, ctx: StyleContext): Answer;
  forbidden(req: VerifyRequest, denial: Denial, ctx: StyleContext): Answer;
  signInAgain(req: VerifyRequest, why: SignInAgain, ctx: StyleContext): Answer;
  /**
   * The original request's method, raw path and, as the service's rules need them, client address and
   * method-override headers: what access rules match on.
   */
  facts(req: VerifyRequest, ctx: StyleContext, needs: FactNeeds): RequestFacts;
  /** The caller's credential was missing or unknown; without this, the reference's JSON 401. */
  badCredential?(req: VerifyRequest, ctx: StyleContext): Answer;
}

/** Where the browser was going, if a trusted proxy said so; only ever used to build the return URL. */
export interface OriginalRequest {
  readonly url: string | undefined;
  readonly method: string;
}
