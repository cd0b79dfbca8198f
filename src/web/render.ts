/**
 * Server-rendered pages: Eta templates in src/web/views, auto-escaped (`<%= %>` escapes; the
 * views never use the raw form for user data). Eta was chosen for being small, maintained,
 * typed and dependency-free, with escaping on by default (README, "Libraries").
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import type { Response } from 'express';
import { basePathOf } from '../http/base-path.js';
import { FORMAT } from './format.js';

const views = path.join(path.dirname(fileURLToPath(import.meta.url)), 'views');
const eta = new Eta({ views, autoEscape: true, cache: true });

/**
 * Every view gets `it.format` and `it.base`, the path the site is served under (BASE_PATH): each
 * of the site's own addresses in a view is written `<%= it.base %>/...`.
 */
export function renderPage(res: Response, view: string, data: Record<string, unknown>): string {
  return eta.render(view, { ...data, format: FORMAT, base: basePathOf(res) });
}
