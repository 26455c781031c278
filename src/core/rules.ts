// Access rules: a service's ordered list, checked field by field when written, compiled once into a matcher, and
// evaluated per request with no I/O (first match wins). Free of HTTP and SQL.
//
// Glob semantics of path patterns: `*` stands for any characters of one segment (never `/`), `**` for any number
// of whole segments, zero included (`/admin/**` matches `/admin`, `/admin/` and `/admin/a/b`); a pattern without
// either matches that path only. Patterns are written in canonical form (see request-path.ts). A `public` rule
// matches only a request whose raw path is already canonical, exactly (case included); every other rule matches
// the canonical path without regard to case, with or without a trailing `/`.
import { BlockList, isIP } from 'node:net';
import { canonicalEmail } from './identity.js';
import type { StoredRule } from './model.js';
import { normalizeRequestPath, type RequestPath } from './request-path.js';

export type Policy =
  | { readonly kind: 'public' }
  | { readonly kind: 'deny' }
  | { readonly kind: 'signed-in' }
  | { readonly kind: 'passkey' }
  | { readonly kind: 'recent'; readonly minutes: number };

const POLICIES = ['public', 'deny', 'signed-in', 'passkey'] as const;
/** A year: anything longer is no "recent" at all. */
const MAX_RECENT_MINUTES = 525_600;

/** `public`, `deny`, `signed-in`, `passkey`, or `recent:<minutes>` (also `recent <minutes>`). */
export function parsePolicy(text: string): Policy | undefined {
  const t = text.trim();
  for (const kind of POLICIES) if (t === kind) return { kind };
  const m = /^recent[: ]([1-9][0-9]{0,5})$/.exec(t);
  if (!m) return undefined;
  const minutes = Number(m[1]);
  return minutes <= MAX_RECENT_MINUTES ? { kind: 'recent', minutes } : undefined;
}

function policyText(p: Policy): string {
  return p.kind === 'recent' ? `recent:${p.minutes}` : p.kind;
}

/** Group names: like service names, ASCII and case-sensitive. */
const GROUP_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function isGroupName(name: unknown): name is string {
  return typeof name === 'string' && GROUP_NAME.test(name);
}

/** At most this many `**` in one pattern: each one multiplies what a match may try. */
const MAX_DOUBLE_STARS = 3;
const MAX_PATTERN_LENGTH = 1024;
/** What a rule may list of each; more is a mistake, not a policy. */
const MAX_ITEMS = 100;
const METHOD = /^[A-Z]{1,20}$/;

/** A rule's fields as written (CLI flags, a policy file): a stored rule's, without where and when it is kept. */
export type RuleInput = Pick<StoredRule, 'paths' | 'methods' | 'networks' | 'users' | 'groups' | 'policy'>;

export type RuleCheck =
  | { readonly ok: true; readonly rule: RuleInput }
  | { readonly ok: false; readonly field: keyof RuleInput; readonly message: string };

