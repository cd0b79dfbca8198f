/** A cookie-keeping client for the pages: GETs a page, then posts a form with the page's CSRF token. */
import request from 'supertest';
import type { Express } from 'express';
import type { TestService } from '../support/service.js';

export const csrfIn = (html: string) => /name="_csrf" value="([^"]+)"/.exec(html)?.[1];

/** Paths are the site's own ("/access"); `base` is the path it is served under (BASE_PATH). */
export class WebClient {
  readonly agent: ReturnType<typeof request.agent>;
  constructor(
    app: Express,
    private readonly base = '',
  ) {
    this.agent = request.agent(app);
  }

  get(path: string) {
    return this.agent.get(this.base + path);
  }

  /** Posts `fields` to `action` with the CSRF token of the page at `from`. */
  async submit(from: string, action: string, fields: Record<string, string>) {
    const page = await this.get(from);
    const token = csrfIn(page.text);
    if (!token) throw new Error(`no CSRF token on ${from} (${page.status})`);
    return this.agent
      .post(this.base + action)
      .type('form')
      .send({ ...fields, _csrf: token });
  }

  async signUp(username: string, password = 'correct horse battery') {
    const answer = await this.submit('/signup', '/signup', { username, password });
    if (answer.status !== 303) throw new Error(`sign-up failed: ${answer.status} ${answer.text.slice(0, 300)}`);
    return answer;
  }
}

/** Appends `events` through the native API as `username` (an app's sync, seen on the pages). */
export async function sendEvents(service: TestService, username: string, events: unknown[], password = 'correct horse battery'): Promise<void> {
  const { token } = (await service.http.post(`${service.basePath}/v1/auth/token`).send({ username, password }).expect(200)).body as { token: string };
  await service.http.post(`${service.basePath}/v1/events`).set('Authorization', `Bearer ${token}`).send({ events }).expect(201);
}
