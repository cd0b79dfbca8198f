/**
 * The environment of a service started as its own process by a test (`node --import tsx
 * src/main.ts`): a fresh data directory, any free port on loopback, JSON logs to read back, and
 * no rate limit — these tests load the service from one token faster than a minute's allowance
 * on a fast machine, and 429s are not what they are about.
 */
export function serviceProcessEnv(dataDir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATA_DIR: dataDir,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_FORMAT: 'json',
    LOG_LEVEL: 'info',
    NODE_ENV: 'production',
    RATE_LIMIT_PER_MINUTE: '0',
  };
}
