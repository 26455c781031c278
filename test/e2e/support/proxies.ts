// Runs the shipped proxy configs for real: nginx, Caddy and Traefik on loopback ports, each in its own temp directory.
// Only addresses, ports and the token are changed (and Traefik's routers lose `tls: {}`, for plain http), each
// by an exact textual replacement that must match as often as expected (once, or twice for Traefik's two
// routers), so an edit to a shipped config that the tests no longer understand fails loudly.
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PROXY_CONFIGS, tempDir } from './paths.js';
import { freePort, type ManagedProcess, retryOnPortClash, startProcess, waitUntilReady } from './processes.js';
import { rawRequest } from './raw-http.js';

export interface RunningProxy {
  readonly port: number;
  /** `host:port` as a browser would send it in the Host header. */
  readonly hostHeader: string;
  /** e.g. `http://app.example.test:18080` */
  readonly origin: string;
  /** The config the proxy actually runs. */
  readonly renderedConfig: string;
  /** Traefik only: the plain-http entry point that redirects to the main one. */
  readonly redirectPort?: number;
  readonly process: ManagedProcess;
  stop(): Promise<void>;
}

export interface ProxyTargets {
  /** Port of the sidecar (real or fake) on 127.0.0.1. */
  readonly sidecarPort: number;
  /** Port of the protected upstream on 127.0.0.1. */
  readonly upstreamPort: number;
  readonly proxyToken: string;
  /** Public host name without port; the browser maps it to 127.0.0.1. */
  readonly hostName: string;
  /** Optional fixed listen port (the sidecar's PUBLIC_URL must be known before the proxy starts). */
  readonly port?: number;
}

export function replaceExactlyOnce(text: string, search: string, replacement: string, file: string): string {
  return replaceExactly(text, search, replacement, file, 1);
}

/** Replaces every `search`, which must occur exactly `expected` times. */
function replaceExactly(text: string, search: string, replacement: string, file: string, expected: number): string {
  const count = text.split(search).length - 1;
  if (count !== expected) {
    throw new Error(`${file}: expected "${search}" ${expected} time(s) to template for the tests, found ${count}`);
  }
  return text.replaceAll(search, () => replacement);
}

export const NGINX_CONFIG = join(PROXY_CONFIGS, 'nginx/protected-app.conf');
const CADDYFILE = join(PROXY_CONFIGS, 'caddy/Caddyfile');

export function renderNginxConfig(targets: ProxyTargets & { port: number }): string {
  let text = readFileSync(NGINX_CONFIG, 'utf8');
  const file = 'proxy-configs/nginx/protected-app.conf';
  text = replaceExactlyOnce(text, 'server auth:8080;', `server 127.0.0.1:${targets.sidecarPort};`, file);
  text = replaceExactlyOnce(text, 'server app:80;', `server 127.0.0.1:${targets.upstreamPort};`, file);
  text = replaceExactlyOnce(text, 'listen 80;', `listen 127.0.0.1:${targets.port};`, file);
  text = replaceExactlyOnce(text, 'server_name app.example.com;', `server_name ${targets.hostName};`, file);
  // The placeholder the official nginx image's envsubst step fills in (see the file's header).
  // Twice: the auth subrequest and the no-access page.
  text = replaceExactly(text, `"$\{PASSWORDLESS_AUTH_PROXY_TOKEN}"`, `"${targets.proxyToken}"`, file, 2);
  return text;
}

async function ready(port: number, host: string): Promise<boolean> {
  // Any HTTP answer means the listener is up; the path is never routed anywhere interesting.
  const response = await rawRequest({ port, host, path: '/_e2e_readiness_probe_' });
  return response.status > 0;
}

export async function startNginx(nginxPath: string, targets: ProxyTargets): Promise<RunningProxy> {
  return targets.port === undefined ? retryOnPortClash(() => startNginxOnce(nginxPath, targets)) : startNginxOnce(nginxPath, targets);
}

async function startNginxOnce(nginxPath: string, targets: ProxyTargets): Promise<RunningProxy> {
  const port = targets.port ?? (await freePort());
  return runNginxSite(nginxPath, renderNginxConfig({ ...targets, port }), port, `${targets.hostName}:${port}`);
}

