// Rule: the CLI is one table of commands. The usage lists every entry, `<command> --help` answers for every entry
// without opening the database or starting anything, and a group without its subcommand says which there are.
import { describe, expect, it } from 'vitest';
import { runCommands } from '../../src/cli/command.js';
import { COMMANDS } from '../../src/cli/commands.js';

async function run(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runCommands(COMMANDS, argv, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
  });
  return { code, stdout, stderr };
}

describe('CLI command table', () => {
  it('has one entry per name, and the usage lists each with its synopsis', async () => {
    const names = COMMANDS.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(['serve', 'migrate', 'doctor', 'user add', 'grant', 'grant list', 'import-reference']));
    const { code, stdout } = await run('--help');
    expect(code).toBe(0);
    for (const c of COMMANDS) expect(stdout).toContain(`  ${c.name}${c.synopsis ? ` ${c.synopsis}` : ''}`);
  });

  it.each(COMMANDS.map((c) => c.name))('%s --help explains the command and exits 0 without running it', async (name) => {
    const command = COMMANDS.find((c) => c.name === name);
    const { code, stdout, stderr } = await run(...name.split(' '), '--help');
    expect(code).toBe(0);
    expect(stdout).toContain(`Usage: passwordless-auth ${name}`);
    expect(stdout).toContain(command?.help.split('\n')[0]);
    expect(stderr).toBe('');
  });

  it('asks for --yes on every destructive command, and says so in its synopsis', () => {
    for (const c of COMMANDS.filter((c) => c.confirm)) expect(c.synopsis, c.name).toContain('[--yes]');
    expect(COMMANDS.filter((c) => c.confirm).map((c) => c.name)).toEqual(
      expect.arrayContaining(['user delete', 'service delete', 'service rotate-token', 'revoke', 'device revoke', 'proxy-token delete']),
    );
  });

  it('names the subcommands of a group given alone, and refuses unknown commands, with exit code 2', async () => {
    const group = await run('proxy-token');
    expect(group.code).toBe(2);
    expect(group.stderr).toContain('proxy-token needs one of: add, list, delete');
    const unknown = await run('frobnicate', '--json');
    expect(unknown.code).toBe(2);
    expect(JSON.parse(unknown.stdout).error).toMatch(/^unknown command: frobnicate/);
  });
});
