/** The retention index (projections/retention-index.ts), event by event, with no store. */
import { expect } from 'chai';
import { RETENTION_INDEX, retentionIndexProjection, TRUNCATION_CHECK_MS } from '../../projections/retention-index.js';
import type { ProjectedEvent } from '../../projections/projection.js';
import { emptyView } from '../../projections/staged-view.js';
import type { CheckpointData } from '../../src/domain/system-events.js';
import { checkpointEvents } from '../../src/domain/system-events.js';
import { emptyState } from '../../src/domain/state.js';

const RECORDED_AT = '2026-03-01T10:00:00.000Z';

function checkpoint(data: Omit<CheckpointData, 'state'>): ProjectedEvent {
  const [, event] = checkpointEvents({ snapshot: 's', checkpoint: 'c' }, 'u1', new Date(RECORDED_AT), { ...data, state: emptyState() });
  return { event, user: 'u1', username: 'listener', position: { commit: 9n, prepare: 9n }, revision: 40, seq: 9, recordedAt: RECORDED_AT };
}

const indexed = (projected: ProjectedEvent) => {
  const [change] = retentionIndexProjection.evolve(projected, emptyView, { defaultPrivacy: 'private' });
  expect(change).to.include({ op: 'put', collection: RETENTION_INDEX, id: 'u1' });
  return (change as { doc: Record<string, unknown> }).doc;
};

describe('retention index', function () {
  it('keeps, for a day after a retention checkpoint, the truncation it asks for, so passes can check it was made', function () {
    const doc = indexed(checkpoint({ truncate_before: 35, retained_from: '2026-01-29T00:00:00.000Z', reason: 'retention' }));
    expect(doc).to.deep.equal({
      oldest_recorded_at: '2026-01-29T00:00:00.000Z',
      truncation_before: 35,
      truncation_check_until: new Date(Date.parse(RECORDED_AT) + TRUNCATION_CHECK_MS).toISOString(),
    });
  });

  it('asks no such check after a checkpoint that truncates nothing (an erasure in place)', function () {
    const doc = indexed(checkpoint({ truncate_before: null, retained_from: '2026-01-29T00:00:00.000Z', reason: 'erasure' }));
    expect(doc).to.deep.equal({ oldest_recorded_at: '2026-01-29T00:00:00.000Z' });
  });
});
