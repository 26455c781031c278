// The declarative policy file: groups (members, grants) and, per service, user grants and the ordered rules.
// `readPolicy` checks a file completely (YAML, size, depth, every field) and names the line of the first problem;
// `policyText` writes the current state as such a file. Free of HTTP and SQL; the YAML library only parses text.
import { isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, stringify } from 'yaml';
import { canonicalEmail, isServiceName, normaliseScope } from './identity.js';
import { checkRule, isGroupName, type RuleInput } from './rules.js';

/** Larger files are refused before they are parsed. */
export const MAX_POLICY_BYTES = 1_000_000;
/** Deeper nesting is refused: the format itself needs 5 levels. */
const MAX_DEPTH = 8;

interface PolicyGroup {
  readonly name: string;
  /** Canonical emails. */
  readonly members: readonly string[];
  /** Service name → scope. */
  readonly grants: ReadonlyMap<string, string>;
}

interface PolicyService {
  readonly name: string;
  /** Canonical email → scope. */
  readonly grants: ReadonlyMap<string, string>;
  readonly rules: readonly RuleInput[];
}

export interface Policy {
  readonly groups: readonly PolicyGroup[];
  readonly services: readonly PolicyService[];
  /** Where the file first names `service:<name>` and `user:<email>`, for errors found against the database. */
  readonly lines?: ReadonlyMap<string, number>;
}

/** A problem in the file, with the line it is on (1-based; 0 when the file as a whole is wrong). */
export class PolicyError extends Error {
  override readonly name = 'PolicyError';
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(line > 0 ? `line ${line}: ${message}` : message);
  }
}

const RULE_KEYS = new Set(['paths', 'methods', 'networks', 'users', 'groups', 'policy']);

