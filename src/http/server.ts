/**
 * The service's HTTP server: Node's server, building each request and response directly as
 * Express's own objects.
 *
 * Express gives `req` and `res` its methods by changing their prototypes when a request enters
 * the app (`Object.setPrototypeOf` in `app.handle`). V8 then keeps each request's objects alive
 * past the next scavenge: under a steady load nearly everything a request allocated around its
 * `req`/`res` (router state, listeners, write buffers, ~6 MB per scavenge at 2,000 req/s) was
 * copied and promoted, and every scavenge paused the thread ~9 ms; with the prototypes right
 * from construction, `setPrototypeOf` finds nothing to change and those objects die young
 * (measurements in bench/RESULTS.md; the technique is expressjs/express#5998's). The app is
 * built after the port is bound, so the prototypes are the app's from `serve(app)` on; requests
 * before that get the plain Node objects (and the caller's "starting" answer).
 */
import { IncomingMessage, ServerResponse, createServer } from 'node:http';
import type { RequestListener, Server, ServerOptions } from 'node:http';
import type { Express } from 'express';

export interface ServiceServer {
  readonly server: Server;
  /** From now on requests are built as `app`'s request and response objects, and `app` answers them. */
  serve(app: Express): void;
}

/** `createServer(options)`: `starting` answers until `serve(app)`. */
export function createServiceServer(options: ServerOptions, starting: RequestListener): ServiceServer {
  const Request = withLatePrototype(IncomingMessage);
  const Response = withLatePrototype(ServerResponse);
  let handler: RequestListener = starting;
  const server = createServer({ ...options, IncomingMessage: Request.type, ServerResponse: Response.type }, (req, res) => handler(req, res));
  return {
    server,
    serve(app) {
      Request.prototypeFrom(app.request);
      Response.prototypeFrom(app.response);
      handler = app;
    },
  };
}

/**
 * A constructor for Node's server to call with `new` in place of `base` (IncomingMessage,
 * ServerResponse), whose instances get a prototype that can be set later (a class's `prototype`
 * cannot be reassigned). It calls `base` as a plain function, which Node 20's are:
 * `Reflect.construct(base, args, Late)` builds the same object, yet its objects survived
 * scavenges again (~2 MB each in a plain Express app at 2,000 req/s, none with the call).
 */
function withLatePrototype<Base extends abstract new (...args: never[]) => object>(base: Base) {
  const construct = base as unknown as (this: object, ...args: unknown[]) => void;
  function Late(this: object, ...args: unknown[]): void {
    construct.apply(this, args);
  }
  Late.prototype = base.prototype as object;
  return {
    type: Late as unknown as Base,
    prototypeFrom(prototype: object) {
      Late.prototype = prototype;
    },
  };
}

/** `app` on a service server listening on `host:port` (0: a free port), as tests and in-process benchmarks run it. */
export async function listenServing(app: Express, port: number, host: string): Promise<Server> {
  const { server, serve } = createServiceServer({}, app);
  serve(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
