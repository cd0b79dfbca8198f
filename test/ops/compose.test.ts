/**
 * docker-compose.yml values the servers check at start-up: a value they refuse keeps the node
 * from ever becoming healthy, and the service (which waits for it) from starting.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';

const ROOT = path.resolve(import.meta.dirname, '../..');
const compose = readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');

/** The value of `NAME: "value"` in the compose file (the file quotes every environment value). */
function environmentValue(name: string): string | undefined {
  return new RegExp(`^\\s+${name}:\\s*"([^"]*)"`, 'm').exec(compose)?.[1];
}

describe('docker-compose.yml', function () {
  it('sets EVENTSTORE_MAX_APPEND_SIZE within what EventStoreDB accepts (TFConsts.EffectiveMaxLogRecordSize)', function () {
    // EventStore 24.10 src/EventStore.Core/TransactionLog/Chunks/TFConsts.cs: MaxLogRecordSize
    // (16 MiB) minus LogRecordOverheadSize (10,000); the options validator refuses more.
    const effectiveMaxLogRecordSize = 16 * 1024 * 1024 - 10_000;
    const value = Number(environmentValue('EVENTSTORE_MAX_APPEND_SIZE'));
    expect(value)
      .to.be.a('number')
      .and.to.be.greaterThan(1024 * 1024);
    expect(value).to.be.at.most(effectiveMaxLogRecordSize);
  });

  it('connects the service to MongoDB with directConnection=true', function () {
    // The member is named mongodb:27017 by rs.initiate; replicaSet=rs0 would make every client
    // depend on that name resolving. A direct connection to the primary still runs transactions.
    const url = /^\s+MONGO_URL:\s*(\S+)/m.exec(compose)?.[1];
    expect(url).to.contain('directConnection=true');
    expect(url).not.to.contain('replicaSet=');
  });
});

describe('.github/workflows/ci.yml', function () {
  const workflow = readFileSync(path.join(ROOT, '.github/workflows/ci.yml'), 'utf8');

  it('runs the integration suite against the servers as the compose file configures them', function () {
    expect(workflow).to.contain('run: npm run test:integration');
    expect(workflow).to.contain('image: eventstore/eventstore:24.10');
    expect(workflow).to.match(/mongo:7 --replSet rs0/);
    expect(workflow).to.contain('MONGO_URL: mongodb://localhost:27017/?directConnection=true');
    expect(/EVENTSTORE_MAX_APPEND_SIZE: "(\d+)"/.exec(workflow)?.[1]).to.equal(environmentValue('EVENTSTORE_MAX_APPEND_SIZE'));
  });
});
