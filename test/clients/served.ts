/**
 * The running service the client replicas and the import talk to: a test service listening on a
 * port of 127.0.0.1, over real HTTP.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { listenServing } from '../../src/http/server.js';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import type { ForwardTime } from './forward-time.js';

export interface Served {
  readonly service: TestService;
  readonly server: Server;
  /** `http://127.0.0.1:PORT`. */
  readonly base: string;
}

/** `env`: configuration for the service (`startTestService`'s), e.g. the production stack's. */
export async function serve(env: Record<string, string> = {}): Promise<Served> {
  const service = await startTestService(env);
  const server = await listenServing(service.app, 0, '127.0.0.1');
  return { service, server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** Stops what {@link serve} started (nothing when it did not get that far). */
export async function unserve(served: Served | undefined): Promise<void> {
  if (!served) return;
  await new Promise<void>((resolve) => served.server.close(() => resolve()));
  await served.service.stop();
}

/**
 * Mocha hooks, inside a `describe`: a service served for its tests, with `time` (if given)
 * installed before the service starts and removed after it stopped, so that no running code sees
 * the clock go back; `env` as {@link serve}'s. Register it before the hooks that use it; they run after it.
 */
export function servedForTests(time?: ForwardTime, env: Record<string, string> = {}): () => Served {
  let served: Served | undefined;
  before(async () => {
    time?.install();
    served = await serve(env);
  });
  after(async () => {
    try {
      await unserve(served);
    } finally {
      time?.uninstall();
    }
  });
  return () => {
    if (!served) throw new Error('the service is not served yet (use it in a hook or a test)');
    return served;
  };
}
