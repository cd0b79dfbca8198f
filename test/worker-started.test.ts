/** The service's worker threads: each its own young generation, not the process's (src/worker-started.ts). */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SERVICE_V8_FLAGS } from '../scripts/service-flags.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PROBE = fileURLToPath(new URL('./support/young-generation-probe.ts', import.meta.url));

interface NewSpaces {
  readonly main: number;
  readonly direct: number;
  readonly directLimited: number;
  readonly created: number;
  readonly createdLimited: number;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(file);
    return /\.(ts|mjs)$/.test(entry.name) ? [file] : [];
  });
}

describe('worker threads', () => {
  it("get V8's young generation, or the one they ask for, not the 64 MB semi-spaces of the thread serving requests", async function () {
    this.timeout(60_000);
    const { stdout } = await promisify(execFile)(process.execPath, [...SERVICE_V8_FLAGS, '--import', 'tsx', PROBE], { cwd: ROOT });
    const spaces = JSON.parse(stdout.trim().split('\n').at(-1)!) as NewSpaces;
    // What V8 does: the process's flag sets every isolate's young generation, over resourceLimits.
    expect(spaces.main).to.be.at.least(64);
    expect(spaces.direct).to.be.at.least(64);
    expect(spaces.directLimited).to.be.at.least(64);
    // Two 16 MB semi-spaces at most (V8's default), and what resourceLimits asks for.
    expect(spaces.created).to.be.at.most(32);
    expect(spaces.createdLimited).to.be.at.most(16);
  });

  it('are all made by createWorker', () => {
    const makers = sourceFiles(path.join(ROOT, 'src'))
      .filter((file) => /new Worker\(/.test(readFileSync(file, 'utf8')))
      .map((file) => path.relative(ROOT, file));
    expect(makers).to.deep.equal([path.join('src', 'worker-started.ts')]);
  });
});
