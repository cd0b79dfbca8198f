/** `npm run bench`: the RESULTS.md rendering, and the load benchmark end to end (tiny sizes). */
import { expect } from 'chai';
import { benchLoad } from '../../scripts/bench/load.js';
import { benchProjectLive } from '../../scripts/bench/project-live.js';
import { benchProjectorReads } from '../../scripts/bench/projector-reads.js';
import type { BenchOutcome, MachineInfo } from '../../scripts/bench/run-all.js';
import { machineInfo, mergeResults, renderResults, RUN_END, RUN_START, settle } from '../../scripts/bench/run-all.js';
import { REPLAY_V8_FLAGS } from '../../scripts/replay-flags.js';
import { SERVICE_V8_FLAGS } from '../../scripts/service-flags.js';
import { readFileSync } from 'node:fs';

describe('benchmarks', function () {
  it('renders every figure of every benchmark, failures included, with the machine', () => {
    const machine: MachineInfo = {
      cpu: 'Some CPU @ 2.0GHz',
      cores: 2,
      memoryGiB: 23.5,
      node: 'v20.20.2',
      platform: 'linux 6.1 x64',
      date: '2026-05-01T00:00:00.000Z',
      quick: true,
    };
    const outcomes: BenchOutcome[] = [
      { name: 'append', seconds: 12.34, loadAverage: 0.25, figures: { bench: 'append', events_per_s: 100_000, ratio: 0.5 } },
      { name: 'load', seconds: 30, figures: undefined, error: 'exit code 1' },
    ];
    const markdown = renderResults(outcomes, machine);
    expect(markdown).to.contain('| CPU | Some CPU @ 2.0GHz |');
    expect(markdown).to.contain('| cores | 2 |');
    expect(markdown).to.contain('| memory | 23.5 GiB |');
    expect(markdown).to.contain('| node | v20.20.2 |');
    expect(markdown).to.contain('2026-05-01T00:00:00.000Z with BENCH_QUICK=1');
    expect(markdown).to.contain('| append | events_per_s | 100000 |');
    expect(markdown).to.contain('| append | ratio | 0.5 |');
    expect(markdown).to.contain('| append | wall time (s) | 12.3 |');
    expect(markdown).to.contain('| append | load average at start | 0.25 |');
    expect(markdown).to.contain('| load | **failed** | exit code 1 |');
    expect(markdown).to.contain('{"bench":"append","events_per_s":100000,"ratio":0.5}');
    expect(machineInfo().cores).to.be.above(0);
  });

  it('a run rewrites only its own part of RESULTS.md: the dated notes around it stay', () => {
    const first = mergeResults(undefined, '# Benchmark results\n\nrun one\n');
    expect(first).to.equal(`${RUN_START}\n# Benchmark results\n\nrun one\n${RUN_END}\n`);
    const withNotes = `${first}\n## Notes of 2026-12-02\n\nwhat a change did\n`;
    const second = mergeResults(withNotes, '# Benchmark results\n\nrun two\n');
    expect(second).to.contain('run two').and.not.contain('run one');
    expect(second).to.contain('## Notes of 2026-12-02\n\nwhat a change did');
    // A file written by hand, without the markers: the run goes on top, nothing is lost.
    const byHand = mergeResults('# Results\n\nnotes by hand\n', 'run three');
    expect(byHand.startsWith(RUN_START)).to.equal(true);
    expect(byHand).to.contain('run three').and.contain('notes by hand');
  });

  it('each benchmark waits for the machine to quiet down after the last one, and for no longer than its bound', async () => {
    const sleeps: number[] = [];
    const sleep = (ms: number) => {
      sleeps.push(ms);
      return Promise.resolve();
    };
    const falling = [2.4, 1.8, 1.3, 0.9, 0.5];
    const quieted = await settle(() => falling[Math.min(sleeps.length, falling.length - 1)]!, 1, 90, sleep);
    expect(sleeps).to.have.length(3);
    expect(quieted.loadAverage).to.equal(0.9);
    sleeps.length = 0;
    const busy = await settle(() => 3, 1, 5, sleep);
    expect(sleeps).to.have.length(5);
    expect(busy.loadAverage).to.equal(3);
  });

  it('rebuild: measures the replay process as `npm run replay` runs it (the same V8 flags)', () => {
    const scripts = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> }).scripts;
    for (const flag of REPLAY_V8_FLAGS) expect(scripts['replay']).to.contain(`node ${flag}`);
  });

  it('load: measures the service process as `npm start` and the Docker image run it (the same V8 flags)', () => {
    const scripts = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> }).scripts;
    const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
    const cmd =
      dockerfile
        .split('\n')
        .filter((line) => line.startsWith('CMD ["node"'))
        .at(-1) ?? '';
    for (const flag of SERVICE_V8_FLAGS) {
      expect(scripts['start']).to.contain(`node ${flag} `);
      expect(cmd).to.contain(`"node", "${flag}",`);
    }
  });

  it('load: starts the service, seeds it, and reports reads and writes separately with no errors', async function () {
    this.timeout(30_000);
    const saved = { ...process.env };
    Object.assign(process.env, { BENCH_LOAD_RATE: '60', BENCH_LOAD_SECONDS: '1', BENCH_LOAD_WARMUP: '1', BENCH_LOAD_USERS: '2' });
    try {
      const result = await benchLoad(() => undefined);
      expect(result).to.include({ bench: 'load', rate: 60, seconds: 1, users: 2, non2xx: 0, errors: 0 });
      expect(result['reads_rps']).to.be.above(0);
      expect(result['writes_rps']).to.be.above(0);
      expect(result['reads_p99_ms']).to.be.a('number');
      expect(result['server_rss_mb']).to.be.above(10);
      expect(result['ceiling_rps']).to.be.above(60);
    } finally {
      process.env = saved;
    }
  });

  it("project-live: appends, waits for the projector, reads its writes and prints the issue's figures (tiny size)", async function () {
    this.timeout(60_000);
    const saved = { ...process.env };
    Object.assign(process.env, { BENCH_EVENTS: '1000', BENCH_LIVE_USERS: '20', BENCH_RYW_RATE: '40', BENCH_RYW_SECONDS: '1' });
    try {
      const result = await benchProjectLive(() => undefined);
      // The bytes written while projecting come from /proc/self/io: Linux only.
      const written = process.platform === 'linux' ? ['written_bytes_per_event'] : [];
      expect(Object.keys(result)).to.deep.equal([
        'bench',
        'events_per_s',
        'raw_events_per_s',
        'ratio',
        'ryw_p99_ms',
        'ryw_appends_per_s',
        'ryw_append_p99_ms',
        'ryw_loop_delay_max_ms',
        'ryw_gc_pause_ms',
        'ryw_gc_pause_max_ms',
        'bytes_per_event',
        ...written,
      ]);
      expect(result['bench']).to.equal('project-live');
      for (const key of ['events_per_s', 'raw_events_per_s', 'ratio', 'ryw_appends_per_s', 'bytes_per_event', ...written]) expect(result[key]).to.be.above(0);
      for (const key of ['ryw_p99_ms', 'ryw_append_p99_ms', 'ryw_loop_delay_max_ms', 'ryw_gc_pause_ms', 'ryw_gc_pause_max_ms'])
        expect(result[key]).to.be.a('number').and.at.least(0);
      // The longest pause is one of those summed.
      expect(result['ryw_gc_pause_max_ms']).to.be.at.most(result['ryw_gc_pause_ms'] as number);
    } finally {
      process.env = saved;
    }
  });

  it('projector-reads: the same documents with and without the prefetch, and no more reads with it (tiny size)', async function () {
    this.timeout(60_000);
    const saved = { ...process.env };
    Object.assign(process.env, { BENCH_EVENTS: '600', BENCH_LIVE_USERS: '20' });
    try {
      const result = await benchProjectorReads(() => undefined);
      expect(Object.keys(result)).to.deep.equal([
        'bench',
        'events',
        'latency_ms',
        'reads_per_event_off',
        'reads_per_event_on',
        'events_per_s_off',
        'events_per_s_on',
      ]);
      expect(result['events']).to.equal(600);
      expect(result['reads_per_event_on']).to.be.above(0).and.at.most(Number(result['reads_per_event_off']));
    } finally {
      process.env = saved;
    }
  });
});
