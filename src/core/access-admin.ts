// Administration of access rules: groups, their members and grants, each service's rules, and `access check`
// (the decision for a request, the rule that made it, and why). Plain functions over the store; the store records
// every change in the change feed, which drops what it names from every instance's caches.
import type { Clock } from './clock.js';
import { HEX32, type KeyRing } from './crypto.js';
import { signedInWithin } from './devices.js';
import { newGrant } from './grants.js';
import { canonicalEmail, normaliseScope } from './identity.js';
import type { Device, Group, Service, StoredRule, User } from './model.js';
import { type Policy, PolicyError, policyText, readPolicy } from './policy.js';
import type { ResolvedPolicy, Store } from './ports.js';
import { normalizeRequestPath, rawPathOf } from './request-path.js';
import { checkRule, describeRule, isGroupName, NEEDS_SUBJECT, type RuleInput, RuleMatcher } from './rules.js';

interface AccessAdminDeps {
  readonly store: Store;
  readonly keys: KeyRing;
  readonly clock: Clock;
  /** The messages an operator can fix are thrown as this (the CLI prints them as they are). */
  readonly fail: (message: string) => Error;
  readonly userByEmail: (email: string) => Promise<User>;
  readonly serviceByName: (name: string) => Promise<Service>;
}

/** What `access check` answers. */
export interface AccessExplanation {
  /** `allow`, `public`, `deny`, `sign-in` (nobody signed in), `forbidden` (no grant), `step-up`, `fresh-sign-in`. */
  readonly decision: 'allow' | 'public' | 'deny' | 'sign-in' | 'forbidden' | 'step-up' | 'fresh-sign-in';
  /** The rule that made it, as `describeRule` writes it; `null` when no rule matched. */
  readonly rule: string | null;
  readonly ruleId: number | null;
  readonly reason: string;
  /** The canonical path the rules saw (`null`: unreadable). */
  readonly path: string | null;
}

const ruleKey = (r: RuleInput) => JSON.stringify([r.paths, r.methods, r.networks, r.users, r.groups, r.policy]);
const scopeText = (scope: string) => scope || '(no scope)';

/** The differences between two policies, one line each, for `policy apply --dry-run` (and after applying). */
function policyDiff(from: Policy, to: Policy): string[] {
  const out: string[] = [];
  const before = new Map(from.groups.map((g) => [g.name, g]));
  const after = new Map(to.groups.map((g) => [g.name, g]));
  for (const g of from.groups) if (!after.has(g.name)) out.push(`- group ${g.name} (with its members and grants)`);
  for (const g of to.groups) {
    const old = before.get(g.name);
    if (!old) out.push(`+ group ${g.name}`);
    for (const m of g.members) if (!old?.members.includes(m)) out.push(`+ member ${m} of group ${g.name}`);
    for (const m of old?.members ?? []) if (!g.members.includes(m)) out.push(`- member ${m} of group ${g.name}`);
    for (const [service, scope] of g.grants) {
      const was = old?.grants.get(service);
      if (was === undefined) out.push(`+ grant ${service} to group ${g.name}, scope ${scopeText(scope)}`);
      else if (was !== scope) out.push(`~ grant ${service} to group ${g.name}, scope ${scopeText(was)} -> ${scopeText(scope)}`);
    }
    for (const service of old?.grants.keys() ?? []) if (!g.grants.has(service)) out.push(`- grant ${service} to group ${g.name}`);
  }
  const services = new Map(from.services.map((s) => [s.name, s]));
  for (const s of to.services) {
    const old = services.get(s.name);
    for (const [email, scope] of s.grants) {
      const was = old?.grants.get(email);
      if (was === undefined) out.push(`+ grant ${s.name} to ${email}, scope ${scopeText(scope)}`);
      else if (was !== scope) out.push(`~ grant ${s.name} to ${email}, scope ${scopeText(was)} -> ${scopeText(scope)}`);
    }
    for (const email of old?.grants.keys() ?? []) if (!s.grants.has(email)) out.push(`- grant ${s.name} to ${email}`);
    const oldRules = old?.rules ?? [];
    if (oldRules.map(ruleKey).join('\n') !== s.rules.map(ruleKey).join('\n')) {
      out.push(`~ rules of ${s.name}, replaced in this order (${oldRules.length} -> ${s.rules.length}):`);
      s.rules.forEach((r, i) => {
        out.push(`    ${i + 1}. ${describeRule({ id: i + 1, ...r }).replace(/^#\d+ /, '')}`);
      });
    }
  }
  return out;
}

