// The feed parser thread's entry point (see parse-thread.ts). Node 20 does not run the parent's
// `--import tsx` in worker threads, so this plain-JavaScript file registers the TypeScript
// loader for its thread, then loads the worker itself.
import { register } from 'tsx/esm/api';

register();
await import('./parse-worker.ts');
