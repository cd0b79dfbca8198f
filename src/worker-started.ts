/** Making and starting the service's worker threads (the projector's, retention's snapshot threads, …). */
import { setFlagsFromString } from 'node:v8';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Makes every worker thread of the service, each with the young generation V8 gives a thread by
 * default (16 MB semi-spaces) unless `options.resourceLimits` asks for another.
 *
 * `npm start` gives the process 64 MB semi-spaces (scripts/service-flags.ts) for the thread that
 * serves requests, where a sync's answer allocates tens of MB that live for the request. V8 reads
 * that flag each time it configures an isolate's heap, and the flag overrides a Worker's
 * `resourceLimits.maxYoungGenerationSizeMb`: every thread got the same young generation (under
 * `npm run bench -- soak` the projector thread held 128 MB of new space with 18 MB of its heap
 * live). The main isolate's heap is configured by now, so the flag is cleared for the isolates
 * made after it (bench/RESULTS.md, "Young generations per thread"; test/worker-started.test.ts).
 */
export function createWorker(filename: string | URL, options: WorkerOptions = {}): Worker {
  setFlagsFromString('--max-semi-space-size=0');
  return new Worker(filename, options);
}

/**
 * Resolves once `worker` posts a message `ready` accepts; rejects when `failed` reads one as a
 * failure to start, when the thread fails or exits first, or when it says nothing within
 * `timeoutMs`. `name` says which thread in the errors ("the projector thread").
 */
export function workerStarted<M>(
  worker: Worker,
  name: string,
  ready: (message: M) => boolean,
  failed: (message: M) => string | undefined = () => undefined,
  timeoutMs = 30_000,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within ${timeoutMs / 1000} s`)), timeoutMs);
    const settle = (error?: Error) => {
      clearTimeout(timer);
      if (error) reject(error);
      else resolve();
    };
    worker.on('message', (message: M) => {
      const failure = failed(message);
      if (failure !== undefined) settle(new Error(`${name} could not start: ${failure}`));
      else if (ready(message)) settle();
    });
    worker.once('error', (error) => settle(error));
    worker.once('exit', (code) => settle(new Error(`${name} exited during start (code ${code})`)));
  });
}
