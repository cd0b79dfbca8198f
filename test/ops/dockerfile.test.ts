/**
 * The Docker image's HEALTHCHECK, run as Docker runs it (its exec form's command, with the
 * container's PORT and BASE_PATH) against the service: no Docker engine here, but the command is
 * plain node, so what it asks and how it exits can be checked.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { expect } from 'chai';
import { listenServing } from '../../src/http/server.js';
import { startTestService } from '../support/service.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** The HEALTHCHECK's `CMD [...]` (a JSON array, as Docker reads the exec form). */
function healthCheckCommand(): string[] {
  const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const json = /^HEALTHCHECK\b.*?\bCMD\s+(\[.*\])\s*$/m.exec(dockerfile)?.[1];
  if (json === undefined) throw new Error('no HEALTHCHECK CMD [...] in the Dockerfile');
  return JSON.parse(json) as string[];
}

function exitCode(command: readonly string[], env: Record<string, string>): Promise<number> {
  const [file, ...args] = command;
  // `node` is the image's PATH lookup; here the node running the tests.
  return new Promise((resolve) =>
    execFile(file === 'node' ? process.execPath : file!, args, { env: { PATH: process.env['PATH'] ?? '', ...env }, timeout: 20_000 }, (error) =>
      resolve(error === null ? 0 : typeof error.code === 'number' ? error.code : -1),
    ),
  );
}

describe('Dockerfile', function () {
  this.timeout(60_000);

  for (const [title, basePath] of [
    ['at the root', ''],
    ['under BASE_PATH (given with its last slash)', '/podsync/'],
  ] as const) {
    it(`the HEALTHCHECK passes against a ready service ${title}, and fails where nothing answers /readyz`, async () => {
      const service = await startTestService(basePath ? { BASE_PATH: basePath } : {});
      const server = await listenServing(service.app, 0, '127.0.0.1');
      try {
        const port = String((server.address() as AddressInfo).port);
        await service.settle();
        const command = healthCheckCommand();
        expect(await exitCode(command, { PORT: port, ...(basePath ? { BASE_PATH: basePath } : {}) })).to.equal(0);
        expect(await exitCode(command, { PORT: port, BASE_PATH: basePath ? '/elsewhere' : '/podsync' }), 'another path').to.equal(1);
      } finally {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await service.stop();
      }
    });
  }
});
