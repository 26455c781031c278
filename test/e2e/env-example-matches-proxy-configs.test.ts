// Rule: .env.example and the shipped proxy configs describe one deployment. The configs serve the login pages
// under the protected app's host, so PUBLIC_URL in .env.example must be that host's https URL (the value each
// config's header asks for), the cookies must reach it, and the whole file must pass the service's own start-up
// checks once a real key is filled in.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { allowList, isAllowedOrigin } from '../../src/core/allowed-origins.js';
import { REPO_ROOT } from './support/paths.js';

const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');
const example = parseEnv(read('.env.example')) as Record<string, string>;

const hostRules = (text: string) => [...text.matchAll(/Host\(`([^`]+)`\)/g)].map((m) => m[1] as string);
/** Each shipped config, the host names it serves the login pages on, and whether its header names PUBLIC_URL. */
const configs: ReadonlyArray<{ file: string; hostsOf: (text: string) => string[]; namesPublicUrl: boolean }> = [
  {
    file: 'proxy-configs/nginx/protected-app.conf',
    hostsOf: (text) => [...text.matchAll(/^\s*server_name\s+(\S+);/gm)].map((m) => m[1] as string),
    namesPublicUrl: true,
  },
  {
    file: 'proxy-configs/caddy/Caddyfile',
    hostsOf: (text) => [...(/^\{\$PASSWORDLESS_SITE_ADDRESS:([^}]+)\}\s*\{/m.exec(text)?.slice(1) ?? [])],
    namesPublicUrl: true,
  },
  { file: 'proxy-configs/traefik/dynamic.yml', hostsOf: hostRules, namesPublicUrl: true },
  // The same routers as Docker labels; its header points at dynamic.yml instead of repeating the sidecar's needs.
  { file: 'proxy-configs/traefik/compose.labels.yaml', hostsOf: hostRules, namesPublicUrl: false },
];

describe('.env.example agrees with proxy-configs/', () => {
  const publicUrl = new URL(example.PUBLIC_URL ?? '');

  it('sets PUBLIC_URL to the https URL of the host every shipped config serves the login pages on', () => {
    expect(publicUrl.protocol).toBe('https:');
    expect(publicUrl.pathname).toBe('/');
    for (const { file, hostsOf, namesPublicUrl } of configs) {
      const text = read(file);
      const hosts = hostsOf(text);
      expect(hosts.length, `${file}: no host found`).toBeGreaterThan(0);
      expect(new Set(hosts), file).toEqual(new Set([publicUrl.hostname]));
      // Each config's header says which PUBLIC_URL it needs; it is the one in .env.example.
      const needed = [...text.matchAll(/PUBLIC_URL=(\S+?)[\s)]/g)].map((m) => m[1]);
      expect(needed, `${file}: the PUBLIC_URL its header asks for`).toEqual(namesPublicUrl ? [example.PUBLIC_URL] : []);
    }
  });

  it('lets the device cookies and the landing page reach that host', () => {
    const cookieDomain = example.COOKIE_DOMAIN ?? '';
    if (cookieDomain !== '') expect(isAllowedOrigin(publicUrl, allowList([`.${cookieDomain}`]), false)).toBe(true);
    const landing = new URL(example.LANDING_URL ?? `${example.PUBLIC_URL}/`);
    expect(landing.protocol).toBe('https:');
    expect(isAllowedOrigin(landing, allowList([publicUrl.origin, ...(cookieDomain ? [`.${cookieDomain}`] : [])]), false)).toBe(true);
  });

  it('passes the start-up checks in production once a real key is filled in', () => {
    expect(example.NODE_ENV).toBe('production');
    const { config } = loadConfig({
      env: { ...example, ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}` },
    });
    expect(config.production).toBe(true);
    expect(config.publicUrl).toBe(example.PUBLIC_URL?.replace(/\/+$/, ''));
    expect(config.insecureHttp).toBe(false);
    expect(config.allowedOrigins).toContainEqual({ scheme: 'https:', host: publicUrl.hostname, subdomains: false, port: undefined });
  });
});
