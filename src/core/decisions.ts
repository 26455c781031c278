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
  | { readonly kind: 'allow'; readonly identity: Identity; readonly userId: number; readonly deviceId: string };
