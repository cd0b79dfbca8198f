/**
 * `npm run bench` with no name: every registered benchmark, one after the other, each in its
 * own child process (so one benchmark's heap, caches and open files do not colour the next
 * one's memory or speed figures), then `bench/RESULTS.md`: one table of every benchmark's
 * JSON figures, with the machine they ran on. BENCH_QUICK=1 (and any BENCH_* tunable) is
 * passed on to the benchmarks that support it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const RESULTS_FILE = path.join(ROOT, 'bench/RESULTS.md');

export type Figures = Record<string, number | string | boolean | null>;

export interface BenchOutcome {
  readonly name: string;
  readonly seconds: number;
  /** The machine's 1-minute load average when the benchmark started (other work skews figures). */
  readonly loadAverage?: number;
  /** The benchmark's JSON summary (its last stdout line), or undefined if it failed. */
  readonly figures: Figures | undefined;
  readonly error?: string;
}

export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly platform: string;
  readonly date: string;
  readonly quick: boolean;
}

export function machineInfo(now: Date = new Date()): MachineInfo {
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    date: now.toISOString(),
    quick: process.env['BENCH_QUICK'] === '1',
  };
}

/** How long {@link settle} waits at most for the machine to quiet down (BENCH_SETTLE_S, seconds). */
const SETTLE_SECONDS = Number(process.env['BENCH_SETTLE_S'] ?? 90);

export interface Settled {
  readonly seconds: number;
  readonly loadAverage: number;
}

/**
 * Before each benchmark: the previous one's dirty pages written out (`sync`), then a wait until
 * the 1-minute load average is under half the cores or {@link SETTLE_SECONDS} pass. A
 * benchmark runs in a process of its own so that another's heap and caches do not colour its
 * figures; the disk still wrote back the last one's files (a 1M-event rebuild leaves gigabytes)
 * while the next one fsynced, and that, not the service, set the next one's tail latencies.
 */
export async function settle(
  loadAverage: () => number = () => os.loadavg()[0] ?? 0,
  quiet = os.cpus().length / 2,
  maxSeconds = SETTLE_SECONDS,
  sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms)),
): Promise<Settled> {
  const started = Date.now();
  spawnSync('sync', { stdio: 'ignore' });
  for (let waited = 0; waited < maxSeconds && loadAverage() >= quiet; waited++) await sleep(1000);
  return { seconds: (Date.now() - started) / 1000, loadAverage: loadAverage() };
}

/** Runs `npm run bench -- <name>` as a child, echoing its output, and keeps its JSON line. */
export function runOne(name: string): Promise<BenchOutcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'scripts/bench/index.ts'), name], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      process.stdout.write(chunk);
    });
    child.on('error', (error) => resolve({ name, seconds: (Date.now() - started) / 1000, figures: undefined, error: error.message }));
    child.on('close', (code, signal) => {
      const seconds = (Date.now() - started) / 1000;
      const last = stdout.trimEnd().split('\n').at(-1) ?? '';
      let figures: Figures | undefined;
      try {
        const parsed: unknown = JSON.parse(last);
        if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) figures = parsed as Figures;
      } catch {
        figures = undefined;
      }
      if (code === 0 && figures) resolve({ name, seconds, figures });
      else resolve({ name, seconds, figures: undefined, error: signal ? `killed by ${signal}` : code !== 0 ? `exit code ${code}` : 'no JSON summary line' });
    });
  });
}

const cell = (value: unknown) => String(value).replaceAll('|', '\\|');

