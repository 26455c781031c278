// What /verify decides, shared by the access rules (access.ts) and the cache that remembers them (verify-cache.ts).

export interface Identity {
  /** The pseudonymous per-user-per-service token. */
  readonly userServiceToken: string;
  /** Present only where the grant's scope allows. */
  readonly email?: string;
  readonly username?: string;
  readonly role?: string;
}

/** A user's access to one service, as cached per (user, service). */
export type Decision = { readonly kind: 'allow'; readonly identity: Identity } | { readonly kind: 'forbidden' };

/**
 * One verify pipeline, in the reference's order; each proxy style only renders this differently. The signed-in
 * outcomes that deny carry the user's email: it is shown to that user alone (the "no access" page), never to
 * the service.
 */
export type VerifyOutcome =
  | { readonly kind: 'bad-credential' }
  | { readonly kind: 'unauthenticated' }
  | { readonly kind: 'unknown-service'; readonly email: string }
  | { readonly kind: 'forbidden'; readonly email: string }
  | { readonly kind: 'allow'; readonly identity: Identity; readonly userId: number; readonly deviceId: string }
  // Outcomes of access rules; `rule` describes the rule that made them (for the audit log and `access check`).
  /** A `public` rule: 200 with no identity at all. */
  | { readonly kind: 'public'; readonly rule: string }
  /** A `deny` rule, or a path no rule can be checked against: 403. `email` when someone is signed in. */
  | { readonly kind: 'denied'; readonly rule: string; readonly email: string | undefined }
  /** A `passkey` rule and a device that signed in otherwise: sign in again with a passkey. */
  | { readonly kind: 'step-up'; readonly rule: string; readonly email: string }
  /** A `recent:N` rule and a device whose sign-in is older: sign in again. */
  | { readonly kind: 'fresh-sign-in'; readonly rule: string; readonly email: string };
