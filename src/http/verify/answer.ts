// A /verify answer, independent of how it is sent: written on Node's response on the fast path, turned into a
// Fetch Response in-process. Headers are plain objects that carry their own Content-Length where there is a
// body (the Node adapter would otherwise add one to the object it was given, corrupting a shared one).
import type { ServerResponse } from 'node:http';
import type { Identity } from '../../core/decisions.js';
import { ERRORS, type ErrorName, errorBody } from '../responses.js';

export interface Answer {
  readonly status: number;
  readonly body: string | null;
  readonly headers: Readonly<Record<string, string>>;
}

/** The identity headers a proxy copies to the upstream. Always all of them on a 200, empty where hidden. */
export const IDENTITY_HEADERS = {
  userServiceToken: 'Remote-User',
  email: 'Remote-Email',
  username: 'Remote-Name',
  role: 'Remote-Role',
} as const satisfies Record<keyof Identity, string>;

const JSON_TYPE = 'application/json';

/** Error answers, made once per kind: the same bytes every time. Their status is the one in their body. */
const made = new Map<ErrorName, Answer>();
export function errorAnswer(name: ErrorName, extra?: Readonly<Record<string, string>>): Answer {
  let a = made.get(name);
  if (a === undefined) {
    const body = errorBody(name);
    a = {
      status: ERRORS[name].status,
      body,
      headers: { 'Cache-Control': 'no-store', 'Content-Type': JSON_TYPE, 'Content-Length': String(Buffer.byteLength(body)) },
    };
    made.set(name, a);
  }
  return extra ? { ...a, headers: { ...a.headers, ...extra } } : a;
}

/** What a failure (the database down or too slow, a bug) answers: a denial. */
export const UNAVAILABLE: Answer = errorAnswer('unavailable', { 'Retry-After': '5' });

export function redirectAnswer(status: 302 | 303, location: string): Answer {
  return { status, body: null, headers: { 'Cache-Control': 'no-store', Location: location, 'Content-Length': '0' } };
}

export function htmlAnswer(status: number, html: string, headers: Readonly<Record<string, string>>): Answer {
  return {
    status,
    body: html,
    headers: {
      ...headers,
      'Cache-Control': 'no-store',
      'Content-Type': 'text/html; charset=UTF-8',
      'Content-Length': String(Buffer.byteLength(html)),
    },
  };
}

/** The rendered 200 per identity; identities are cached with their decisions, so warm hits reuse this. */
const rendered = new WeakMap<Identity, Answer>();

export function allowAnswer(identity: Identity): Answer {
  let a = rendered.get(identity);
  if (a === undefined) {
    const data: Record<string, string> = { UserServiceToken: identity.userServiceToken };
    if (identity.email !== undefined) data.Email = identity.email;
    if (identity.username !== undefined) data.Username = identity.username;
    if (identity.role !== undefined) data.UserRole = identity.role;
    const body = JSON.stringify({ 'status code': 200, status: 'ok', data });
    a = {
      status: 200,
      body,
      headers: {
        'Content-Length': String(Buffer.byteLength(body)),
        'Cache-Control': 'no-store',
        'Content-Type': JSON_TYPE,
        [IDENTITY_HEADERS.userServiceToken]: identity.userServiceToken,
        [IDENTITY_HEADERS.email]: identity.email ?? '',
        [IDENTITY_HEADERS.username]: identity.username ?? '',
        [IDENTITY_HEADERS.role]: identity.role ?? '',
      },
    };
    rendered.set(identity, a);
  }
  return a;
}

/** A `public` rule's 200: no identity at all, every identity header present and empty (a client's copy never slips through). */
const PUBLIC_BODY = JSON.stringify({ 'status code': 200, status: 'ok', data: {} });
export const PUBLIC_ANSWER: Answer = {
  status: 200,
  body: PUBLIC_BODY,
  headers: {
    'Content-Length': String(Buffer.byteLength(PUBLIC_BODY)),
    'Cache-Control': 'no-store',
    'Content-Type': JSON_TYPE,
    [IDENTITY_HEADERS.userServiceToken]: '',
    [IDENTITY_HEADERS.email]: '',
    [IDENTITY_HEADERS.username]: '',
    [IDENTITY_HEADERS.role]: '',
  },
};

/** Writes an answer on Node's response (the fast path). */
export function sendAnswer(res: ServerResponse, a: Answer): void {
  res.writeHead(a.status, a.headers);
  res.end(a.body ?? undefined);
}

/** An answer as a Fetch Response (in-process, and any runtime without the Node fast path). */
export const toResponse = (a: Answer): Response => new Response(a.body, { status: a.status, headers: a.headers });
