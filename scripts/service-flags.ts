/**
 * V8 flags of the service process, as `npm start` and the Docker image run it (package.json's
 * `start`, the Dockerfile's CMD; test/ops/bench.test.ts checks that they agree), so that the load
 * benchmark measures that process. A 64 MB young generation: a sync request allocates tens of MB
 * that live for the request, and with the default 16 MB most of it is copied out by scavenges.
 */
export const SERVICE_V8_FLAGS = ['--max-semi-space-size=64'] as const;