export function createAccessAdmin({ store, keys, clock, fail, userByEmail, serviceByName }: AccessAdminDeps) {
  /** The database's access policy, as a policy file holds it: every group and every service. */
  async function currentPolicy(): Promise<Policy> {
    const [groups, members, groupGrants, users, services, grants, rules] = await Promise.all([
      store.groups.list(),
      store.groups.members(),
      store.groups.grants(),
      store.users.list(),
      store.services.list(),
      store.grants.list(),
      store.rules.list(),
    ]);
    const emails = new Map(users.map((u) => [u.id, u.email]));
    const names = new Map(services.map((s) => [s.id, s.name]));
    return {
      groups: groups.map((g) => ({
        name: g.name,
        members: members.filter((m) => m.groupId === g.id).map((m) => emails.get(m.userId) ?? '?'),
        grants: new Map(groupGrants.filter((x) => x.groupId === g.id).map((x) => [names.get(x.serviceId) ?? '?', x.scope])),
      })),
      services: services.map((s) => ({
        name: s.name,
        grants: new Map(
          grants.filter((g) => g.serviceId === s.id && g.viaGroup !== true).map((g) => [emails.get(g.userId) ?? '?', g.scope]),
        ),
        rules: rules
          .filter((r) => r.serviceId === s.id)
          .map((r) => ({ paths: r.paths, methods: r.methods, networks: r.networks, users: r.users, groups: r.groups, policy: r.policy })),
      })),
    };
  }

  async function groupByName(name: string): Promise<Group> {
    const group = isGroupName(name) ? await store.groups.findByName(name) : undefined;
    if (!group) throw fail(`no group named ${name}`);
    return group;
  }

  /** A rule's fields checked, and the groups and users it names known: the first problem names its field. */
  async function checkedRule(input: RuleInput): Promise<RuleInput> {
    const checked = checkRule(input);
    if (!checked.ok) throw fail(`${checked.field}: ${checked.message}`);
    for (const g of checked.rule.groups) {
      if (!(await store.groups.findByName(g))) throw fail(`groups: no group named ${g}`);
    }
    for (const u of checked.rule.users) {
      if (!(await store.users.findByEmail(u))) throw fail(`users: no user with email ${u}`);
    }
    return checked.rule;
  }

  return {
    async addGroup(name: string): Promise<Group> {
      if (!isGroupName(name)) {
        throw fail(`invalid group name ${JSON.stringify(name)}: use 1-63 of A-Z a-z 0-9 . _ -, starting with a letter or digit`);
      }
      try {
        return await store.groups.create(name, clock.now());
      } catch (err) {
        if (err instanceof Error && err.name === 'ConflictError') throw fail(`a group named ${name} already exists`);
        throw err;
      }
    },

    async removeGroup(name: string): Promise<void> {
      const group = await groupByName(name);
      const usedBy = (await store.rules.list()).filter((r) => r.groups.includes(group.name));
      if (usedBy.length > 0) throw fail(`group ${name} is named by rule ${usedBy.map((r) => `#${r.id}`).join(', ')}: remove those first`);
      await store.groups.delete(group.id);
    },

    /** Every group with its members' emails and the services it is granted. */
    async listGroups(): Promise<Array<Group & { members: string[]; grants: Array<{ service: string; scope: string }> }>> {
      const [groups, members, grants, users, services] = await Promise.all([
        store.groups.list(),
        store.groups.members(),
        store.groups.grants(),
        store.users.list(),
        store.services.list(),
      ]);
      const emails = new Map(users.map((u) => [u.id, u.email]));
      const names = new Map(services.map((s) => [s.id, s.name]));
      return groups.map((g) => ({
        ...g,
        members: members.filter((m) => m.groupId === g.id).map((m) => emails.get(m.userId) ?? '?'),
        grants: grants.filter((x) => x.groupId === g.id).map((x) => ({ service: names.get(x.serviceId) ?? '?', scope: x.scope })),
      }));
    },

    /** Each user's group names, by user id (for `user list`). */
    async groupsByUser(): Promise<Map<number, string[]>> {
      const [groups, members] = await Promise.all([store.groups.list(), store.groups.members()]);
      const names = new Map(groups.map((g) => [g.id, g.name]));
      const byUser = new Map<number, string[]>();
      for (const m of members) byUser.set(m.userId, [...(byUser.get(m.userId) ?? []), names.get(m.groupId) ?? '?']);
      return byUser;
    },

    async addMember(input: { email: string; group: string }): Promise<boolean> {
      const user = await userByEmail(input.email);
      const group = await groupByName(input.group);
      const added = await store.groups.addMember(group.id, user.id, clock.now());
      return added;
    },

    async removeMember(input: { email: string; group: string }): Promise<void> {
      const user = await userByEmail(input.email);
      const group = await groupByName(input.group);
      const removed = await store.groups.removeMember(group.id, user.id);
      if (!removed) throw fail(`${user.email} is not a member of ${group.name}`);
    },

    async grantGroup(input: { group: string; service: string; scope?: string | undefined }): Promise<{ scope: string }> {
      const scoped = normaliseScope(input.scope ?? '');
      if ('unknown' in scoped) throw fail(`unknown scope ${scoped.unknown.join(', ')}; known: read:email, read:username, read:user-role`);
      const group = await groupByName(input.group);
      const service = await serviceByName(input.service);
      await store.groups.grant(group.id, service.id, scoped.scope, clock.now());
      return { scope: scoped.scope };
    },

    async revokeGroup(input: { group: string; service: string }): Promise<void> {
      const group = await groupByName(input.group);
      const service = await serviceByName(input.service);
      const revoked = await store.groups.revoke(group.id, service.id);
      if (!revoked) throw fail(`group ${group.name} has no grant for ${service.name}`);
    },

    async addRule(input: RuleInput & { service: string; before?: number | undefined }): Promise<StoredRule> {
      const service = await serviceByName(input.service);
      const rule = await checkedRule(input);
      const added = await store.rules.add({ serviceId: service.id, ...rule, createdAt: clock.now() }, input.before);
      if (!added) throw fail(`before: no rule #${input.before} for service ${service.name}`);
      return added;
    },

    async listRules(serviceName?: string): Promise<Array<StoredRule & { service: string }>> {
      const services = await store.services.list();
      const names = new Map(services.map((s) => [s.id, s.name]));
      const service = serviceName === undefined ? undefined : await serviceByName(serviceName);
      return (await store.rules.list(service?.id)).map((r) => ({ ...r, service: names.get(r.serviceId) ?? '?' }));
    },

    async removeRule(id: number): Promise<void> {
      const removed = await store.rules.delete(id);
      if (!removed) throw fail(`no rule #${id}`);
    },

    exportPolicy: async (): Promise<string> => policyText(await currentPolicy()),

    /**
     * Makes the database match a policy file, in one transaction; with `dryRun` only says what would change.
     * The file is checked whole first (YAML, size, depth, every field; then its services and users against the
     * database): a file with an error changes nothing, and the error names its line.
     */
    async applyPolicy(text: string, dryRun: boolean): Promise<{ changes: string[]; applied: boolean }> {
      let desired: Policy;
      try {
        desired = readPolicy(text);
      } catch (err) {
        if (err instanceof PolicyError) throw fail(err.message);
        throw err;
      }
      const lineOf = (key: string) => {
        const line = desired.lines?.get(key) ?? 0;
        return line > 0 ? `line ${line}: ` : '';
      };
      const services = new Map((await store.services.list()).map((s) => [s.name, s]));
      const users = new Map((await store.users.list()).map((u) => [u.email, u]));
      const serviceId = (name: string) => {
        const s = services.get(name);
        if (!s) throw fail(`${lineOf(`service:${name}`)}no service named ${name} (add it with service add first)`);
        return s.id;
      };
      const userId = (email: string) => {
        const u = users.get(email);
        if (!u) throw fail(`${lineOf(`user:${email}`)}no user with email ${email}`);
        return u.id;
      };
      const now = clock.now();
      const resolved: ResolvedPolicy = {
        now,
        groups: desired.groups.map((g) => ({
          name: g.name,
          memberIds: g.members.map(userId),
          grants: [...g.grants].map(([service, scope]) => ({ serviceId: serviceId(service), scope })),
        })),
        services: desired.services.map((s) => {
          const id = serviceId(s.name);
          for (const r of s.rules) for (const u of r.users) userId(u);
          return {
            serviceId: id,
            grants: [...s.grants].map(([email, scope]) => newGrant(keys, now, userId(email), id, scope)),
            rules: s.rules.map((r) => ({ serviceId: id, ...r, createdAt: now })),
          };
        }),
      };
      const changes = policyDiff(await currentPolicy(), desired);
      if (dryRun || changes.length === 0) return { changes, applied: false };
      await store.policy.apply(resolved);
      return { changes, applied: true };
    },

    /**
     * What /verify would decide for a request to `url`, and why: the same rules, grants and sign-in facts.
     * With `email` only, the device-dependent policies (`passkey`, `recent:N`) say what a device would need.
     */
    async check(input: {
      service: string;
      url: string;
      method?: string | undefined;
      ip?: string | undefined;
      email?: string | undefined;
      device?: string | undefined;
    }): Promise<AccessExplanation> {
      const service = await serviceByName(input.service);
      const raw = input.url.startsWith('/') ? input.url : rawPathOf(input.url);
      if (raw === undefined) throw fail(`url: not an absolute URL or path: ${input.url}`);
      const matcher = new RuleMatcher(await store.rules.list(service.id));
      const path = normalizeRequestPath(raw);
      const facts = { path, method: (input.method ?? 'GET').toUpperCase(), client: input.ip };
      const pathText = path?.path ?? null;
      const answer = (decision: AccessExplanation['decision'], rule: StoredRule | undefined, reason: string): AccessExplanation => ({
        decision,
        rule: rule ? describeRule(rule) : null,
        ruleId: rule?.id ?? null,
        reason,
        path: pathText,
      });

      let user: User | undefined;
      let device: Device | undefined;
      if (input.device !== undefined) {
        const found = HEX32.test(input.device) ? await store.devices.findWithUser(input.device) : undefined;
        if (!found) throw fail(`device: no device with id ${input.device}`);
        ({ user, device } = found);
      } else if (input.email !== undefined) {
        const email = canonicalEmail(input.email);
        user = email === undefined ? undefined : await store.users.findByEmail(email);
        if (!user) throw fail(`email: no user with email ${input.email}`);
      }

      if (matcher.usesPaths && path === undefined) {
        return answer('deny', undefined, 'the path is unreadable (see "Path normalisation"): refused whatever the rules say');
      }
      const access = user ? await store.groups.accessOf(user.id, service.id) : undefined;
      const subject = user && access ? { email: user.email, groups: access.groups } : null;
      const found = matcher.match(facts, subject);
      const rule = found === undefined || found === NEEDS_SUBJECT ? undefined : found;
      const kind = rule?.policy.kind;
      if (kind === 'public') return answer('public', rule?.source, 'a public rule: no sign-in needed, no identity passed on');
      if (kind === 'deny' && subject === null && matcher.match(facts, undefined) === NEEDS_SUBJECT) {
        return answer(
          'sign-in',
          rule?.source,
          'Nobody is signed in, and a rule naming users or groups comes before this deny rule: the browser is sent to sign in first.',
        );
      }
      if (kind === 'deny') return answer('deny', rule?.source, 'a deny rule: refused for everyone it matches');
      const ruleText = rule ? '' : 'no rule matched: grant. ';
      if (!user || !access) return answer('sign-in', rule?.source, `${ruleText}Nobody is signed in: the browser is sent to sign in.`);
      const own = await store.grants.find(user.id, service.id);
      const how =
        own && own.viaGroup !== true
          ? `${user.email} has a grant`
          : access.scopes.length > 0
            ? `${user.email} is in a group with a grant`
            : user.role === 'admin'
              ? `${user.email} is an admin`
              : undefined;
      if (how === undefined) {
        return answer(
          'forbidden',
          rule?.source,
          `${ruleText}${user.email} has no grant of ${service.name} (nor through a group), and is no admin.`,
        );
      }
      if (rule?.policy.kind === 'passkey') {
        if (!device) return answer('allow', rule.source, `${how}; the device must have signed in with a passkey (else: step-up page).`);
        if (device.signedInWith !== 'passkey') return answer('step-up', rule.source, `${how}, but this device signed in with a code.`);
        return answer('allow', rule.source, `${how}, and this device signed in with a passkey.`);
      }
      if (rule?.policy.kind === 'recent') {
        const limit = `${rule.policy.minutes} minute${rule.policy.minutes === 1 ? '' : 's'}`;
        if (!device)
          return answer('allow', rule.source, `${how}; the device's sign-in must be younger than ${limit} (else: sign in again).`);
        const ageInMinutes = Math.floor((clock.now() - device.signedInAt) / 60_000);
        if (!signedInWithin(device, rule.policy.minutes * 60_000, clock.now())) {
          return answer('fresh-sign-in', rule.source, `${how}, but this device signed in ${ageInMinutes} minutes ago (limit ${limit}).`);
        }
        return answer('allow', rule.source, `${how}, and this device signed in ${ageInMinutes} minutes ago (limit ${limit}).`);
      }
      return answer('allow', rule?.source, `${ruleText}${how}.`);
    },
  };
}
