// Docker cannot run on this machine, so the Dockerfile and compose.yaml are checked for the facts the rest of
// the project (and the e2e tests) rely on: the same ports, the same proxy config file, the same token variable.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PROXY_CONFIGS, REPO_ROOT } from './support/paths.js';
import { NGINX_CONFIG } from './support/proxies.js';

type Tree = Record<string, unknown>;
/** `${name}` as written in Dockerfiles, compose files and nginx templates (not a JS template). */
const dollar = (name: string) => `$\{${name}}`;
const read = (path: string) => readFileSync(join(REPO_ROOT, path), 'utf8');
const dockerfile = read('Dockerfile');
const compose = parse(read('compose.yaml')) as { services: Record<string, Tree>; networks: Tree };
const nginxConf = readFileSync(NGINX_CONFIG, 'utf8');
const services = compose.services;
const env = (service: string) => (services[service]?.environment ?? {}) as Record<string, string>;

/** The default of a compose `${NAME:-default}` expression, or the value itself. */
const composeDefault = (value: string | undefined) => /^\$\{[A-Z_]+:-(.*)\}$/.exec(value ?? '')?.[1] ?? value;

describe('Dockerfile', () => {
  const stages = [...dockerfile.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gim)].map((m) => ({ image: m[1], name: m[2] }));

  it('builds and runs on the same base image (better-sqlite3 is a native addon)', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(new Set(stages.map((s) => s.image))).toEqual(new Set([dollar('NODE_IMAGE')]));
    // Node 24 LTS: the version CI runs the whole suite on (Node 20 is out of support).
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24-[a-z]+-slim$/m);
  });

  it('installs only production dependencies for the runtime and runs as a non-root user', () => {
    expect(dockerfile).toContain('npm ci --omit=dev');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('FROM '));
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).not.toMatch(/g\+\+|build-essential/);
    expect(runtime).toMatch(/^COPY sql \.\/sql$/m);
  });

  it('exposes 8080, checks /healthz with node (no curl in slim) and starts dist/main.js', () => {
    expect(dockerfile).toMatch(/^EXPOSE 8080$/m);
    expect(dockerfile).toMatch(/PORT=8080/);
    expect(dockerfile).toMatch(/HEALTHCHECK[\s\S]*CMD \["node", "-e", "fetch\('http:\/\/127\.0\.0\.1:'[^\n]*\/healthz'/);
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/main\.js"\]$/m);
  });

  it('keeps secrets and host-built artefacts out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim());
    for (const entry of ['.env', '.env.*', 'node_modules', 'dist', 'data', '.git']) expect(ignored).toContain(entry);
  });
});

describe('compose.yaml', () => {
  it('runs the sidecar, MySQL with a healthcheck, nginx and a demo app', () => {
    expect(Object.keys(services).sort()).toEqual(['app', 'auth', 'mysql', 'nginx']);
    expect(services.mysql?.healthcheck).toMatchObject({ test: expect.arrayContaining(['CMD-SHELL']) });
    expect(services.auth?.depends_on).toEqual({ mysql: { condition: 'service_healthy' } });
  });

  it('publishes only nginx, and keeps the rest on an internal network', () => {
    for (const [name, service] of Object.entries(services)) {
      if (name !== 'nginx') expect(service.ports, name).toBeUndefined();
    }
    expect(compose.networks.internal).toMatchObject({ internal: true });
    for (const name of ['auth', 'mysql', 'app']) expect(services[name]?.networks, name).toEqual(['internal']);
  });

  it('mounts the shipped nginx config that the e2e tests run, with the same token variable', () => {
    const volumes = (services.nginx?.volumes ?? []) as string[];
    expect(volumes).toContain('./proxy-configs/nginx/protected-app.conf:/etc/nginx/templates/default.conf.template:ro');
    expect(join(REPO_ROOT, 'proxy-configs/nginx/protected-app.conf')).toBe(join(PROXY_CONFIGS, 'nginx/protected-app.conf'));
    expect(nginxConf).toContain(dollar('PASSWORDLESS_AUTH_PROXY_TOKEN'));
    expect(Object.keys(env('nginx'))).toContain('PASSWORDLESS_AUTH_PROXY_TOKEN');
    expect(new RegExp(env('nginx').NGINX_ENVSUBST_FILTER ?? '^$').test('PASSWORDLESS_AUTH_PROXY_TOKEN')).toBe(true);
  });

  it('matches the addresses written in the nginx config (auth:8080, app:80)', () => {
    expect(nginxConf).toMatch(/server auth:8080;/);
    expect(env('auth').PORT).toBe('8080');
    expect(nginxConf).toMatch(/server app:80;/);
    expect(services.app?.image).toMatch(/^traefik\/whoami:/); // listens on 80
  });

  it('trusts forwarded headers from the proxy only, and takes secrets from .env', () => {
    const nginxNetworks = services.nginx?.networks as Record<string, { ipv4_address?: string }>;
    expect(composeDefault(env('auth').TRUSTED_PROXIES)).toBe(composeDefault(nginxNetworks.internal?.ipv4_address));
    for (const secret of ['DB_PASSWORD', 'ENCRYPTION_KEYS']) expect(env('auth')[secret], secret).toMatch(/^\$\{[A-Z_]+:\?/);
    expect(env('auth').NODE_ENV).toBe(dollar('NODE_ENV:-production'));
    expect(env('auth').MYSQL_ROOT_PASSWORD).toBeUndefined();
  });
});
