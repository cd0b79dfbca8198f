import { WrongExpectedVersionError } from '../stores/event-store.js';

/**
 * Runs an optimistic read-decide-append step again when another writer got in first.
 * Bounded, with a small jittered backoff so two devices syncing at once both land.
 */
export async function retryOnConflict<T>(step: () => Promise<T>, attempts = 8): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      if (!(error instanceof WrongExpectedVersionError) || attempt >= attempts) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * attempt));
    }
  }
}
