// The table of CLI commands, in the order the usage lists them. Adding a command is adding its entry here.
import { importReferenceCommand } from '../import/command.js';
import { accessCommands } from './access.js';
import type { Command } from './command.js';
import { doctorCommand } from './doctor.js';
import { passkeyCommands } from './passkeys.js';
import { groupCommands, policyCommands, ruleCommands } from './rules.js';
import { serverCommands } from './server.js';
import { proxyTokenCommands, serviceCommands } from './services.js';
import { userCommands } from './users.js';

const importReference: Command = {
  name: 'import-reference',
  synopsis: '--from mysql://USER:PASS@HOST:3306/Auth_service --fernet-key KEY [--apply]',
  summary: "copy a reference deployment's data (a dry run unless --apply)",
  help:
    'Copies users, devices, services and grants from a reference deployment. A dry run unless --apply; safe to run again.\n' +
    'A value written @path is read from that file. See docs/migrating.md.',
  options: { from: { type: 'string' }, 'fernet-key': { type: 'string' }, apply: { type: 'boolean' } },
  async run({ runtime, args: { values }, out }) {
    await importReferenceCommand(await runtime(), values as { from?: string; 'fernet-key'?: string; apply?: boolean }, out);
  },
};

export const COMMANDS: readonly Command[] = [
  ...serverCommands,
  doctorCommand,
  ...userCommands,
  ...passkeyCommands,
  ...serviceCommands,
  ...accessCommands,
  ...groupCommands,
  ...ruleCommands,
  ...policyCommands,
  ...proxyTokenCommands,
  importReference,
];
