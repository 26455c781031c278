// Runs the shipped proxy configs for real: nginx and Caddy on loopback ports, each in its own temp directory.
// Only addresses, ports and the token are changed, each by an exact textual replacement that must match
// exactly once, so an edit to a shipped config that the tests no longer understand fails loudly.
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
  const count = text.split(search).length - 1;
  if (count !== 1) {
    throw new Error(`${file}: expected exactly one "${search}" to template for the tests, found ${count}`);
  }
  return text.replace(search, () => replacement);
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
  text = replaceExactlyOnce(text, `"$\{PASSWORDLESS_AUTH_PROXY_TOKEN}"`, `"${targets.proxyToken}"`, file);
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
