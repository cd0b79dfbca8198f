/** Starts the whole service in-process on a temporary embedded store, for HTTP tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import type { Config } from '../../src/config.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger, type Logger } from '../../src/logger.js';
import type { Service } from '../../src/service.js';
import { startService } from '../../src/service.js';
import { ReadModelService } from '../../src/services/read-models.js';

export interface TestService extends Service {
  readonly dataDir: string;
  /** The path the service is served under (BASE_PATH): "" at the root. */
  readonly basePath: string;
  readonly http: ReturnType<typeof request>;
  /** Registers a user and returns a bearer token for them. */
  login(username?: string, password?: string): Promise<{ token: string; userId: string; username: string }>;
  /** Number of events in the store (to prove that failed requests wrote nothing). */
  eventCount(): Promise<number>;
  /** Waits until every projection has caught up with the store's head. */
  settle(): Promise<void>;
  /**
   * Waits until the erasure reactor has passed the store's head: every `remove` written so far is
   * erased for real (docs/design.md, "Erasure": it runs shortly after the request, not in it).
   */
  erased(): Promise<void>;
  stop(): Promise<void>;
}

let counter = 0;

export async function startTestService(
  env: Record<string, string> = {},
  { logger = silentLogger(), ...options }: { clock?: () => Date; runProjector?: boolean; runScheduler?: boolean; logger?: Logger } = {},
): Promise<TestService> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'podsync-test-'));
  // No rate limiting unless a test asks: tests make many requests from one address.
  const config: Config = loadConfig({ DATA_DIR: dataDir, RATE_LIMIT_PER_MINUTE: '0', ...env });
  // No retention job unless a test asks: a pass at start-up would change what HTTP tests observe.
  const service = await startService(config, logger, { runScheduler: false, ...options });
  const http = request(service.app);
  return {
    ...service,
    dataDir,
    basePath: config.BASE_PATH,
    http,
    async login(username = `user${++counter}`, password = 'correct horse battery') {
      const registered = await http.post(`${config.BASE_PATH}/v1/auth/register`).send({ username, password });
      if (registered.status !== 201) throw new Error(`register failed: ${registered.status} ${JSON.stringify(registered.body)}`);
      const issued = await http.post(`${config.BASE_PATH}/v1/auth/token`).send({ username, password });
      return { token: issued.body.token as string, userId: registered.body.id as string, username };
    },
    async eventCount() {
      const events = await service.stores.eventStore.readAll({});
      return events.length;
    },
    async settle() {
      const head = await service.stores.eventStore.headPosition();
      const reached = await new ReadModelService(service.stores.eventStore, service.stores.readModel).waitFor(service.projector.names, head, 10_000);
      if (!reached) throw new Error('projections did not catch up within 10 s');
    },
    async erased() {
      const head = await service.stores.eventStore.headPosition();
      if (!(await service.erasure.waitFor(head, 10_000))) throw new Error('the erasure reactor did not catch up within 10 s');
    },
    async stop() {
      await service.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
