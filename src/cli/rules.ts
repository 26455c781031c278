// `group …`, `rule …` and `access check`: groups of users, each service's access rules, and why a request is
// answered the way it is.
import { readFileSync, statSync } from 'node:fs';
import type { AccessExplanation } from '../core/access-admin.js';
import { AdminError } from '../core/admin-tools.js';
import type { StoredRule } from '../core/model.js';
import { MAX_POLICY_BYTES } from '../core/policy.js';
import { describeRule } from '../core/rules.js';
import { type Command, many, need, one, UsageError } from './command.js';
import { iso, table } from './format.js';

const POLICIES = 'public|deny|signed-in|passkey|recent:N';

const ruleJson = (r: StoredRule & { service: string }) => ({
  id: r.id,
  service: r.service,
  position: r.position,
  paths: r.paths,
  methods: r.methods,
  networks: r.networks,
  users: r.users,
  groups: r.groups,
  policy: r.policy,
  createdAt: iso(r.createdAt),
});

const groupAndEmail = ({ values }: { values: Record<string, unknown> }) => ({
  ...(typeof values.email === 'string' ? { email: values.email } : {}),
  ...(Array.isArray(values.group) ? { group: values.group.join(',') } : {}),
});

function positiveInteger(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[1-9][0-9]{0,9}$/.test(text)) throw new UsageError(`--${option} must be a rule id (a positive whole number)`);
  return Number(text);
}

export const groupCommands: readonly Command[] = [
  {
    name: 'group add',
    synopsis: 'NAME',
    summary: 'add a group of users',
    help: 'Adds a group. Groups may be granted services (grant --group) and named by access rules (rule add --group).',
    audit: { event: 'admin.group.added', fields: ({ positionals }) => ({ group: positionals[0] }) },
    async run({ runtime, args: { positionals }, out }) {
      const group = await (await runtime()).admin.addGroup(one(positionals, 'group name'));
      out.result({ id: group.id, name: group.name }, `Added group ${group.name}.`);
    },
  },
  {
    name: 'group remove',
    synopsis: 'NAME [--yes]',
    summary: 'remove a group with its memberships and grants',
    help: 'Removes a group with its memberships and grants. Refused while a rule names it. Asks first unless --yes.',
    confirm: ({ positionals }) => `Remove group ${String(positionals[0])} with its memberships and grants?`,
    audit: { event: 'admin.group.removed', fields: ({ positionals }) => ({ group: positionals[0] }) },
    async run({ runtime, args: { positionals }, out }) {
      const name = one(positionals, 'group name');
      await (await runtime()).admin.removeGroup(name);
      out.result({ removed: name }, `Removed group ${name}.`);
    },
  },
  {
    name: 'group list',
    synopsis: '',
    summary: 'list groups with their members and grants',
    help: 'Lists groups with their members and the services they are granted.',
    async run({ runtime, out }) {
      const groups = await (await runtime()).admin.listGroups();
      out.result(
        groups.map((g) => ({ id: g.id, name: g.name, members: g.members, grants: g.grants, createdAt: iso(g.createdAt) })),
        groups.length === 0
          ? 'No groups.'
          : table([
              ['GROUP', 'MEMBERS', 'GRANTS'],
              ...groups.map((g) => [
                g.name,
                g.members.join(',') || '-',
                g.grants.map((x) => (x.scope ? `${x.service} (${x.scope})` : x.service)).join(', ') || '-',
              ]),
            ]),
      );
    },
  },
  {
    name: 'group member',
    synopsis: 'add|remove --email E --group G',
    summary: 'add a user to a group, or remove them',
    help: 'group member add --email E --group G adds the user to the group; group member remove takes them out.',
    audit: {
      event: 'admin.group.member.changed',
      fields: (args) => ({ change: args.positionals[0], ...groupAndEmail(args) }),
    },
    async run({ runtime, args: { positionals, values }, out }) {
      const change = one(positionals, 'add or remove');
      const email = need(values, 'email');
      const group = need(values, 'group');
      const admin = (await runtime()).admin;
      if (change === 'add') {
        const added = await admin.addMember({ email, group });
        out.result({ email, group, added }, added ? `Added ${email} to ${group}.` : `${email} already is in ${group}.`);
      } else if (change === 'remove') {
        await admin.removeMember({ email, group });
        out.result({ email, group, removed: true }, `Removed ${email} from ${group}.`);
      } else throw new UsageError('group member needs add or remove');
    },
  },
];

