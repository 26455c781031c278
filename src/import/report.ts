// What an import found and did: counts per table, the rows not imported and why, and notes on the rows kept.

export type ReferenceTable = 'User' | 'Device' | 'Service' | 'UserService';

export interface ImportIssue {
  readonly table: ReferenceTable;
  /** Which reference row, e.g. `UserID 4 (ann@example.com)`; never a secret. */
  readonly row: string;
  readonly message: string;
}

export interface Tally {
  /** New here: created (`--apply`) or to be created (dry run). */
  create: number;
  /** Already here (same email, name, id or user and service): left as it is. */
  existing: number;
  /** Not imported; `problems` says why. */
  refused: number;
}

export interface ImportReport {
  readonly applied: boolean;
  readonly users: Tally;
  readonly devices: Tally;
  readonly services: Tally;
  readonly grants: Tally;
  /** Rows that were not imported, and why. */
  readonly problems: ImportIssue[];
  /** Rows imported or kept with something worth knowing: a value that changed, or an existing row that differs. */
  readonly notes: ImportIssue[];
}

const newTally = (): Tally => ({ create: 0, existing: 0, refused: 0 });

const TALLY: Record<ReferenceTable, 'users' | 'devices' | 'services' | 'grants'> = {
  User: 'users',
  Device: 'devices',
  Service: 'services',
  UserService: 'grants',
};

/** Collects counts, problems and notes while the import runs. */
export class Recorder {
  readonly report: ImportReport;
  constructor(applied: boolean) {
    this.report = {
      applied,
      users: newTally(),
      devices: newTally(),
      services: newTally(),
      grants: newTally(),
      problems: [],
      notes: [],
    };
  }
  refuse(table: ReferenceTable, row: string, message: string): void {
    this.report.problems.push({ table, row, message });
    this.report[TALLY[table]].refused++;
  }
  note(table: ReferenceTable, row: string, message: string): void {
    this.report.notes.push({ table, row, message });
  }
  count(table: ReferenceTable, what: 'create' | 'existing'): void {
    this.report[TALLY[table]][what]++;
  }
}
