/** Helpers for the gpodder API tests: users with Basic credentials, cookies, request shortcuts. */
import type { Response } from 'supertest';
import type { TestService } from '../../support/service.js';

export const PASSWORD = 'correct horse battery';

export interface GpodderTestUser {
  readonly username: string;
  readonly userId: string;
  /** A native bearer token of the same account. */
  readonly token: string;
  /** `Authorization` header value for HTTP Basic. */
  readonly basic: string;
}

export const basicHeader = (username: string, password: string) => `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

let counter = 0;

export async function gpodderUser(service: TestService, username = `gp${++counter}`): Promise<GpodderTestUser> {
  const { token, userId } = await service.login(username, PASSWORD);
  return { username, userId, token, basic: basicHeader(username, PASSWORD) };
}

/** The `name=value` of the session cookie a response set, if any. */
export function sessionCookie(response: Response): string | undefined {
  const header = response.headers['set-cookie'] as unknown as string[] | undefined;
  const cookie = header?.find((value) => value.startsWith('sessionid='));
  return cookie?.split(';')[0];
}

export const FEED_A = 'https://feeds.example.com/a.xml';
export const FEED_B = 'https://feeds.example.com/b.xml';
export const FEED_C = 'https://feeds.example.com/c.xml';

/** An episode action as gpodder clients send it. */
export function action(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { podcast: FEED_A, episode: 'https://cdn.example.com/a/1.mp3', action: 'download', timestamp: '2026-02-01T10:00:00', ...fields };
}
