// Every JSON error answer in one table, in the reference's shape: {"status code": N, "error": ...}. The status
// sent is always the one in the body.

export const ERRORS = {
  // The reference's answers (direct callers of /verify, and /device/add).
  loginFailed: { status: 401, error: 'Invalid email or password' },
  badServiceCredential: { status: 401, error: 'Could not verify service' },
  unauthenticated: { status: 404, error: 'Not Found' },
  unknownService: { status: 404, error: 'Service Not Found!' },
  forbidden: { status: 401, error: 'User does not have access to this service' },
  // What proxies get (`?proxy=`): they understand 401 and 403 only.
  signInRequired: { status: 401, error: 'Not signed in' },
  noAccess: { status: 403, error: 'User does not have access to this service' },
  unknownServiceForProxy: { status: 403, error: 'Service Not Found!' },
  unknownProxyStyle: { status: 400, error: 'Unknown proxy style' },
  // Access rules.
  passkeyRequired: { status: 401, error: 'This page needs a sign-in with a passkey' },
  freshSignInRequired: { status: 401, error: 'This page needs a recent sign-in' },
  closedByRule: { status: 403, error: 'This address is closed' },
  // Everything else.
  badRequest: { status: 400, error: 'Bad Request' },
  bodyTimeout: { status: 408, error: 'Request body not received in time' },
  tooLarge: { status: 413, error: 'Request body too large' },
  notFound: { status: 404, error: 'Not Found' },
  unavailable: { status: 503, error: 'Service temporarily unavailable' },
  unauthorized: { status: 401, error: 'Unauthorized' },
  // Passkeys and invites (JSON for the page script).
  passkeyRefused: { status: 401, error: 'That passkey was not accepted. Please try again.' },
  passkeyDuplicate: { status: 409, error: 'This passkey is registered already.' },
  passkeyUnusable: { status: 400, error: 'This passkey cannot be used: its key or id is not valid. Please try another authenticator.' },
  inviteInvalid: { status: 404, error: 'This invite link cannot be used.' },
  tooManyAttempts: { status: 429, error: 'Too many attempts. Please wait a few minutes and try again.' },
  signInRequiredJson: { status: 401, error: 'Please sign in again.' },
} as const satisfies Record<string, { status: number; error: string }>;

export type ErrorName = keyof typeof ERRORS;

/** The exact bytes of an error body. */
export function errorBody(name: ErrorName): string {
  const { status, error } = ERRORS[name];
  return JSON.stringify({ 'status code': status, error });
}

export const OK_BODY = JSON.stringify({ 'status code': 200, status: 'ok' });

/** A success for the page script: where the browser goes next. */
export const redirectBody = (to: string) => JSON.stringify({ 'status code': 200, status: 'ok', redirect: to });
