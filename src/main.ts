/** Entry point: `npm start`. Configuration from the environment (see README). */
import { ConfigError, loadConfig } from './config.js';
import { createServiceServer } from './http/server.js';
import { createLogger } from './logger.js';
import { drain, startService } from './service.js';

let config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}

const logger = createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT, production: config.NODE_ENV === 'production' });

// The port first: a second instance on a busy port must fail before it starts a projector or a
// scheduler (and before it says it listens). Until the service is up, requests get 503.
// Slow or unfinished requests are cut off (408) after REQUEST_TIMEOUT_MS, headers after at most
// 10 s of it; Node checks every connection at this interval. Idle keep-alive connections stay
// open KEEP_ALIVE_TIMEOUT_MS, past a reverse proxy's own idle timeout (config.ts says why).
const { server, serve } = createServiceServer(
  {
    requestTimeout: config.REQUEST_TIMEOUT_MS,
    headersTimeout: Math.min(10_000, config.REQUEST_TIMEOUT_MS),
    connectionsCheckingInterval: Math.min(1000, config.REQUEST_TIMEOUT_MS / 2),
  },
  (_req, res) => {
    res
      .writeHead(503, { 'Retry-After': '1', 'Content-Type': 'application/json' })
      .end(JSON.stringify({ error: 'starting', message: 'The service is starting', details: null }));
  },
);
server.keepAliveTimeout = config.KEEP_ALIVE_TIMEOUT_MS;
try {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PORT, config.HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
} catch (error) {
  logger.error(bindFailure(error as NodeJS.ErrnoException, `${config.HOST}:${config.PORT}`));
  process.exit(1);
}
server.on('error', (error) => {
  logger.error('HTTP server failed', { error: error.message });
  process.exit(1);
});
const service = await startService(config, logger);
serve(service.app);
// The bound port, not the configured one: PORT=0 picks a free port (tests, benchmarks read it here).
const address = server.address();
const port = typeof address === 'object' && address !== null ? address.port : config.PORT;
logger.info('podsync listening', {
  port,
  host: config.HOST,
  store: config.STORE,
  readModel: config.READ_MODEL,
  dataDir: config.DATA_DIR,
  ...(config.BASE_PATH ? { basePath: config.BASE_PATH } : {}),
});

/** Why the port could not be bound, naming the variables that choose it. */
function bindFailure(error: NodeJS.ErrnoException, where: string): string {
  if (error.code === 'EADDRINUSE') return `Cannot listen on ${where}: the port is in use (another instance?). Set PORT to a free port.`;
  if (error.code === 'EACCES') return `Cannot listen on ${where}: not permitted. Set PORT to a port above 1023.`;
  if (error.code === 'EADDRNOTAVAIL') return `Cannot listen on ${where}: no such address here. Set HOST to an address of this machine.`;
  return `Cannot listen on ${where} (PORT, HOST): ${error.message}`;
}

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info('shutting down', { signal });
  const hardStop = setTimeout(() => {
    logger.error('shutdown took longer than 10 s; exiting');
    process.exit(1);
  }, 10_000);
  hardStop.unref();
  service.markDraining();
  const started = Date.now();
  await drain(server, 5_000);
  logger.info('HTTP drained', { ms: Date.now() - started });
  try {
    await service.close();
  } catch (error) {
    logger.error('closing the stores failed', { error: error instanceof Error ? error.message : String(error) });
    process.exit(1);
  }
  logger.info('stopped', { ms: Date.now() - started });
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
