// Every JSON answer in one table, in the reference's shape: {"status code": N, ...}.

export const ERRORS = {
  loginFailed: { status: 401, error: 'Invalid email or password' },
  badServiceCredential: { status: 401, error: 'Could not verify service' },
  unauthenticated: { status: 404, error: 'Not Found' },
  unknownService: { status: 404, error: 'Service Not Found!' },
  forbidden: { status: 401, error: 'User does not have access to this service' },
  badRequest: { status: 400, error: 'Bad Request' },
  unknownProxyStyle: { status: 400, error: 'Unknown proxy style' },
  tooLarge: { status: 413, error: 'Request body too large' },
  notFound: { status: 404, error: 'Not Found' },
  unavailable: { status: 503, error: 'Service temporarily unavailable' },
  unauthorized: { status: 401, error: 'Unauthorized' },
} as const satisfies Record<string, { status: number; error: string }>;

export type ErrorName = keyof typeof ERRORS;

/** The exact bytes of an error body, made once. */
export function errorBody(name: ErrorName): string {
  const { status, error } = ERRORS[name];
  return JSON.stringify({ 'status code': status, error });
}

export const OK_BODY = JSON.stringify({ 'status code': 200, status: 'ok' });
