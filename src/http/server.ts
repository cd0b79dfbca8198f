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
import type { Socket } from 'node:net';
import type { Express } from 'express';

export interface ServiceServer {
  readonly server: Server;
  /** From now on requests are built as `app`'s request and response objects, and `app` answers them. */
  serve(app: Express): void;
}

/** `createServer(options)`: `starting` answers until `serve(app)`. */
export function createServiceServer(options: ServerOptions, starting: RequestListener): ServiceServer {
  const Request = appRequestClass();
  const Response = appResponseClass();
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
 * A constructor for Node's server to call with `new`: an IncomingMessage whose prototype can be
 * set later (a class's `prototype` cannot be reassigned). It calls Node's constructors as plain
 * functions, which they are in Node 20: `Reflect.construct(IncomingMessage, args, AppRequest)`
 * builds the same object, yet its objects survived scavenges again (~2 MB each in a plain
 * Express app at 2,000 req/s, none with the call).
 */
function appRequestClass() {
  const construct = IncomingMessage as unknown as (this: IncomingMessage, socket: Socket) => void;
  function AppRequest(this: IncomingMessage, socket: Socket): void {
    construct.call(this, socket);
  }
  AppRequest.prototype = IncomingMessage.prototype as object;
  return {
    type: AppRequest as unknown as typeof IncomingMessage,
    prototypeFrom(prototype: object) {
      AppRequest.prototype = prototype;
    },
  };
}

function appResponseClass() {
  const construct = ServerResponse as unknown as (this: ServerResponse, req: IncomingMessage, options?: unknown) => void;
  function AppResponse(this: ServerResponse, req: IncomingMessage, options?: unknown): void {
    construct.call(this, req, options);
  }
  AppResponse.prototype = ServerResponse.prototype as object;
  return {
    type: AppResponse as unknown as typeof ServerResponse,
    prototypeFrom(prototype: object) {
      AppResponse.prototype = prototype;
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
