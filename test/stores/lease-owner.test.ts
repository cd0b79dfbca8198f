/** Leases of a dead process of this host are taken over at once; a live holder's are not. */
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { expect } from 'chai';
import { isDeadLocalOwner, leaseOwner } from '../../src/stores/lease-owner.js';
import { memoryReadModel } from '../projector/support.js';

describe('lease owners naming their process', function () {
  const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;
  const started = Math.round(Date.now() - process.uptime() * 1000);

  it('tells a dead process of this host from a live one', () => {
    expect(isDeadLocalOwner(leaseOwner('projector'))).to.equal(false);
    expect(isDeadLocalOwner(`projector-x@${hostname()}:${deadPid}:${started}`)).to.equal(true);
    // This pid, started long before: an earlier incarnation (a restarted container's pid 1).
    expect(isDeadLocalOwner(`projector-x@${hostname()}:${process.pid}:${started - 60_000}`)).to.equal(true);
    expect(isDeadLocalOwner(`projector-x@another-host.example:${deadPid}:${started}`)).to.equal(false);
    expect(isDeadLocalOwner('projector-legacy-owner')).to.equal(false);
  });

  it('the SQLite read model hands a dead holder’s unexpired lease over, and reports it as not live', async () => {
    const { readModel, close } = memoryReadModel();
    try {
      const dead = `projector-x@${hostname()}:${deadPid}:${started}`;
      const alive = leaseOwner('projector');
      expect((await readModel.tryAcquireLeases(['p'], dead, 60_000))[0]).to.equal(true);
      expect(await readModel.liveLeases(['p'])).to.deep.equal([false]);
      expect((await readModel.tryAcquireLeases(['p'], alive, 60_000))[0]).to.equal(true);
      expect(await readModel.liveLeases(['p'])).to.deep.equal([true]);
      expect((await readModel.tryAcquireLeases(['p'], leaseOwner('projector'), 60_000))[0], 'a live holder keeps it').to.equal(false);
    } finally {
      close();
    }
  });
});