export const ruleCommands: readonly Command[] = [
  {
    name: 'rule add',
    synopsis: `--service S [--path P]... [--method M]... [--network CIDR]... [--group G]... [--user EMAIL]... --policy ${POLICIES} [--before ID]`,
    summary: "add an access rule to a service's list (first match wins)",
    help:
      "Adds a rule at the end of the service's list, or just before rule --before. Each flag may be repeated or\n" +
      'given a comma-separated list; a rule matches when every field it has matches (any path, any method, ...).\n' +
      'Paths: /admin (exact), /admin/** (anything under it, and itself), /api/*/hooks (* = one segment).\n' +
      'Policies: public (no sign-in), deny (403), signed-in (a grant, as without rules), passkey (and signed in\n' +
      'with a passkey), recent:N (and signed in within N minutes). Nothing is written if a field is wrong.',
    options: {
      path: { type: 'string', multiple: true },
      method: { type: 'string', multiple: true },
      network: { type: 'string', multiple: true },
      group: { type: 'string', multiple: true },
      user: { type: 'string', multiple: true },
      policy: { type: 'string' },
      before: { type: 'string' },
    },
    audit: {
      event: 'admin.rule.added',
      fields: ({ values }) => ({ serviceName: values.service, policy: values.policy }),
    },
    async run({ runtime, args: { values }, out }) {
      const rule = await (await runtime()).admin.addRule({
        service: need(values, 'service'),
        paths: many(values, 'path'),
        methods: many(values, 'method'),
        networks: many(values, 'network'),
        groups: many(values, 'group'),
        users: many(values, 'user'),
        policy: need(values, 'policy'),
        before: positiveInteger(values.before as string | undefined, 'before'),
      });
      out.result(ruleJson({ ...rule, service: String(values.service) }), `Added rule ${describeRule(rule)}.`);
    },
  },
  {
    name: 'rule list',
    synopsis: '[--service S]',
    summary: "list a service's access rules in order (or every service's)",
    help: 'Lists access rules in the order they are tried: the first that matches a request decides.',
    async run({ runtime, args: { values }, out }) {
      const rules = await (await runtime()).admin.listRules(values.service as string | undefined);
      out.result(
        rules.map(ruleJson),
        rules.length === 0
          ? 'No rules: every request needs a grant (or an admin), as without rules.'
          : table([['ID', 'SERVICE', 'RULE'], ...rules.map((r) => [String(r.id), r.service, describeRule(r).replace(/^#\d+ /, '')])]),
      );
    },
  },
  {
    name: 'rule remove',
    synopsis: '--id N [--yes]',
    summary: 'remove an access rule',
    help: 'Removes the rule with that id (see rule list). Asks first unless --yes.',
    confirm: ({ values }) => `Remove rule #${String(values.id)}?`,
    audit: { event: 'admin.rule.removed', fields: ({ values }) => ({ rule: values.id }) },
    async run({ runtime, args: { values }, out }) {
      const id = positiveInteger(need(values, 'id'), 'id') as number;
      await (await runtime()).admin.removeRule(id);
      out.result({ removed: id }, `Removed rule #${id}.`);
    },
  },
  {
    name: 'access check',
    synopsis: '--service S --url URL [--method M] [--ip IP] [--email E | --device D]',
    summary: 'explain the decision for a request: which rule made it, and why',
    help:
      'Says what /verify would answer for a request to URL (a full URL or a path) of service S: the decision, the rule\n' +
      'that made it (or "no rule matched: grant") and why. --ip is the client address; --email asks as that user,\n' +
      '--device as that device (then how and when it signed in count). Nothing is changed.',
    // `method` is repeatable for `rule add`; options are shared by every command, so it is declared the same here.
    options: { url: { type: 'string' }, method: { type: 'string', multiple: true }, ip: { type: 'string' }, device: { type: 'string' } },
    async run({ runtime, args: { values }, out }) {
      if (values.email !== undefined && values.device !== undefined) throw new UsageError('give --email or --device, not both');
      const checked: AccessExplanation = await (await runtime()).admin.check({
        service: need(values, 'service'),
        url: need(values, 'url'),
        method: values.method === undefined ? undefined : need(values, 'method'),
        ip: values.ip as string | undefined,
        email: values.email as string | undefined,
        device: values.device as string | undefined,
      });
      out.result(checked, [
        `decision: ${checked.decision}`,
        `rule:     ${checked.rule ?? 'no rule matched: grant'}`,
        `path:     ${checked.path ?? '(unreadable)'}`,
        `why:      ${checked.reason}`,
      ]);
    },
  },
];

export const policyCommands: readonly Command[] = [
  {
    name: 'policy export',
    synopsis: '',
    summary: 'print groups, members, grants and rules as a policy file (YAML)',
    help: 'Prints every group (members, grants) and every service (user grants, rules in order) as a policy file.',
    async run({ runtime, out, io }) {
      const text = await (await runtime()).admin.exportPolicy();
      if (out.json) out.result({ policy: text }, text);
      else io.stdout.write(text);
    },
  },
  {
    name: 'policy apply',
    synopsis: 'FILE [--dry-run]',
    summary: 'make groups, members, grants and rules match a policy file (one transaction)',
    help:
      'Makes the database match FILE in one transaction: groups not in it are removed, each service it names gets\n' +
      'exactly its user grants and rules (services it does not name are left alone; services and users must exist).\n' +
      '--dry-run prints the differences only. A file with an error changes nothing; the message names its line.',
    options: { 'dry-run': { type: 'boolean' } },
    audit: {
      event: 'admin.policy.applied',
      fields: ({ positionals, values }) => ({ file: positionals[0], dryRun: values['dry-run'] === true }),
    },
    async run({ runtime, args: { positionals, values }, out }) {
      const file = one(positionals, 'policy file');
      let text: string;
      try {
        if (statSync(file).size > MAX_POLICY_BYTES) throw new AdminError(`${file}: the file is larger than ${MAX_POLICY_BYTES} bytes`);
        text = readFileSync(file, 'utf8');
      } catch (err) {
        if (err instanceof AdminError) throw err;
        const code = (err as NodeJS.ErrnoException).code;
        const why =
          code === 'ENOENT'
            ? 'no such file'
            : code === 'EACCES'
              ? 'permission denied'
              : code === 'EISDIR'
                ? 'it is a directory'
                : (code ?? 'error');
        throw new AdminError(`cannot read ${file}: ${why}`);
      }
      const dryRun = values['dry-run'] === true;
      const { changes, applied } = await (await runtime()).admin.applyPolicy(text, dryRun);
      out.result(
        { changes, applied, dryRun },
        changes.length === 0
          ? 'No changes: the database already matches the file.'
          : [...changes, '', dryRun ? `Dry run: ${changes.length} change(s), nothing written.` : `Applied ${changes.length} change(s).`],
      );
    },
  },
];