/** Runs nginx with one rendered site config; ready once `port` answers anything. */
export async function runNginxSite(nginxPath: string, site: string, port: number, hostHeader: string): Promise<RunningProxy> {
  const dir = tempDir('nginx');
  writeFileSync(join(dir.path, 'protected-app.conf'), site);
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) await mkdir(join(dir.path, 'tmp', sub), { recursive: true });
  // Test-only wrapper: what /etc/nginx/nginx.conf provides in a real installation, pointed at the temp dir.
  // Debian's nginx has absolute temp paths compiled in (/var/lib/nginx), hence the *_temp_path lines.
  const isRoot = process.getuid?.() === 0;
  const main = `${isRoot ? 'user root;\n' : ''}worker_processes 1;
error_log stderr warn;
pid ${dir.path}/nginx.pid;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir.path}/tmp/body;
  proxy_temp_path ${dir.path}/tmp/proxy;
  fastcgi_temp_path ${dir.path}/tmp/fastcgi;
  uwsgi_temp_path ${dir.path}/tmp/uwsgi;
  scgi_temp_path ${dir.path}/tmp/scgi;
  include ${dir.path}/protected-app.conf;
}
`;
  const mainPath = join(dir.path, 'nginx.conf');
  writeFileSync(mainPath, main);
  const proc = startProcess('nginx', nginxPath, ['-p', dir.path, '-c', mainPath, '-e', 'stderr', '-g', 'daemon off;']);
  await waitUntilReady(proc, () => ready(port, hostHeader), { what: `listening on ${port}`, cleanup: dir.remove });
  return {
    port,
    hostHeader,
    origin: `http://${hostHeader}`,
    renderedConfig: site,
    process: proc,
    async stop() {
      await proc.stop();
      dir.remove();
    },
  };
}

/**
 * Caddy reads the shipped Caddyfile byte for byte; the addresses and the token come from the environment
 * variables the Caddyfile documents. The test prepends only a global options block (no admin endpoint,
 * bind to loopback, no automatic HTTPS), which a real deployment would not want.
 */
export async function startCaddy(caddyPath: string, targets: ProxyTargets): Promise<RunningProxy> {
  return targets.port === undefined ? retryOnPortClash(() => startCaddyOnce(caddyPath, targets)) : startCaddyOnce(caddyPath, targets);
}

async function startCaddyOnce(caddyPath: string, targets: ProxyTargets): Promise<RunningProxy> {
  const port = targets.port ?? (await freePort());
  const dir = tempDir('caddy');
  const shipped = readFileSync(CADDYFILE, 'utf8');
  const config = `{\n\tadmin off\n\tauto_https off\n\tdefault_bind 127.0.0.1\n}\n\n${shipped}`;
  const configPath = join(dir.path, 'Caddyfile');
  writeFileSync(configPath, config);
  const hostHeader = `${targets.hostName}:${port}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir.path,
    XDG_DATA_HOME: join(dir.path, 'data'),
    XDG_CONFIG_HOME: join(dir.path, 'config'),
    PASSWORDLESS_SITE_ADDRESS: `http://${hostHeader}`,
    PASSWORDLESS_AUTH_ADDRESS: `127.0.0.1:${targets.sidecarPort}`,
    PASSWORDLESS_APP_ADDRESS: `127.0.0.1:${targets.upstreamPort}`,
    PASSWORDLESS_AUTH_PROXY_TOKEN: targets.proxyToken,
  };
  const proc = startProcess('caddy', caddyPath, ['run', '--config', configPath, '--adapter', 'caddyfile'], { env });
  await waitUntilReady(proc, () => ready(port, hostHeader), { what: `listening on ${port}`, cleanup: dir.remove });
  return {
    port,
    hostHeader,
    origin: `http://${hostHeader}`,
    renderedConfig: config,
    process: proc,
    async stop() {
      await proc.stop();
      dir.remove();
    },
  };
}

const TRAEFIK_STATIC = join(PROXY_CONFIGS, 'traefik/traefik.yml');
const TRAEFIK_DYNAMIC = join(PROXY_CONFIGS, 'traefik/dynamic.yml');

