/** Starting a worker thread of the service's (the projector's, retention's snapshot threads). */
import type { Worker } from 'node:worker_threads';

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
