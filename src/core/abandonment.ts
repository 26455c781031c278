// A sign-in whose caller stopped waiting: the request failed at its deadline, and the work still running gives up
// instead of committing something nobody will be told about. Shared by the three ways into an account (a code, a
// passkey, an invite) so that each ends in exactly one audited outcome.
import { UnreadableSecretError } from './crypto.js';

/** What an attempt has reached, as far as abandoning it goes; the attempt fills it in as it goes. */
export interface Progress {
  /** Set right after the attempt's one write committed: from then on, a failure is a failure. */
  committed: boolean;
  /** The account's email, once the attempt knows it (for the audit line). */
  email?: string | undefined;
}

/**
 * Runs `attempt`. A database failure after `signal` aborted and before the attempt committed (a connection opened
 * too late, a query cut) ends as `abandoned(progress)` instead of as an error: its caller has long been answered,
 * nothing was written, and the audit log still learns how the attempt ended. Before the deadline, after the commit,
 * or for the server's own fault (a stored secret that does not decrypt), the error stays an error.
 */
export async function abandonedWhenLate<R>(
  signal: AbortSignal | undefined,
  attempt: (progress: Progress) => Promise<R>,
  abandoned: (progress: Progress) => R,
): Promise<R> {
  const progress: Progress = { committed: false };
  try {
    return await attempt(progress);
  } catch (err) {
    if (signal?.aborted !== true || progress.committed || err instanceof UnreadableSecretError) throw err;
    return abandoned(progress);
  }
}
