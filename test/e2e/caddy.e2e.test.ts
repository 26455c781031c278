// Caddy with the shipped proxy-configs/caddy/Caddyfile:
// first against a scripted sidecar (what the config sends and does), then Chromium against the real sidecar.
import { describe } from 'vitest';
import { defineConfigContract } from './support/config-contract.js';
import { binary, builtSidecar, chromiumBinary, pathOf, requirementsGate } from './support/requirements.js';
import { defineBrowserRoundTrip } from './support/round-trip.js';

const caddy = binary('caddy');
const chromium = chromiumBinary();
const sidecar = builtSidecar();

describe.skipIf(requirementsGate('caddy config tests', [caddy]))('caddy config', () => {
  defineConfigContract('caddy', () => pathOf(caddy));
});

describe.skipIf(requirementsGate('caddy browser round trip', [caddy, chromium, sidecar]))('caddy browser', () => {
  defineBrowserRoundTrip(
    'caddy',
    () => pathOf(caddy),
    () => pathOf(chromium),
  );
});
