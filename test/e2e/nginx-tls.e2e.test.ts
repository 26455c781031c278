// The TLS lines proxy-configs/nginx/protected-app.conf ships commented out do what its comments say: with them
// enabled as the comments instruct (`listen 443 ssl` and the certificate lines instead of `listen 80`, plus the
// port-80 redirect server at the end), the real nginx serves the app over TLS with the named certificate, tells
// the sidecar the original URL was https, and sends plain-http visitors to https. Only ports, paths and the
// host name are changed, each by an exact replacement.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './support/paths.js';
import { freePort } from './support/processes.js';
import { type RunningProxy, renderNginxConfig, replaceExactlyOnce, runNginxSite } from './support/proxies.js';
import { firstHeader, rawRequest } from './support/raw-http.js';
import { binary, pathOf, requirementsGate } from './support/requirements.js';
import { type EchoUpstream, type FakeSidecar, headerValues, startEchoUpstream, startFakeSidecar } from './support/servers.js';

const run = promisify(execFile);
const nginx = binary('nginx');
const openssl = binary('openssl');
const HOST = 'app.localhost';
const FILE = 'proxy-configs/nginx/protected-app.conf';

/** Turns the commented lines that start with `prefix` (exactly `count` of them) into active ones. */
function uncomment(text: string, prefix: string, count: number): string {
  const pattern = new RegExp(`^(\\s*)#\\s+(${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*)$`, 'gm');
  const found = text.match(pattern)?.length ?? 0;
  if (found !== count) throw new Error(`${FILE}: expected ${count} commented line(s) starting "${prefix}", found ${found}`);
  return text.replace(pattern, '$1$2');
}

describe.skipIf(requirementsGate('nginx TLS lines', [nginx, openssl]))('nginx: the commented TLS lines, enabled', () => {
  const dir = tempDir('nginx-tls');
  let sidecar: FakeSidecar;
  let upstream: EchoUpstream;
  let proxy: RunningProxy;
  let tlsPort: number;
  let httpPort: number;
  const cert = join(dir.path, 'cert.pem');

  beforeAll(async () => {
    await run(pathOf(openssl), [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${HOST}`,
      '-addext',
      `subjectAltName=DNS:${HOST}`,
      '-keyout',
      join(dir.path, 'key.pem'),
      '-out',
      cert,
    ]);
    sidecar = await startFakeSidecar();
    upstream = await startEchoUpstream();
    tlsPort = await freePort();
    httpPort = await freePort();
    let site = renderNginxConfig({
      sidecarPort: sidecar.port,
      upstreamPort: upstream.port,
      proxyToken: 'tls-test-token',
      hostName: HOST,
      port: tlsPort,
    });
    // "replace the line above with these three"
    site = replaceExactlyOnce(site, `    listen 127.0.0.1:${tlsPort};  # CHANGE\n`, '', FILE);
    site = uncomment(site, 'listen 443 ssl;', 1);
    site = uncomment(site, 'ssl_certificate ', 1);
    site = uncomment(site, 'ssl_certificate_key ', 1);
    site = replaceExactlyOnce(site, 'listen 443 ssl;', `listen 127.0.0.1:${tlsPort} ssl;`, FILE);
    site = replaceExactlyOnce(site, '/etc/ssl/certs/app.example.com.pem;', `${cert};`, FILE);
    site = replaceExactlyOnce(site, '/etc/ssl/private/app.example.com.key;', `${join(dir.path, 'key.pem')};`, FILE);
    // "and enable the redirect at the end"
    for (const line of ['server {', 'listen 80 default_server;', 'return 301 ', '}']) site = uncomment(site, line, 1);
    site = replaceExactlyOnce(site, 'listen 80 default_server;', `listen 127.0.0.1:${httpPort} default_server;`, FILE);
    site = replaceExactlyOnce(site, 'https://app.example.com$request_uri;', `https://${HOST}:${tlsPort}$request_uri;`, FILE);
    proxy = await runNginxSite(pathOf(nginx), site, httpPort, `${HOST}:${httpPort}`);
  }, 60_000);

  afterAll(async () => {
    await proxy?.stop();
    await sidecar?.close();
    await upstream?.close();
    dir.remove();
  });

  /** GET over TLS to 127.0.0.1, checking the certificate against ours for the name app.localhost. */
  const getTls = async (path: string) => {
    const ca = readFileSync(cert);
    return new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: tlsPort, path, servername: HOST, ca, headers: { Host: `${HOST}:${tlsPort}` } },
        (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            body += chunk;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end();
    });
  };

  it('serves the login pages and the app over TLS with the configured certificate', async () => {
    const login = await getTls('/login');
    expect(login.status).toBe(200);
    expect(JSON.parse(login.body)).toMatchObject({ fakeSidecar: true, url: '/login' });

    sidecar.answerVerify = () => ({
      status: 200,
      headers: { 'Remote-User': 'u-1', 'Remote-Email': '', 'Remote-Name': '', 'Remote-Role': '' },
    });
    const page = await getTls('/reports?q=1');
    expect(page.status).toBe(200);
    expect(headerValues(upstream.last('/reports?q=1'), 'Remote-User')).toEqual(['u-1']);
    // $scheme is https now, so the return URL the sidecar builds is https too.
    const verify = sidecar.seen.filter((seen) => seen.url.startsWith('/verify/')).at(-1);
    expect(headerValues(verify, 'X-Original-URL')).toEqual([`https://${HOST}:${tlsPort}/reports?q=1`]);
    expect(headerValues(verify, 'X-Forwarded-Proto')).toEqual(['https']);
  });

  it('sends plain-http visitors to https, answering nothing else on the http port', async () => {
    const before = sidecar.seen.length;
    for (const path of ['/', '/login', '/reports?q=1']) {
      const response = await rawRequest({ port: httpPort, host: `${HOST}:${httpPort}`, path });
      expect(response.status, path).toBe(301);
      expect(firstHeader(response, 'Location'), path).toBe(`https://${HOST}:${tlsPort}${path}`);
    }
    expect(sidecar.seen.length).toBe(before);
  });
});
