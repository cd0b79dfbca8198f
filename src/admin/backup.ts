/**
 * Backups of the embedded store while the service runs (docs/operations.md, "Backups"):
 * `npm run admin -- backup <dir>`. Each file is copied with SQLite's online backup in one step,
 * so the copy is the file as of one moment (in WAL mode the service's writes go on meanwhile),
 * checked (`quick_check`), and only then given its name: a backup that fails leaves no file that
 * looks whole (a `.partial` one only if the process is killed).
 */
import { existsSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { forgetLeases } from '../stores/embedded/sqlite-read-model.js';

export class BackupError extends Error {
  override readonly name = 'BackupError';
}

export interface CopiedFile {
  readonly file: string;
  readonly bytes: number;
  readonly seconds: number;
}

/** Every page at once: copied in steps, another connection's write in between would start the copy over. */
const ALL_PAGES = 0x7fffffff;

/**
 * Copies the SQLite file `source` to `destination`, which must not exist yet; `amend` may change
 * the copy before it is checked and named.
 */
export async function backupFile(source: string, destination: string, amend: (copy: BetterSqlite3.Database) => void = () => undefined): Promise<CopiedFile> {
  if (!existsSync(source)) throw new BackupError(`${source} does not exist`);
  if (existsSync(destination)) throw new BackupError(`${destination} exists already: back up into a new directory`);
  const partial = `${destination}.partial`;
  rmSync(partial, { force: true });
  const started = performance.now();
  const database = new BetterSqlite3(source, { fileMustExist: true });
  try {
    database.pragma('busy_timeout = 5000');
    await database.backup(partial, { progress: () => ALL_PAGES });
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  } finally {
    database.close();
  }
  let check: unknown;
  try {
    const copy = new BetterSqlite3(partial, { fileMustExist: true });
    try {
      // The copy holds the source's WAL mode: one file, with no -wal or -shm beside it once
      // closed, that the service puts back in WAL mode when it opens it.
      copy.pragma('journal_mode = DELETE');
      amend(copy);
      check = copy.pragma('quick_check', { simple: true });
    } finally {
      copy.close();
    }
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  }
  if (check !== 'ok') {
    rmSync(partial, { force: true });
    throw new BackupError(`the copy of ${source} failed its check: ${String(check)}`);
  }
  renameSync(partial, destination);
  return { file: destination, bytes: statSync(destination).size, seconds: (performance.now() - started) / 1000 };
}

/**
 * Backs up the embedded files of `dataDir` into `directory`: the events, accounts and jobs
 * (`eventsFile`), and, if asked, the read models (`readModelsFile`) — copied first, so that their
 * checkpoints never run ahead of the events copied after them (restored, the projector catches
 * up from them, its leases free; left out, the read models are rebuilt from the events at the
 * first start).
 */
export async function backupDataDir(
  dataDir: string,
  directory: string,
  files: { readonly eventsFile: string; readonly readModelsFile?: string | undefined },
  onFile: (file: string, bytes: number) => void | Promise<void> = () => undefined,
): Promise<CopiedFile[]> {
  if (!existsSync(directory)) throw new BackupError(`${directory} does not exist: create it first`);
  const copied: CopiedFile[] = [];
  for (const file of [files.readModelsFile, files.eventsFile]) {
    if (file === undefined) continue;
    const source = path.join(dataDir, file);
    await onFile(file, existsSync(source) ? statSync(source).size : 0);
    copied.push(await backupFile(source, path.join(directory, file), file === files.readModelsFile ? forgetLeases : undefined));
  }
  return copied;
}
