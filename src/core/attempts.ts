// The guess budget for the enrolment and passkey routes: each attempt is counted in before it is evaluated, under
// every subject it spends from, in the same store as the code logins' (so it holds across instances).
import { randomHex } from './crypto.js';
import type { LoginFailureStore } from './ports.js';
import { type Limit, withinLimits } from './throttle.js';

export interface Budget {
  readonly subject: string;
  readonly limits: readonly Limit[];
}

export interface Attempt {
  readonly id: string;
  /** Whether every subject stays within its limits with this attempt counted in. */
  readonly withinBudget: boolean;
}

/** Counts the attempt in under each budget's subject, then checks what came before it (see `SignIn.login`). */
export async function countAttempt(failures: LoginFailureStore, now: number, budgets: readonly Budget[]): Promise<Attempt> {
  const id = randomHex(8);
  const subjects = budgets.map((b) => b.subject);
  await failures.record(id, subjects, now);
  const windows = budgets.flatMap((b) => b.limits.map((l) => now - l.windowInMs));
  const counts = await failures.counts(id, subjects, windows);
  let offset = 0;
  let withinBudget = true;
  for (const b of budgets) {
    const mine = counts.get(b.subject)?.slice(offset, offset + b.limits.length) ?? [];
    if (!withinLimits(mine, b.limits)) withinBudget = false;
    offset += b.limits.length;
  }
  return { id, withinBudget };
}
