/**
 * Security headers for pages (helmet): a CSP without 'unsafe-inline' (the pages have no inline
 * script or style), no framing, no referrer (a login-flow URL holds a secret), and the static
 * stylesheet they load.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import type { RequestHandler } from 'express';
import helmet from 'helmet';

export const pageHeaders: RequestHandler = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'none'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'https:', 'data:'],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
      baseUri: ["'none'"],
    },
  },
  referrerPolicy: { policy: 'no-referrer' },
});

export const staticFiles: RequestHandler = express.static(path.join(path.dirname(fileURLToPath(import.meta.url)), 'static'), { maxAge: '1h', index: false });
