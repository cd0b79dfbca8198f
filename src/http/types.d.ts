import type { Principal } from '../services/accounts.js';

declare global {
  namespace Express {
    interface Request {
      /** Request id (from `X-Request-Id` when sane, else generated), on every log line. */
      id: string;
      principal?: Principal;
    }
  }
}
export {};
