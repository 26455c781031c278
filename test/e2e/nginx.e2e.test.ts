// nginx with the shipped proxy-configs/nginx/protected-app.conf:
// first against a scripted sidecar (what the config sends and does), then Chromium against the real sidecar.
import { describe } from 'vitest';
import { defineConfigContract } from './support/config-contract.js';
import { binary, builtSidecar, chromiumBinary, pathOf, requirementsGate } from './support/requirements.js';
import { defineBrowserRoundTrip } from './support/round-trip.js';

const nginx = binary('nginx');
const chromium = chromiumBinary();
const sidecar = builtSidecar();

describe.skipIf(requirementsGate('nginx config tests', [nginx]))('nginx config', () => {
  defineConfigContract('nginx', () => pathOf(nginx));
});

describe.skipIf(requirementsGate('nginx browser round trip', [nginx, chromium, sidecar]))('nginx browser', () => {
  defineBrowserRoundTrip(
    'nginx',
    () => pathOf(nginx),
    () => pathOf(chromium),
  );
});
