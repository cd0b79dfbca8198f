/** Entry point: `npm start`. Configuration from the environment (see README). */
import { ConfigError, loadConfig } from './config.js';
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
const service = await startService(config, logger);
const server = service.app.listen(config.PORT, config.HOST, () => {
  // The bound port, not the configured one: PORT=0 picks a free port (tests, benchmarks read it here).
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.PORT;
  logger.info('podsync listening', { port, host: config.HOST, store: config.STORE, readModel: config.READ_MODEL, dataDir: config.DATA_DIR });
});
server.on('error', (error) => {
  logger.error('HTTP server failed', { error: error.message });
  process.exit(1);
});

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
