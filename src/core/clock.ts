/** Time is injected so TOTP windows, expiry and throttling are testable without sleeping. */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export function fixedClock(startInMs: number): Clock & { set(ms: number): void; advance(ms: number): void } {
  let t = startInMs;
  return {
    now: () => t,
    set: (ms) => {
      t = ms;
    },
    advance: (ms) => {
      t += ms;
    },
  };
}
