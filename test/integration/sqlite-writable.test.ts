// Rule: an embedded SQLite database whose directory this process cannot write stops the start with one message
// that names the file and why, instead of SQLite opening it read-only and the first write failing later. A
// read-only mount (a container's data volume mounted `:ro`) is the real case; the image test runs it. Root passes
// permission checks, so these tests make accessSync answer as the kernel would.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

const denied = vi.hoisted(() => ({ code: undefined as string | undefined }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const accessSync: typeof fs.accessSync = (path, mode) => {
    if (denied.code) throw Object.assign(new Error(`${denied.code}: denied, access '${String(path)}'`), { code: denied.code });
    fs.accessSync(path, mode);
  };
  return { ...fs, default: { ...fs, accessSync }, accessSync };
});
const { openDatabase } = await import('../../src/store/database.js');

describe('opening an embedded SQLite database', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pa-sqlite-writable-'));
  afterEach(() => {
    denied.code = undefined;
  });

  it('opens it when its directory is writable', async () => {
    const db = openDatabase({ dialect: 'sqlite', path: join(dir, 'ok.db') });
    await db.db.destroy();
  });

  it.each([
    ['EROFS', 'is on a read-only file system'],
    ['EACCES', 'is not writable by this user (uid '],
  ])('%s: names the file and the reason', (code, reason) => {
    denied.code = code;
    const path = join(dir, 'sub', 'auth.db');
    expect(() => openDatabase({ dialect: 'sqlite', path })).toThrow(
      `the SQLite database ${path} cannot be opened for writing: its directory ${join(dir, 'sub')} ${reason}`,
    );
  });

  it('cleans up', () => {
    rmSync(dir, { recursive: true, force: true });
  });
});
