/**
 * Fuzzing every form of the pages as a signed-in browser would post it, CSRF token included (the
 * API fuzz, test/http/fuzz.test.ts, reaches the pages without one, so only their 403): the
 * routes found by walking the app, the field names read from the pages' own forms, so a new form
 * or field is fuzzed without touching this file. Values are hostile strings, repeated and
 * bracketed fields, broken percent-encodings, bodies past the limit and other content types.
 *
 * Invariants per request: no 5xx; an error answer wrote no event; the session still works;
 * Object.prototype is never polluted.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { TestService } from '../support/service.js';
import { startTestService } from '../support/service.js';
import { appRoutes } from '../support/routes.js';
import { HOSTILE_STRINGS } from '../support/hostile.js';
import { csrfIn, WebClient } from './web-client.js';

const FEED = 'https://fuzz.example.com/feed.xml';
const RUNS_PER_FORM = Number(process.env['FUZZ_RUNS'] ?? 12);
/** Forms that end the session or the account: they cannot be fuzzed with the session they end. */
const ENDING = new Set(['/signout', '/data/delete', '/manage/signout']);
const API_PREFIX = /^\/(v1|api|admin|index\.php|ocs|subscriptions|healthz|readyz|metrics|openapi)/;

/** One field as it goes on the wire: `name=value`, repeated, bracketed, or raw bytes. */
const fieldOnWire = (name: string): fc.Arbitrary<string> => {
  const value = fc.oneof(
    fc.constantFrom(...HOSTILE_STRINGS.filter((text) => text.length < 5_000)),
    fc.string({ maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    // Valid values too, so that some forms get past validation with hostile neighbours.
    fc.constantFrom(FEED, 'https://other.example.com/rss', 'public', 'anonymous', 'private', 'account', 'yes', 'ep-1', 'a long enough password'),
  );
  const encoded = value.map((text) => encodeURIComponent(text.replace(/[\ud800-\udfff]/g, '\ufffd')));
  return fc.oneof(
    encoded.map((text) => `${name}=${text}`),
    fc.tuple(encoded, encoded).map(([a, b]) => `${name}=${a}&${name}=${b}`),
    encoded.map((text) => `${name}[]=${text}`),
    encoded.map((text) => `${name}[a][b]=${text}`),
    fc.constant(`${name}[__proto__][polluted]=1`),
    fc.constantFrom(`${name}=%E0%A4%A`, `${name}=%ZZ`, `${name}=%00`, `${name}`, `${name}==`, `${encodeURIComponent(name)}=${'%FF'.repeat(10)}`),
  );
};

interface FormSuite {
  readonly name: string;
  readonly env: Record<string, string>;
  /** Signs `web` in, and leaves something for the forms to act on. */
  readonly signIn: (web: WebClient) => Promise<void>;
  /** Pages whose forms give the fields and their values. */
  readonly pages: readonly string[];
  /** Which POST routes are this suite's forms. */
  readonly isForm: (path: string) => boolean;
  /** A page only the signed-in see: the session still works. */
  readonly home: string;
  /** Forms the walk must find, and forms whose fields the pages must give. */
  readonly expected: { readonly forms: readonly string[]; readonly templates: readonly string[] };
}

const ADMIN_TOKEN = 'form-fuzz-admin-token-0123456789';
const USERNAME = 'form-fuzzer';

fuzzForms({
  name: "a listener's pages",
  env: {},
  signIn: async (web) => {
    await web.signUp(USERNAME);
    await web.submit('/', '/subscribe', { feed: FEED });
  },
  pages: ['/', '/access', '/privacy', '/data', '/account'],
  isForm: (path) => !API_PREFIX.test(path) && !path.startsWith('/manage') && !ENDING.has(path),
  home: '/',
  expected: {
    forms: ['/subscribe', '/unsubscribe', '/privacy', '/data/erase', '/access/app-passwords', '/account/password', '/data/subscriptions'],
    templates: ['/subscribe', '/privacy', '/data/erase', '/access/tokens'],
  },
});

fuzzForms({
  name: 'the admin pages',
  env: { ADMIN_TOKEN },
  signIn: async (web) => {
    const admin = await web.submit('/manage', '/manage/signin', { token: ADMIN_TOKEN });
    if (admin.status !== 303) throw new Error(`admin sign-in: ${admin.status}`);
    await web.submit('/manage', '/manage/users', { username: USERNAME, password: 'a long enough password' });
  },
  pages: ['/manage', `/manage/users/${USERNAME}`],
  isForm: (path) => path.startsWith('/manage') && !ENDING.has(path),
  home: '/manage',
  expected: {
    forms: ['/manage/users', `/manage/users/${USERNAME}/disable`, `/manage/users/${USERNAME}/password`],
    templates: ['/manage/users', `/manage/users/${USERNAME}/password`],
  },
});

function fuzzForms(suite: FormSuite): void {
  describe(`web forms of ${suite.name}, fuzzed signed in (valid CSRF)`, function () {
    this.timeout(180_000);
    let service: TestService;
    let web: WebClient;
    let fields: string[];
    let forms: string[];
    /** Each form's fields with the values its page gives them (hidden ones, selected options), by action. */
    const templates = new Map<string, Record<string, string>>();

    before(async () => {
      service = await startTestService(suite.env);
      web = new WebClient(service.app);
      await suite.signIn(web);
      const names = new Set<string>(['feed', 'guid', 'privacy', 'confirm', 'name', 'label', 'current', 'password', 'username']);
      for (const page of suite.pages) {
        const html = (await web.get(page)).text;
        for (const match of html.matchAll(/name="([^"]+)"/g)) names.add(match[1]!);
        for (const [, action, inside] of html.matchAll(/<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/g)) {
          if (templates.has(action!)) continue;
          const template: Record<string, string> = {};
          for (const [, name, value] of inside!.matchAll(/<(?:input|select|textarea|button)[^>]*name="([^"]+)"(?:[^>]*value="([^"]*)")?/g))
            template[name!] ??= value ?? FEED;
          delete template['_csrf'];
          templates.set(action!, template);
        }
      }
      names.delete('_csrf');
      fields = [...names].sort();
      forms = appRoutes(service.app)
        .filter((route) => route.method === 'post' && suite.isForm(route.path))
        .map((route) => route.path.replace(/:username/g, USERNAME).replace(/:[A-Za-z0-9_]+/g, '00000000-0000-4000-8000-000000000000'));
    });
    after(async () => service.stop());

    it('finds the forms and their fields', () => {
      expect(forms).to.include.members(suite.expected.forms);
      expect(fields).to.include.members(['username']);
      expect([...templates.keys()]).to.include.members(suite.expected.templates);
    });

    it('answers hostile form bodies with a page (no 5xx), writes nothing on a 4xx, and the session lives on', async () => {
      const csrf = csrfIn((await web.get(suite.home)).text)!;
      const withCsrf = (parts: readonly string[], csrfToo: boolean) => [...parts, ...(csrfToo ? [`_csrf=${csrf}`] : [])].join('&');
      // Any fields of any form, or the form's own fields with one of them made hostile.
      const anyFields = fc
        .tuple(
          fc.subarray(fields, { maxLength: 4 }),
          fc.nat(9).map((roll) => roll > 0),
        )
        .chain(([names, csrfToo]) => fc.tuple(...names.map(fieldOnWire)).map((parts) => withCsrf(parts, csrfToo)));
      const ownFields = (form: string) => {
        const template = Object.entries(templates.get(form) ?? {});
        if (template.length === 0) return anyFields;
        return fc.nat(template.length - 1).chain((index) =>
          fieldOnWire(template[index]![0]).map((hostile) =>
            withCsrf(
              template.map(([name, value], at) => (at === index ? hostile : `${name}=${encodeURIComponent(value)}`)),
              true,
            ),
          ),
        );
      };
      const contentType = fc.oneof(
        { weight: 6, arbitrary: fc.constant('application/x-www-form-urlencoded') },
        fc.constantFrom('application/x-www-form-urlencoded; charset=latin1', 'application/json', 'text/plain', 'multipart/form-data; boundary=x'),
      );
      for (const form of forms) {
        await fc.assert(
          fc.asyncProperty(fc.oneof(anyFields, ownFields(form)), contentType, async (sent, type) => {
            const before = await service.eventCount();
            const answer = await web.agent.post(form).set('Content-Type', type).send(sent);
            const where = `POST ${form} (${type}) ${sent.slice(0, 200)} → ${answer.status} ${answer.text.slice(0, 200)}`;
            expect(answer.status, where).to.be.within(200, 499);
            if (answer.status >= 400) expect(await service.eventCount(), where).to.equal(before);
            expect(({} as Record<string, unknown>)['polluted'], where).to.equal(undefined);
          }),
          { numRuns: RUNS_PER_FORM },
        );
        expect((await web.get(suite.home)).text, `signed in after fuzzing ${form}`).to.include(csrf);
      }
    });

    it('refuses a form body past the limit with a 413 page, writing nothing', async () => {
      const csrf = csrfIn((await web.get(suite.home)).text)!;
      const before = await service.eventCount();
      const answer = await web.agent
        .post(suite.expected.forms[0]!)
        .type('form')
        .send(`_csrf=${csrf}&feed=${'a'.repeat(2 * 1024 * 1024)}`);
      expect(answer.status).to.equal(413);
      expect(await service.eventCount()).to.equal(before);
      expect((await web.get(suite.home)).text).to.include(csrf);
    });
  });
}
