/**
 * The MongoDB adapters without a server: the exact requests they send (filters, updates,
 * options), checked on collection objects that record calls, typed against the driver.
 * What only a server can show is in the contract suites (test/stores/mongodb.test.ts).
 */
import { expect } from 'chai';
import { ReplicaSetRequiredError } from '../../src/stores/mongodb/index.js';

describe('MongoDB adapters (no server)', function () {
  it('ReplicaSetRequiredError gives a connection string that works from the host', function () {
    const message = new ReplicaSetRequiredError('detail').message;
    expect(message).to.contain('directConnection=true');
    expect(message).not.to.contain('replicaSet=rs0');
  });
});
