/** `npm run test:integration` must fail, not skip, without servers, and say what to start. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('npm run test:integration', function () {
  it('fails with exit 1 and names the missing variables and how to start the servers', function () {
    const env = { ...process.env, EVENTSTORE_URL: '', MONGO_URL: 'mongodb://localhost:27017/?directConnection=true' };
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/test-integration.ts'], { cwd: ROOT, env, encoding: 'utf8' });
    expect(result.status).to.equal(1);
    expect(result.stderr).to.contain('EVENTSTORE_URL is not set');
    expect(result.stderr).not.to.contain('MONGO_URL is not set');
    expect(result.stderr).to.contain('docker compose up -d eventstoredb mongodb');
    expect(result.stdout).to.equal('');
  });
});
