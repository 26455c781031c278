// The Traefik config checked statically, option by option, against Traefik's documented forwardAuth and headers
// behaviour (docs: reference/routing-configuration/http/middlewares/forwardauth.md; behaviour read from
// pkg/middlewares/auth/forward.go). traefik.e2e.test.ts runs dynamic.yml with a real Traefik; the Docker labels
// (compose.labels.yaml) are checked here only, against dynamic.yml.
//
// Rules:
//  - forwardAuth calls /verify/<service>?proxy=traefik on the sidecar, with no credential in the address.
//  - The proxy token is added before forwardAuth and removed after it; the order is token → auth → cleanup.
//  - The four identity headers are authResponseHeaders (Traefik replaces client copies with them); underscore
//    spellings are deleted before the app.
//  - trustForwardHeader is false: Traefik builds X-Forwarded-* itself, client copies are not believed.
//  - Only the login pages route to the sidecar; /verify matches no public router.
//  - The Docker labels example is the same configuration as the YAML.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PROXY_CONFIGS } from './support/paths.js';

type Tree = { [key: string]: unknown };

const DYNAMIC = readFileSync(join(PROXY_CONFIGS, 'traefik/dynamic.yml'), 'utf8');
const STATIC = readFileSync(join(PROXY_CONFIGS, 'traefik/traefik.yml'), 'utf8');
const LABELS_COMPOSE = readFileSync(join(PROXY_CONFIGS, 'traefik/compose.labels.yaml'), 'utf8');

const TOKEN_TEMPLATE = '{{ env "PASSWORDLESS_AUTH_PROXY_TOKEN" }}';
const IDENTITY_HEADERS = ['Remote-User', 'Remote-Email', 'Remote-Name', 'Remote-Role'];

/** Options the forwardAuth reference documents (Traefik v3.x); anything else would be a typo Traefik ignores. */
const FORWARD_AUTH_OPTIONS = new Set([
  'address',
  'trustForwardHeader',
  'authResponseHeaders',
  'authResponseHeadersRegex',
  'authRequestHeaders',
  'addAuthCookiesToResponse',
  'forwardBody',
  'maxBodySize',
  'headerField',
  'preserveLocationHeader',
  'preserveRequestMethod',
  'tls',
]);

function at(tree: unknown, ...path: string[]): unknown {
  let node = tree;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Tree)[key];
  }
  return node;
}

function objectAt(tree: unknown, ...path: string[]): Tree {
  const node = at(tree, ...path);
  if (node === null || typeof node !== 'object' || Array.isArray(node)) throw new Error(`no object at ${path.join('.')}`);
  return node as Tree;
}

// --- A small evaluator for the router rules used here: Host, Path, PathPrefix, &&, ||, !, parentheses. ---
type Rule = (host: string, path: string) => boolean;

function compileRule(source: string): Rule {
  const tokens = source.match(/&&|\|\||!|\(|\)|[A-Za-z]+\(`[^`]*`\)|\S/g) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const next = () => tokens[i++];
  const primary = (): Rule => {
    const token = next();
    if (token === '(') {
      const inner = or();
      if (next() !== ')') throw new Error(`unbalanced parentheses in ${source}`);
      return inner;
    }
    if (token === '!') {
      const inner = primary();
      return (h, p) => !inner(h, p);
    }
    const m = /^([A-Za-z]+)\(`([^`]*)`\)$/.exec(token ?? '');
    if (!m) throw new Error(`unexpected ${token} in ${source}`);
    const [, name, arg = ''] = m;
    switch (name) {
      case 'Host':
        return (h) => h.toLowerCase() === arg.toLowerCase();
      case 'Path':
        return (_h, p) => p === arg;
      case 'PathPrefix':
        return (_h, p) => p.startsWith(arg);
      default:
        throw new Error(`matcher ${name} is not understood by this test`);
    }
  };
  const and = (): Rule => {
    let left = primary();
    while (peek() === '&&') {
      next();
      const l = left;
      const r = primary();
      left = (h, p) => l(h, p) && r(h, p);
    }
    return left;
  };
  const or = (): Rule => {
    let left = and();
    while (peek() === '||') {
      next();
      const l = left;
      const r = and();
      left = (h, p) => l(h, p) || r(h, p);
    }
    return left;
  };
  const rule = or();
  if (i !== tokens.length) throw new Error(`trailing tokens in ${source}`);
  return rule;
}

// --- Docker labels → the same tree shape as the file provider (keys compared case-insensitively). ---
function labelsToTree(labels: readonly string[]): Tree {
  const tree: Tree = {};
  for (const label of labels) {
    const eq = label.indexOf('=');
    const key = label.slice(0, eq);
    const value = label.slice(eq + 1);
    if (!key.startsWith('traefik.http.')) continue;
    const parts = key.slice('traefik.'.length).split('.');
    let node = tree;
    for (const part of parts.slice(0, -1)) {
      const k = part.toLowerCase();
      node[k] ??= {};
      node = node[k] as Tree;
    }
    node[(parts.at(-1) ?? '').toLowerCase()] = value;
  }
  return tree;
}

function lowerKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(lowerKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.toLowerCase(), lowerKeys(v)]));
  }
  return value;
}

