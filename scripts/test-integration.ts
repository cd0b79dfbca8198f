/**
 * `npm run test:integration`: the store contract suites (event store, read model, accounts)
 * against real EventStoreDB and MongoDB servers, then the whole service on them
 * (test/integration: HTTP, projector, retention, erasure, account deletion, Agenda with two
 * workers). Unlike `npm test`, where these suites skip without servers, this fails when the
 * servers are not configured: it exists to prove the production adapters, and a run that
 * proved nothing must not look green.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const START_SERVERS = `Start the servers and point the suites at them:

  docker compose up -d eventstoredb mongodb
  EVENTSTORE_URL='esdb://localhost:2113?tls=false' \\
  MONGO_URL='mongodb://localhost:27017/?directConnection=true' \\
  npm run test:integration

(directConnection: the replica set's member is named mongodb:27017, reachable inside the
compose network only; a direct connection to the primary still runs transactions.)`;

const missing = ['EVENTSTORE_URL', 'MONGO_URL'].filter((name) => !process.env[name]);
if (missing.length > 0) {
  console.error(`test:integration: ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set.\n\n${START_SERVERS}`);
  process.exit(1);
}

const suites = ['test/stores', 'test/integration'].flatMap((directory) =>
  readdirSync(path.join(root, directory))
    .filter((file) => file.endsWith('.test.ts'))
    .map((file) => path.join(directory, file)),
);
const mocha = path.join(root, 'node_modules/.bin/mocha');
const result = spawnSync(mocha, suites, { cwd: root, stdio: 'inherit', env: process.env });
process.exit(result.status ?? 1);
