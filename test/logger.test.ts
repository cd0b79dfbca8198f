/** Repeated warnings and errors held back (src/logger.ts, holdBackRepeats). */
import { expect } from 'chai';
import { holdBackRepeats, REPEAT_WINDOW_MS } from '../src/logger.js';

describe('holdBackRepeats', function () {
  let time: number;
  let format: ReturnType<typeof holdBackRepeats>;
  /** What the format lets through of one line, or false. */
  const log = (level: string, message: string, meta: Record<string, unknown> = {}) => format.transform({ level, message, ...meta });
  beforeEach(() => {
    time = 1_000_000;
    format = holdBackRepeats(REPEAT_WINDOW_MS, () => time);
  });

  it('lets the first of a repeated warning or error through, holds back the rest of the window, then says how many it held', () => {
    expect(log('warn', 'WAL checkpoint failed', { error: 'database or disk is full' })).to.not.equal(false);
    for (let second = 1; second < 60; second++) {
      time += 1_000;
      expect(log('warn', 'WAL checkpoint failed', { error: 'database or disk is full' })).to.equal(false);
    }
    time += 1_000;
    expect(log('warn', 'WAL checkpoint failed', { error: 'database or disk is full' })).to.deep.include({ repeated: 59 });
    time += 1_000;
    expect(log('warn', 'WAL checkpoint failed', { error: 'database or disk is full' }), 'a new window').to.equal(false);
  });

  it('tells lines apart by level, message, error and request', () => {
    expect(log('error', 'projector failed', { error: 'database or disk is full' })).to.not.equal(false);
    expect(log('error', 'projector failed', { error: 'SQLITE_BUSY' })).to.not.equal(false);
    expect(log('warn', 'projector failed', { error: 'database or disk is full' })).to.not.equal(false);
    expect(log('error', 'erasure reactor failed', { error: 'database or disk is full' })).to.not.equal(false);
    expect(log('error', 'projector failed', { error: 'database or disk is full', requestId: 'one' }), 'a request of its own').to.not.equal(false);
    expect(log('error', 'projector failed', { error: 'database or disk is full', requestId: 'one' })).to.equal(false);
    expect(log('error', 'projector failed', { error: 'database or disk is full', requestId: undefined }), 'outside requests').to.equal(false);
  });

  it('remembers a bounded number of lines, forgetting the oldest first', () => {
    for (let index = 0; index <= 1_000; index++) expect(log('warn', `feed ${index} failed`)).to.not.equal(false);
    expect(log('warn', 'feed 1000 failed')).to.equal(false);
    expect(log('warn', 'feed 0 failed'), 'forgotten').to.not.equal(false);
  });

  it('never holds back lines below warnings, and a line held back once carries no count after a quiet window', () => {
    for (let index = 0; index < 3; index++) expect(log('info', 'podsync listening')).to.not.equal(false);
    expect(log('warn', 'lease renewal failed')).to.not.equal(false);
    time += REPEAT_WINDOW_MS;
    expect(log('warn', 'lease renewal failed')).to.not.have.property('repeated');
  });
});
