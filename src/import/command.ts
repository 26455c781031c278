// `passwordless-auth import-reference`: copies a reference deployment's users, devices, services and grants into
// this service's database. A dry run unless `--apply`. See docs/migrating.md.
import { readFileSync } from 'node:fs';
import { parseDatabaseUrl } from '../config/database-url.js';
import { AdminError } from '../core/admin-tools.js';
import { systemClock } from '../core/clock.js';
import type { Runtime } from '../runtime.js';
import { parseFernetKey } from './fernet.js';
import { importReference } from './mapping.js';
import { openReferenceReader } from './reader.js';
import type { ImportIssue, ImportReport, Tally } from './report.js';

const FROM_EXAMPLE = 'mysql://user:password@host:3306/Auth_service';

/**
 * An option's value; `@path` reads it from that file instead, so a key or password need not appear in the
 * process list or the shell history.
 */
function optionValue(name: string, value: string | undefined): string {
  if (value === undefined || value === '') throw new AdminError(`--${name} is required`);
  if (!value.startsWith('@')) return value;
  const path = value.slice(1);
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw new AdminError(`--${name}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

function summary(report: ImportReport): string[] {
  const rows: [string, Tally][] = [
    ['users', report.users],
    ['services', report.services],
    ['devices', report.devices],
    ['grants', report.grants],
  ];
  const cells = [
    ['', report.applied ? 'CREATED' : 'TO CREATE', 'ALREADY HERE', 'NOT IMPORTED'],
    ...rows.map(([name, t]) => [name, String(t.create), String(t.existing), String(t.refused)]),
  ];
  const widths = cells[0]?.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length))) ?? [];
  const issue = (i: ImportIssue) => `  ${i.table} ${i.row}: ${i.message}`;
  return [
    report.applied ? 'Imported from the reference database.' : 'Dry run: nothing was written. Run again with --apply to import.',
    '',
    ...cells.map((r) =>
      r
        .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    ),
    ...(report.problems.length > 0 ? ['', `Not imported (${report.problems.length}):`, ...report.problems.map(issue)] : []),
    ...(report.notes.length > 0 ? ['', `Notes (${report.notes.length}):`, ...report.notes.map(issue)] : []),
  ];
}

export async function importReferenceCommand(
  rt: Runtime,
  values: { from?: string; 'fernet-key'?: string; apply?: boolean },
  out: { json: boolean; result(value: unknown, text: string | string[]): void },
): Promise<void> {
  const target = parseDatabaseUrl(optionValue('from', values.from));
  if (target?.dialect !== 'mysql') throw new AdminError(`--from must be the reference's MySQL database, e.g. ${FROM_EXAMPLE}`);
  const fernetKey = parseFernetKey(optionValue('fernet-key', values['fernet-key']));
  if (!fernetKey) {
    throw new AdminError("--fernet-key must be the reference's TOTP_ENCRYPTION_KEY: 32 bytes as base64url (44 characters)");
  }
  const where = `${target.host}:${target.port}/${target.database}`;
  const reader = openReferenceReader(target);
  try {
    const source = {
      snapshot: () =>
        reader.snapshot().catch((err: unknown) => {
          const e = err as { code?: unknown; message?: unknown };
          const hint = e.code === 'ER_NO_SUCH_TABLE' ? " (is this the reference's Auth_service database?)" : '';
          throw new AdminError(`cannot read the reference database at ${where}: ${String(e.message ?? err)}${hint}`);
        }),
    };
    const report = await importReference(
      { source, store: rt.store, keys: rt.keys, clock: systemClock },
      { fernetKey, apply: values.apply === true },
    );
    out.result(report, summary(report));
  } finally {
    await reader.close();
  }
}