/** The shipped dynamic.yml with the addresses changed, served as plain http (the routers' `tls: {}` removed). */
function renderTraefikDynamic(targets: ProxyTargets): string {
  let text = readFileSync(TRAEFIK_DYNAMIC, 'utf8');
  const file = 'proxy-configs/traefik/dynamic.yml';
  text = replaceExactly(text, 'Host(`app.example.com`)', `Host(\`${targets.hostName}\`)`, file, 2);
  text = replaceExactlyOnce(
    text,
    'address: "http://auth:8080/verify/protected-app?proxy=traefik"',
    `address: "http://127.0.0.1:${targets.sidecarPort}/verify/protected-app?proxy=traefik"`,
    file,
  );
  text = replaceExactlyOnce(text, '- url: "http://auth:8080"', `- url: "http://127.0.0.1:${targets.sidecarPort}"`, file);
  text = replaceExactlyOnce(text, '- url: "http://app:80"', `- url: "http://127.0.0.1:${targets.upstreamPort}"`, file);
  // As Caddy runs with auto_https off and nginx on `listen`: plain http on loopback, the same routers otherwise.
  return replaceExactly(text, 'tls: {}', '', file, 2);
}

/** The shipped traefik.yml on loopback ports, reading `dynamicPath`, behind options that keep it off the network. */
function renderTraefikStatic(port: number, redirectPort: number, dynamicPath: string): string {
  let text = readFileSync(TRAEFIK_STATIC, 'utf8');
  const file = 'proxy-configs/traefik/traefik.yml';
  text = replaceExactlyOnce(text, 'address: ":80"', `address: "127.0.0.1:${redirectPort}"`, file);
  text = replaceExactlyOnce(text, 'address: ":443"', `address: "127.0.0.1:${port}"`, file);
  text = replaceExactlyOnce(text, 'filename: /etc/traefik/dynamic.yml', `filename: ${dynamicPath}`, file);
  // Test only: Traefik would otherwise ask traefik.io for new versions.
  return `global:\n  checkNewVersion: false\n  sendAnonymousUsage: false\nlog:\n  level: WARN\n\n${text}`;
}

/**
 * Traefik with the shipped traefik.yml and dynamic.yml (file provider), addresses changed as above; the proxy
 * token comes from PASSWORDLESS_AUTH_PROXY_TOKEN, which dynamic.yml reads through its Go template.
 */
export async function startTraefik(traefikPath: string, targets: ProxyTargets): Promise<RunningProxy> {
  return targets.port === undefined
    ? retryOnPortClash(() => startTraefikOnce(traefikPath, targets))
    : startTraefikOnce(traefikPath, targets);
}

async function startTraefikOnce(traefikPath: string, targets: ProxyTargets): Promise<RunningProxy> {
  const port = targets.port ?? (await freePort());
  const redirectPort = await freePort();
  const dir = tempDir('traefik');
  const dynamicPath = join(dir.path, 'dynamic.yml');
  writeFileSync(dynamicPath, renderTraefikDynamic(targets));
  const config = renderTraefikStatic(port, redirectPort, dynamicPath);
  const configPath = join(dir.path, 'traefik.yml');
  writeFileSync(configPath, config);
  const hostHeader = `${targets.hostName}:${port}`;
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: dir.path, PASSWORDLESS_AUTH_PROXY_TOKEN: targets.proxyToken };
  const proc = startProcess('traefik', traefikPath, [`--configFile=${configPath}`], { env, cwd: dir.path });
  // The entry points listen before the file provider's routers exist (until then everything is 404): ready once
  // the login router answers.
  const routed = async () => (await rawRequest({ port, host: hostHeader, path: '/login' })).status === 200;
  await waitUntilReady(proc, routed, { what: `routing ${hostHeader}/login`, cleanup: dir.remove });
  return {
    port,
    hostHeader,
    origin: `http://${hostHeader}`,
    renderedConfig: `${config}\n---\n${readFileSync(dynamicPath, 'utf8')}`,
    redirectPort,
    process: proc,
    async stop() {
      await proc.stop();
      dir.remove();
    },
  };
}
