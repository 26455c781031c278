// Failing closed in time: a database that does not answer is a denial (or "unready", or "try again") well before a
// proxy or a person gives up.
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from './context.js';

export class DeadlineError extends Error {
  override readonly name = 'DeadlineError';
}

/** `work`, or a rejection once `ms` have passed, whichever comes first. */
export function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/**
 * The request's deadline: past `ms` the request fails with `DeadlineError` (the app's error handler answers 503),
 * and `c.var.deadline` aborts first, so work still running (a sign-in waiting for the database) abandons itself
 * instead of committing something nobody will be told about.
 */
export function deadline(ms: number): MiddlewareHandler<AppEnv> {
  return async function deadline(c, next) {
    const controller = new AbortController();
    c.set('deadline', controller.signal);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new DeadlineError(`no answer within ${ms} ms`));
      }, ms);
    });
    try {
      await Promise.race([next(), expired]);
    } finally {
      clearTimeout(timer);
    }
  };
}
