// docs/proxies.md, "Caddy on one machine, step by step": every command as written (sidecar via npm start, the
// example app, the CLI, caddy run with proxy-configs/caddy/Caddyfile.local, the curl), then Chromium signs in
// through Caddy on http://app.localhost:8082 and the app sees the identity headers. Before that, what
// Caddyfile.local promises, as Caddy itself reads it: no admin endpoint, loopback only, never ACME.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, tempDir } from './support/paths.js';
import { defineProxyWalkthrough } from './support/proxy-walkthrough.js';
import { binary, pathOf, requirementsGate } from './support/requirements.js';

const run = promisify(execFile);
const caddy = binary('caddy');

describe.skipIf(requirementsGate('Caddyfile.local checks', [caddy]))('proxy-configs/caddy/Caddyfile.local', () => {
  it('turns the admin endpoint off, binds loopback only, stays off ports 80/443 and never uses ACME, even with no variables set', async () => {
    const home = tempDir('caddy-adapt');
    try {
      // No PASSWORDLESS_* variables: the Caddyfile's default site app.example.com is what a forgotten export gives.
      const { stdout } = await run(pathOf(caddy), ['adapt', '--config', join(REPO_ROOT, 'proxy-configs/caddy/Caddyfile.local')], {
        env: { PATH: process.env.PATH, HOME: home.path, XDG_CONFIG_HOME: home.path, XDG_DATA_HOME: home.path },
      });
      const json = JSON.parse(stdout) as {
        admin?: { disabled?: boolean };
        apps: {
          http: { servers: Record<string, { listen: string[] }> };
          tls?: { automation?: { policies?: Array<{ issuers?: Array<{ module: string }> }> } };
        };
      };
      expect(json.admin?.disabled).toBe(true);
      const listeners = Object.values(json.apps.http.servers).flatMap((server) => server.listen);
      expect(listeners.length).toBeGreaterThan(0);
      for (const listen of listeners) {
        expect(listen).toMatch(/^127\.0\.0\.1:\d+$/);
        expect(Number(listen.split(':')[1])).toBeGreaterThanOrEqual(1024);
      }
      const issuers = (json.apps.tls?.automation?.policies ?? []).flatMap((policy) => policy.issuers ?? []).map((issuer) => issuer.module);
      expect(issuers).toEqual(['internal']);
    } finally {
      home.remove();
    }
  });
});

defineProxyWalkthrough('caddy');