/** Why a path pattern is not one, or `undefined` when it is. */
function patternProblem(pattern: string): string | undefined {
  if (pattern.length === 0 || pattern.length > MAX_PATTERN_LENGTH) return `must be 1 to ${MAX_PATTERN_LENGTH} characters`;
  if (!pattern.startsWith('/')) return 'must start with /';
  const segments = pattern.split('/').slice(1);
  let doubles = 0;
  for (const s of segments) {
    if (s === '**') doubles++;
    else if (s.includes('**')) return '** must be a whole segment';
  }
  if (doubles > MAX_DOUBLE_STARS) return `at most ${MAX_DOUBLE_STARS} ** in one pattern`;
  // The pattern with its wildcards filled in must be a canonical path: it then means what requests mean.
  const filled = segments.map((s) => (s === '**' ? 'x' : s.replaceAll('*', 'x'))).join('/');
  const normal = normalizeRequestPath(`/${filled}`);
  if (normal === undefined || !normal.canonical || /[?#]/.test(pattern)) {
    return 'must be a canonical path (no //, ., .., ;, query, escapes of unreserved characters, lower-case escapes)';
  }
  return undefined;
}

/** `10.0.0.0/8`, `2001:db8::/32`, or one address. */
function networkProblem(network: string): string | undefined {
  const [addr = '', bits, extra] = network.split('/');
  const family = isIP(addr);
  if (family === 0 || extra !== undefined) return 'must be an IPv4 or IPv6 address or CIDR block';
  if (bits === undefined) return undefined;
  const max = family === 4 ? 32 : 128;
  if (!/^[0-9]{1,3}$/.test(bits) || Number(bits) > max) return `prefix length must be 0 to ${max}`;
  return undefined;
}

const trimmed = (items: readonly string[]) => items.map((s) => s.trim()).filter((s) => s !== '');

/** Checks every field of a rule and answers it in its stored form, or the first field that is wrong and why. */
export function checkRule(input: RuleInput): RuleCheck {
  const fail = (field: keyof RuleInput, message: string): RuleCheck => ({ ok: false, field, message });
  const paths = trimmed(input.paths);
  const methods = trimmed(input.methods).map((m) => m.toUpperCase());
  const networks = trimmed(input.networks);
  const groups = trimmed(input.groups);
  const users: string[] = [];
  for (const [field, list] of [
    ['paths', paths],
    ['methods', methods],
    ['networks', networks],
    ['users', input.users],
    ['groups', groups],
  ] as const) {
    if (list.length > MAX_ITEMS) return fail(field, `at most ${MAX_ITEMS} entries`);
  }
  for (const p of paths) {
    const problem = patternProblem(p);
    if (problem) return fail('paths', `${JSON.stringify(p)} ${problem}`);
  }
  for (const m of methods) if (!METHOD.test(m)) return fail('methods', `${JSON.stringify(m)} is not an HTTP method`);
  for (const n of networks) {
    const problem = networkProblem(n);
    if (problem) return fail('networks', `${JSON.stringify(n)} ${problem}`);
  }
  for (const u of trimmed(input.users)) {
    const email = canonicalEmail(u);
    if (email === undefined) return fail('users', `${JSON.stringify(u)} is not an email address`);
    users.push(email);
  }
  for (const g of groups) if (!isGroupName(g)) return fail('groups', `${JSON.stringify(g)} is not a group name`);
  const policy = parsePolicy(input.policy);
  if (!policy) return fail('policy', `${JSON.stringify(input.policy)} is not one of public, deny, signed-in, passkey, recent:<minutes>`);
  if (policy.kind === 'public' && (users.length > 0 || groups.length > 0)) {
    return fail('policy', 'public cannot have users or groups: a public path needs no sign-in to tell who is asking');
  }
  const uniq = (xs: readonly string[]) => [...new Set(xs)];
  return {
    ok: true,
    rule: {
      paths: uniq(paths),
      methods: uniq(methods),
      networks: uniq(networks),
      users: uniq(users),
      groups: uniq(groups),
      policy: policyText(policy),
    },
  };
}

// --- The compiled matcher ----------------------------------------------------------------------------------

export interface CompiledRule {
  readonly id: number;
  readonly policy: Policy;
  /** The rule as stored, for explanations. */
  readonly source: StoredRule;
  readonly methods: ReadonlySet<string> | undefined;
  /** Exact, for `public`: the raw path must be canonical. */
  readonly strict: RegExp | undefined;
  /** Case-insensitive, trailing `/` optional: every other policy. */
  readonly loose: RegExp | undefined;
  /**
   * A literal start every matching path has (the patterns' common text before any `*`, without a trailing `/`),
   * as written and lower-cased: a cheap test that spares most rules their regular expression.
   */
  readonly prefix: string;
  readonly lowerPrefix: string;
  readonly networks: BlockList | undefined;
  readonly users: ReadonlySet<string> | undefined;
  readonly groups: ReadonlySet<string> | undefined;
}

/** Who is asking, once the device is known: what subject rules match on. */
export interface Subject {
  readonly email: string;
  readonly groups: readonly string[];
}

/** What a rule matches a request on. `path` is `undefined` when the request's path was unreadable. */
export interface RequestFacts {
  readonly path: RequestPath | undefined;
  /** Upper case. */
  readonly method: string;
  /** The method was sent in upper case: a lower-case one (which some proxies pass on) never meets `public`. */
  readonly methodCanonical?: boolean;
  /**
   * The request names another method in a method-override header (`X-HTTP-Method-Override`, `X-HTTP-Method`,
   * `X-Method-Override`), which an app that honours it runs instead: rules that look at methods then refuse.
   */
  readonly methodOverridden?: boolean;
  readonly client: string | undefined;
}

/**
 * What reading a request's facts must include for a service's rules (a `RuleMatcher` is one): the client's address
 * when some rule looks at networks, the method-override headers when some rule looks at methods.
 */
export interface FactNeeds {
  readonly usesNetworks: boolean;
  readonly usesMethods: boolean;
}

/** The evaluation needs to know who is asking to go on (the first candidate names users or groups). */
export const NEEDS_SUBJECT = 'needs-subject';

function escapeRegExp(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}

function globSource(pattern: string): string {
  let out = '';
  for (const segment of pattern.split('/').slice(1)) {
    if (segment === '**') out += '(?:/[^/]*)*';
    else if (segment === '*') out += '/[^/]+';
    else out += `/${segment.split('*').map(escapeRegExp).join('[^/]*')}`;
  }
  return out;
}

function networkList(networks: readonly string[]): BlockList | undefined {
  if (networks.length === 0) return undefined;
  const list = new BlockList();
  for (const n of networks) {
    const [addr = '', bits] = n.split('/');
    const type = isIP(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list;
}

/** One stored rule, compiled; `undefined` when it no longer passes `checkRule` (it is then never applied). */
function compileRule(stored: StoredRule): CompiledRule | undefined {
  const checked = checkRule(stored);
  if (!checked.ok) return undefined;
  const r = checked.rule;
  const policy = parsePolicy(r.policy) as Policy;
  const sources = r.paths.map(globSource);
  const prefix = commonPrefix(r.paths.map((p) => p.split('*', 1)[0] as string)).replace(/\/$/, '');
  const alternatives = sources.length === 1 ? sources[0] : `(?:${sources.join('|')})`;
  return {
    id: stored.id,
    policy,
    source: stored,
    // HEAD is served by GET handlers almost everywhere: a rule for GET covers it too.
    methods: r.methods.length > 0 ? new Set(r.methods.includes('GET') ? [...r.methods, 'HEAD'] : r.methods) : undefined,
    strict: sources.length > 0 ? new RegExp(`^${alternatives}$`) : undefined,
    loose: sources.length > 0 ? new RegExp(`^${alternatives}/?$`, 'i') : undefined,
    prefix,
    lowerPrefix: prefix.toLowerCase(),
    networks: networkList(r.networks),
    users: r.users.length > 0 ? new Set(r.users) : undefined,
    groups: r.groups.length > 0 ? new Set(r.groups) : undefined,
  };
}

function commonPrefix(texts: readonly string[]): string {
  if (texts.length === 0) return '';
  let prefix = texts[0] as string;
  for (const t of texts) while (!t.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix;
}

/** The address family for `BlockList.check`, with IPv4-mapped IPv6 addresses seen as the IPv4 address they are. */
function inNetworks(list: BlockList, client: string): boolean {
  const family = isIP(client);
  if (family === 4) return list.check(client, 'ipv4');
  if (family !== 6) return false;
  if (client.length > 7 && client.slice(0, 7).toLowerCase() === '::ffff:' && isIP(client.slice(7)) === 4) {
    return list.check(client.slice(7), 'ipv4') || list.check(client, 'ipv6');
  }
  return list.check(client, 'ipv6');
}

/** A service's rules, compiled once; `match` is the per-request evaluation. */
export class RuleMatcher {
  readonly rules: readonly CompiledRule[];
  /** Whether any rule looks at the path: an unreadable path then fails closed. */
  readonly usesPaths: boolean;
  /** Whether any rule looks at the method: a method-override header then fails closed. */
  readonly usesMethods: boolean;
  /** Whether any rule looks at the client's address, so it is worth reading. */
  readonly usesNetworks: boolean;
  /** Rules that could not be compiled (changed validation, a hand-edited row): never applied, reported. */
  readonly skipped: readonly StoredRule[];

  constructor(stored: readonly StoredRule[]) {
    const rules: CompiledRule[] = [];
    const skipped: StoredRule[] = [];
    for (const s of stored) {
      const c = compileRule(s);
      if (c) rules.push(c);
      else skipped.push(s);
    }
    this.rules = rules;
    this.skipped = skipped;
    this.usesPaths = rules.some((r) => r.strict !== undefined);
    this.usesMethods = rules.some((r) => r.methods !== undefined);
    this.usesNetworks = rules.some((r) => r.networks !== undefined);
  }

  get isEmpty(): boolean {
    return this.rules.length === 0;
  }

  /**
   * The first rule matching the request, `undefined` when none does, or `NEEDS_SUBJECT` when `subject` is not
   * known yet (`undefined`) and the first candidate names users or groups. `null` as the subject: nobody is
   * signed in, so rules naming users or groups do not match. The path must be readable when `usesPaths`.
   */
  match(facts: RequestFacts, subject: Subject | null | undefined): CompiledRule | typeof NEEDS_SUBJECT | undefined {
    const path = facts.path;
    let lower: string | undefined;
    for (const rule of this.rules) {
      if (rule.methods !== undefined && !rule.methods.has(facts.method)) continue;
      if (rule.policy.kind === 'public' && facts.methodCanonical === false) continue;
      if (rule.strict !== undefined) {
        if (path === undefined) continue;
        if (rule.policy.kind === 'public') {
          if (!path.canonical || !path.path.startsWith(rule.prefix) || !rule.strict.test(path.path)) continue;
        } else {
          lower ??= path.path.toLowerCase();
          if (!lower.startsWith(rule.lowerPrefix) || !(rule.loose as RegExp).test(path.path)) continue;
        }
      }
      if (rule.networks !== undefined && (facts.client === undefined || !inNetworks(rule.networks, facts.client))) continue;
      if (rule.users !== undefined || rule.groups !== undefined) {
        if (subject === undefined) return NEEDS_SUBJECT;
        if (subject === null || !subjectMatches(rule, subject)) continue;
      }
      return rule;
    }
    return undefined;
  }
}

function subjectMatches(rule: CompiledRule, subject: Subject): boolean {
  if (rule.users?.has(subject.email)) return true;
  if (rule.groups !== undefined) for (const g of subject.groups) if (rule.groups.has(g)) return true;
  return false;
}

/** A rule for people: `#3 passkey /admin/** GET,POST from 10.0.0.0/8 for group ops`. */
export function describeRule(r: Pick<StoredRule, 'id' | 'paths' | 'methods' | 'networks' | 'users' | 'groups' | 'policy'>): string {
  const parts = [`#${r.id}`, r.policy, r.paths.length > 0 ? r.paths.join(',') : 'any path'];
  if (r.methods.length > 0) parts.push(r.methods.join(','));
  if (r.networks.length > 0) parts.push(`from ${r.networks.join(',')}`);
  const who = [...r.users, ...r.groups.map((g) => `group ${g}`)];
  if (who.length > 0) parts.push(`for ${who.join(', ')}`);
  return parts.join(' ');
}