/** Parses and checks a policy file; throws `PolicyError` naming the line of the first problem. */
export function readPolicy(text: string): Policy {
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES) throw new PolicyError(0, `the file is larger than ${MAX_POLICY_BYTES} bytes`);
  const lines = new LineCounter();
  // No aliases (`*x`): a policy never needs them, and they are how small YAML files grow huge.
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const lineOf = (node: Node | null | undefined): number => (node?.range ? lines.linePos(node.range[0]).line : 0);
  const firstError = doc.errors[0];
  if (firstError) {
    const line = firstError.linePos?.[0]?.line ?? lines.linePos(firstError.pos[0]).line;
    throw new PolicyError(line, `not valid YAML: ${firstError.message.split('\n')[0]}`);
  }
  const fail = (node: Node | null | undefined, message: string): never => {
    throw new PolicyError(lineOf(node), message);
  };

  depthCheck(doc.contents as Node | null, 0, fail);

  const root = doc.contents;
  if (root === null || root === undefined) return { groups: [], services: [] };
  if (!isMap(root)) return fail(root as Node, 'the file must be a map with `groups` and `services`');

  const entries = (node: unknown, what: string): Array<[string, Node | null, Node]> => {
    if (node === null || node === undefined) return [];
    if (!isMap(node)) return fail(node as Node, `${what} must be a map`);
    return node.items.map((pair) => {
      const key = pair.key as Node;
      if (!isScalar(key) || typeof key.value !== 'string') return fail(key, `${what}: keys must be names`);
      return [key.value, (pair.value as Node | null) ?? null, key] as [string, Node | null, Node];
    });
  };
  const text_ = (node: Node | null, what: string): string => {
    if (node === null) return '';
    if (!isScalar(node) || (typeof node.value !== 'string' && typeof node.value !== 'number')) return fail(node, `${what} must be text`);
    return String(node.value);
  };
  const list = (node: Node | null, what: string): string[] => {
    if (node === null) return [];
    if (isScalar(node)) return [text_(node, what)];
    if (!isSeq(node)) return fail(node, `${what} must be a list`);
    return node.items.map((item) => text_(item as Node, what));
  };
  const scope = (node: Node | null, what: string): string => {
    const value =
      node !== null && isMap(node) ? text_((node.get('scope', true) as Node | undefined) ?? null, `${what}.scope`) : text_(node, what);
    const scoped = normaliseScope(value);
    if ('unknown' in scoped) return fail(node, `${what}: unknown scope ${scoped.unknown.join(', ')}`);
    return scoped.scope;
  };

  const where = new Map<string, number>();
  const mention = (key: string, node: Node | null) => {
    if (!where.has(key)) where.set(key, lineOf(node));
  };

  for (const [key, , keyNode] of entries(root, 'the file')) {
    if (key !== 'groups' && key !== 'services') fail(keyNode, `unknown key ${key} (expected groups, services)`);
  }

  const groups: PolicyGroup[] = [];
  for (const [name, body, keyNode] of entries(root.get('groups', true), 'groups')) {
    if (!isGroupName(name)) fail(keyNode, `groups: ${JSON.stringify(name)} is not a group name`);
    const members: string[] = [];
    const grants = new Map<string, string>();
    for (const [field, value, fieldNode] of entries(body, `group ${name}`)) {
      if (field === 'members') {
        for (const m of list(value, `group ${name} members`)) {
          const email = canonicalEmail(m);
          if (email === undefined) fail(value, `group ${name} members: ${JSON.stringify(m)} is not an email address`);
          else {
            members.push(email);
            mention(`user:${email}`, value);
          }
        }
      } else if (field === 'grants') {
        for (const [service, s, serviceNode] of entries(value, `group ${name} grants`)) {
          if (!isServiceName(service)) fail(serviceNode, `group ${name} grants: ${JSON.stringify(service)} is not a service name`);
          mention(`service:${service}`, serviceNode);
          grants.set(service, scope(s, `group ${name} grants ${service}`));
        }
      } else fail(fieldNode, `group ${name}: unknown key ${field} (expected members, grants)`);
    }
    groups.push({ name, members: [...new Set(members)], grants });
  }
  const groupNames = new Set(groups.map((g) => g.name));

  const services: PolicyService[] = [];
  for (const [name, body, keyNode] of entries(root.get('services', true), 'services')) {
    if (!isServiceName(name)) fail(keyNode, `services: ${JSON.stringify(name)} is not a service name`);
    mention(`service:${name}`, keyNode);
    const grants = new Map<string, string>();
    const rules: RuleInput[] = [];
    for (const [field, value, fieldNode] of entries(body, `service ${name}`)) {
      if (field === 'grants') {
        for (const [email, s, emailNode] of entries(value, `service ${name} grants`)) {
          const canonical = canonicalEmail(email);
          if (canonical === undefined) fail(emailNode, `service ${name} grants: ${JSON.stringify(email)} is not an email address`);
          else {
            grants.set(canonical, scope(s, `service ${name} grants ${email}`));
            mention(`user:${canonical}`, emailNode);
          }
        }
      } else if (field === 'rules') {
        if (value === null) continue;
        if (!isSeq(value)) fail(value, `service ${name} rules must be a list`);
        for (const item of (value as { items: unknown[] }).items) {
          const ruleNode = item as Node;
          const fields: Record<string, string[] | string> = {};
          for (const [k, v, kNode] of entries(ruleNode, `service ${name} rule`)) {
            if (!RULE_KEYS.has(k)) fail(kNode, `service ${name} rule: unknown key ${k} (expected ${[...RULE_KEYS].join(', ')})`);
            fields[k] = k === 'policy' ? text_(v, `service ${name} rule policy`) : list(v, `service ${name} rule ${k}`);
          }
          const input: RuleInput = {
            paths: (fields.paths as string[] | undefined) ?? [],
            methods: (fields.methods as string[] | undefined) ?? [],
            networks: (fields.networks as string[] | undefined) ?? [],
            users: (fields.users as string[] | undefined) ?? [],
            groups: (fields.groups as string[] | undefined) ?? [],
            policy: (fields.policy as string | undefined) ?? '',
          };
          const checked = checkRule(input);
          if (!checked.ok) fail(ruleNode, `service ${name} rule, ${checked.field}: ${checked.message}`);
          else {
            const unknown = checked.rule.groups.find((g) => !groupNames.has(g));
            if (unknown !== undefined) fail(ruleNode, `service ${name} rule, groups: no group ${unknown} in this file`);
            for (const u of checked.rule.users) mention(`user:${u}`, ruleNode);
            rules.push(checked.rule);
          }
        }
      } else fail(fieldNode, `service ${name}: unknown key ${field} (expected grants, rules)`);
    }
    services.push({ name, grants, rules });
  }
  return { groups, services, lines: where };
}

function depthCheck(node: Node | null, depth: number, fail: (node: Node | null, message: string) => never): void {
  if (node === null) return;
  if (depth > MAX_DEPTH) fail(node, `nested deeper than ${MAX_DEPTH} levels`);
  if (isAlias(node)) fail(node, 'aliases (*name) are not allowed in a policy file');
  if (isMap(node)) for (const pair of node.items) depthCheck((pair.value as Node | null) ?? null, depth + 1, fail);
  else if (isSeq(node)) for (const item of node.items) depthCheck(item as Node, depth + 1, fail);
}

/** A policy as a file `readPolicy` reads back to the same policy. */
export function policyText(policy: Policy): string {
  const rule = (r: RuleInput) => {
    const out: Record<string, unknown> = {};
    for (const key of ['paths', 'methods', 'networks', 'users', 'groups'] as const) if (r[key].length > 0) out[key] = [...r[key]];
    out.policy = r.policy;
    return out;
  };
  const data = {
    groups: Object.fromEntries(policy.groups.map((g) => [g.name, { members: [...g.members], grants: Object.fromEntries(g.grants) }])),
    services: Object.fromEntries(policy.services.map((s) => [s.name, { grants: Object.fromEntries(s.grants), rules: s.rules.map(rule) }])),
  };
  return `# passwordless-auth access policy: \`policy apply FILE\` makes the database match it (see README, "Access rules").\n${stringify(data)}`;
}
