// Traefik (built from its Go module by .ci/traefik) with the shipped proxy-configs/traefik/traefik.yml and
// dynamic.yml: first against a scripted sidecar (what the config sends and does), then Chromium against the
// real sidecar.
import { describe } from 'vitest';
import { defineConfigContract } from './support/config-contract.js';
import { builtSidecar, chromiumBinary, pathOf, requirementsGate, traefikBinary } from './support/requirements.js';
import { defineBrowserRoundTrip } from './support/round-trip.js';

const traefik = traefikBinary();
const chromium = chromiumBinary();
const sidecar = builtSidecar();

describe.skipIf(requirementsGate('traefik config tests', [traefik]))('traefik config', () => {
  defineConfigContract('traefik', () => pathOf(traefik));
});

describe.skipIf(requirementsGate('traefik browser round trip', [traefik, chromium, sidecar]))('traefik browser', () => {
  defineBrowserRoundTrip(
    'traefik',
    () => pathOf(traefik),
    () => pathOf(chromium),
  );
});