const asList = (value: unknown): string[] =>
  Array.isArray(value)
    ? value.map(String)
    : String(value ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);

describe('Traefik config (static checks; traefik.e2e.test.ts runs it)', () => {
  const dynamic = parse(DYNAMIC) as Tree;
  const routers = objectAt(dynamic, 'http', 'routers');
  const middlewares = objectAt(dynamic, 'http', 'middlewares');
  const services = objectAt(dynamic, 'http', 'services');
  const forwardAuthNames = Object.keys(middlewares).filter((name) => at(middlewares, name, 'forwardAuth') !== undefined);
  const forwardAuth = objectAt(middlewares, forwardAuthNames[0] ?? '', 'forwardAuth');
  const appRouter = objectAt(routers, 'protected-app');
  const loginRouter = objectAt(routers, 'protected-app-login');
  const sidecarUrl = new URL(String(at(services, 'passwordless-auth', 'loadBalancer', 'servers', '0', 'url')));

  it('(self-check) evaluates router rules the way Traefik does for these matchers', () => {
    const rule = compileRule('Host(`a.test`) && (Path(`/x`) || PathPrefix(`/y/`)) && !Path(`/y/z`)');
    expect(rule('a.test', '/x')).toBe(true);
    expect(rule('A.TEST', '/y/1')).toBe(true);
    expect(rule('a.test', '/y/z')).toBe(false);
    expect(rule('b.test', '/x')).toBe(false);
    expect(rule('a.test', '/xy')).toBe(false);
  });

  it('is still valid YAML after Traefik fills in its Go template', () => {
    // The file provider runs the file through text/template (with sprig's env) before parsing it.
    const rendered = DYNAMIC.replaceAll(TOKEN_TEMPLATE, 'a-token-value');
    expect(DYNAMIC).toContain(TOKEN_TEMPLATE);
    expect(rendered).not.toContain('{{');
    expect(
      at(parse(rendered), 'http', 'middlewares', 'passwordless-auth-token', 'headers', 'customRequestHeaders', 'X-Service-Token'),
    ).toBe('a-token-value');
  });

  it('has exactly one forwardAuth, using only documented options', () => {
    expect(forwardAuthNames).toEqual(['passwordless-auth']);
    for (const option of Object.keys(forwardAuth)) expect(FORWARD_AUTH_OPTIONS, option).toContain(option);
  });

  it('calls GET /verify/<service>?proxy=traefik on the sidecar, with no secret in the address', () => {
    const address = new URL(String(forwardAuth.address));
    expect(address.origin).toBe(sidecarUrl.origin);
    expect(address.pathname).toBe('/verify/protected-app');
    expect([...address.searchParams]).toEqual([['proxy', 'traefik']]);
    expect(address.username + address.password).toBe('');
    // The sidecar's /verify answers GET only; Traefik sends GET unless told otherwise. No body either.
    expect(forwardAuth.preserveRequestMethod ?? false).toBe(false);
    expect(forwardAuth.forwardBody ?? false).toBe(false);
  });

  it('does not trust client X-Forwarded-* (trustForwardHeader: false, written out)', () => {
    expect(forwardAuth.trustForwardHeader).toBe(false);
    const entryPoints = objectAt(parse(STATIC), 'entryPoints');
    for (const [name, entryPoint] of Object.entries(entryPoints)) {
      expect(at(entryPoint, 'forwardedHeaders', 'insecure') ?? false, name).toBe(false);
    }
  });

  it('copies exactly the four identity headers from a 2xx onto the request', () => {
    expect([...asList(forwardAuth.authResponseHeaders)].sort()).toEqual([...IDENTITY_HEADERS].sort());
    // A regex would also strip and copy other headers; keep it explicit.
    expect(forwardAuth.authResponseHeadersRegex).toBeUndefined();
    expect(forwardAuth.addAuthCookiesToResponse).toBeUndefined();
  });

  it('sends the sidecar what it decides on, and not a client Authorization or X-Original-URL', () => {
    const sent = asList(forwardAuth.authRequestHeaders).map((h) => h.toLowerCase());
    for (const needed of ['cookie', 'x-service-token', 'accept', 'sec-fetch-mode', 'x-requested-with']) expect(sent).toContain(needed);
    for (const override of ['x-http-method-override', 'x-http-method', 'x-method-override']) expect(sent).toContain(override);
    for (const forbidden of ['authorization', 'x-original-url', 'x-original-method']) expect(sent).not.toContain(forbidden);
    // Traefik adds X-Forwarded-* after the filter; listing them would add nothing.
    expect(sent.filter((h) => h.startsWith('x-forwarded-'))).toEqual([]);
  });

  it('adds the proxy token before forwardAuth and removes it, and underscore look-alikes, after', () => {
    expect(appRouter.middlewares).toEqual(['passwordless-auth-token', 'passwordless-auth', 'passwordless-auth-cleanup']);
    expect(at(middlewares, 'passwordless-auth-token', 'headers', 'customRequestHeaders')).toEqual({ 'X-Service-Token': TOKEN_TEMPLATE });
    const cleanup = objectAt(middlewares, 'passwordless-auth-cleanup', 'headers', 'customRequestHeaders');
    // An empty value makes Traefik delete the header (matched in any case: Go canonicalises names).
    expect(cleanup).toEqual({ 'X-Service-Token': '', Remote_User: '', Remote_Email: '', Remote_Name: '', Remote_Role: '' });
  });

  it('puts every router that reaches the app behind the middleware chain', () => {
    for (const [name, router] of Object.entries(routers)) {
      if (at(router, 'service') === 'passwordless-auth') continue;
      expect(at(router, 'middlewares'), name).toEqual(appRouter.middlewares);
    }
  });

  it('routes only /login, /login/... and /logout to the sidecar, and never /verify', () => {
    const sidecarRouters = Object.values(routers).filter((router) => at(router, 'service') === 'passwordless-auth');
    const reachesSidecar = (path: string) =>
      sidecarRouters.some((router) => compileRule(String(at(router, 'rule')))('app.example.com', path));
    for (const path of ['/login', '/login/static/style.css', '/logout']) expect(reachesSidecar(path), path).toBe(true);
    for (const path of ['/verify/protected-app', '/verify', '/', '/loginx', '/logout/x', '/device/add', '/healthz']) {
      expect(reachesSidecar(path), path).toBe(false);
    }
    // Higher priority than the app's router (Traefik's default priority is the rule's length).
    expect(Number(loginRouter.priority)).toBeGreaterThan(String(appRouter.rule).length);
    expect(loginRouter.middlewares).toBeUndefined();
  });

  it('has the Docker labels example configure the same thing', () => {
    const compose = parse(LABELS_COMPOSE) as Tree;
    const labels = Object.values(objectAt(compose, 'services')).flatMap((service) => {
      const list = at(service, 'labels');
      return Array.isArray(list) ? list.map(String) : [];
    });
    const fromLabels = labelsToTree(labels);
    const yaml = lowerKeys(at(dynamic, 'http')) as Tree;

    // Middlewares: same options, same values; the token comes from the same variable.
    const labelMiddlewares = objectAt(fromLabels, 'http', 'middlewares');
    expect(Object.keys(labelMiddlewares).sort()).toEqual(Object.keys(objectAt(yaml, 'middlewares')).sort());
    const labelAuth = objectAt(labelMiddlewares, 'passwordless-auth', 'forwardauth');
    const yamlAuth = objectAt(yaml, 'middlewares', 'passwordless-auth', 'forwardauth');
    expect(Object.keys(labelAuth).sort()).toEqual(Object.keys(yamlAuth).sort());
    expect(labelAuth.address).toBe(yamlAuth.address);
    expect(labelAuth.trustforwardheader).toBe(String(yamlAuth.trustforwardheader));
    expect(asList(labelAuth.authrequestheaders)).toEqual(asList(yamlAuth.authrequestheaders));
    expect(asList(labelAuth.authresponseheaders)).toEqual(asList(yamlAuth.authresponseheaders));
    for (const name of ['passwordless-auth-token', 'passwordless-auth-cleanup']) {
      const fromLabel = objectAt(labelMiddlewares, name, 'headers', 'customrequestheaders');
      const fromYaml = objectAt(yaml, 'middlewares', name, 'headers', 'customrequestheaders');
      expect(Object.keys(fromLabel).sort(), name).toEqual(Object.keys(fromYaml).sort());
      for (const [header, value] of Object.entries(fromYaml)) {
        if (value === TOKEN_TEMPLATE) expect(String(fromLabel[header])).toMatch(/^\$\{PASSWORDLESS_AUTH_PROXY_TOKEN[:?}]/);
        else expect(fromLabel[header], `${name} ${header}`).toBe(value);
      }
    }

    // Routers: same rule, entry points, priority, service and middleware order.
    for (const name of Object.keys(routers)) {
      const fromLabel = objectAt(fromLabels, 'http', 'routers', name);
      const fromYaml = objectAt(yaml, 'routers', name);
      expect(fromLabel.rule, name).toBe(fromYaml.rule);
      expect(fromLabel.service, name).toBe(fromYaml.service);
      expect(asList(fromLabel.entrypoints), name).toEqual(asList(fromYaml.entrypoints));
      expect(asList(fromLabel.middlewares), name).toEqual(asList(fromYaml.middlewares));
      expect(fromLabel.priority, name).toBe(fromYaml.priority === undefined ? undefined : String(fromYaml.priority));
      expect(fromLabel.tls, name).toBe('true');
    }
    expect(Object.keys(objectAt(fromLabels, 'http', 'routers')).sort()).toEqual(Object.keys(routers).sort());

    // Services: the same ports behind the same names.
    for (const name of Object.keys(services)) {
      const url = new URL(String(at(services, name, 'loadBalancer', 'servers', '0', 'url')));
      expect(at(fromLabels, 'http', 'services', name, 'loadbalancer', 'server', 'port'), name).toBe(url.port || '80');
    }
  });
});
