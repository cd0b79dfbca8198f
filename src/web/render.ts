/**
 * Server-rendered pages: Eta templates in src/web/views, auto-escaped (`<%= %>` escapes; the
 * views never use the raw form for user data). Eta was chosen for being small, maintained,
 * typed and dependency-free, with escaping on by default (README, "Libraries").
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';
import { FORMAT } from './format.js';

const views = path.join(path.dirname(fileURLToPath(import.meta.url)), 'views');
const eta = new Eta({ views, autoEscape: true, cache: true });

export function renderPage(view: string, data: Record<string, unknown>): string {
  return eta.render(view, { ...data, format: FORMAT });
}