/** The Markdown of bench/RESULTS.md. */
export function renderResults(outcomes: readonly BenchOutcome[], machine: MachineInfo): string {
  const lines = [
    '# Benchmark results',
    '',
    `Written by \`npm run bench\` on ${machine.date}${machine.quick ? ' with BENCH_QUICK=1 (reduced sizes)' : ''}. Each benchmark ran in its own process;`,
    'the figures are its JSON summary line. See each `scripts/bench/<name>.ts` for what it measures.',
    '',
    '| machine | |',
    '|---|---|',
    `| CPU | ${cell(machine.cpu)} |`,
    `| cores | ${machine.cores} |`,
    `| memory | ${machine.memoryGiB} GiB |`,
    `| node | ${machine.node} |`,
    `| platform | ${cell(machine.platform)} |`,
    '',
    `"load average at start" is the machine's 1-minute load average as each benchmark started (${machine.cores} cores). Each waited for the previous one's writes`,
    `to reach the disk and for the load average to fall under ${machine.cores / 2} (${SETTLE_SECONDS} s at most); above that, other work was competing for the machine and`,
    'the figures are pessimistic.',
    '',
    '| bench | figure | value |',
    '|---|---|---|',
  ];
  for (const outcome of outcomes) {
    if (!outcome.figures) {
      lines.push(`| ${outcome.name} | ${outcome.error === 'not run yet' ? 'not run yet' : '**failed**'} | ${cell(outcome.error ?? 'unknown error')} |`);
      continue;
    }
    for (const [figure, value] of Object.entries(outcome.figures)) {
      if (figure === 'bench') continue;
      lines.push(`| ${outcome.name} | ${cell(figure)} | ${cell(value)} |`);
    }
    lines.push(`| ${outcome.name} | wall time (s) | ${outcome.seconds.toFixed(1)} |`);
    if (outcome.loadAverage !== undefined) lines.push(`| ${outcome.name} | load average at start | ${outcome.loadAverage.toFixed(2)} |`);
  }
  lines.push('', 'JSON lines:', '', '```');
  for (const outcome of outcomes) if (outcome.figures) lines.push(JSON.stringify(outcome.figures));
  lines.push('```', '');
  return lines.join('\n');
}

/** The markers around the part of bench/RESULTS.md a run writes: the dated notes outside them are kept. */
export const RUN_START = '<!-- npm run bench: start (each run rewrites what is between these markers; the dated notes below it are kept) -->';
export const RUN_END = '<!-- npm run bench: end -->';

/**
 * bench/RESULTS.md with this run's tables in place of the last run's. The file also holds dated
 * notes (what each change did, figures taken by hand), which a run must never wipe: without
 * the markers (a file written by hand), the run goes on top and everything else stays below.
 */
export function mergeResults(existing: string | undefined, run: string): string {
  const block = `${RUN_START}\n${run.trimEnd()}\n${RUN_END}`;
  if (existing === undefined || existing.trim() === '') return `${block}\n`;
  const start = existing.indexOf(RUN_START);
  const end = existing.indexOf(RUN_END);
  if (start >= 0 && end > start) return existing.slice(0, start) + block + existing.slice(end + RUN_END.length);
  return `${block}\n\n${existing}`;
}

/**
 * Runs them all, writing bench/RESULTS.md after each one (an interrupted run keeps what it
 * measured; the benchmarks not run yet are listed as such); exit code 1 if any failed.
 */
export async function runAll(names: readonly string[]): Promise<number> {
  const outcomes: BenchOutcome[] = [];
  const machine = machineInfo();
  mkdirSync(path.dirname(RESULTS_FILE), { recursive: true });
  const before = existsSync(RESULTS_FILE) ? readFileSync(RESULTS_FILE, 'utf8') : undefined;
  for (const [index, name] of names.entries()) {
    console.log(`\n=== bench ${name} ===`);
    // On a shared machine other processes compete for the cores: say how busy it still was.
    const { seconds, loadAverage } = await settle();
    console.log(`settled in ${seconds.toFixed(0)} s, load average ${loadAverage.toFixed(2)}`);
    outcomes.push({ ...(await runOne(name)), loadAverage });
    const pending = names.slice(index + 1).map((later): BenchOutcome => ({ name: later, seconds: 0, figures: undefined, error: 'not run yet' }));
    writeFileSync(RESULTS_FILE, mergeResults(before, renderResults([...outcomes, ...pending], machine)));
  }
  console.log(`\nwrote ${path.relative(process.cwd(), RESULTS_FILE)}`);
  const failed = outcomes.filter((outcome) => !outcome.figures);
  for (const outcome of failed) console.error(`bench ${outcome.name} failed: ${outcome.error ?? 'unknown error'}`);
  return failed.length > 0 ? 1 : 0;
}
