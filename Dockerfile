# Multi-stage: install and type-check with the full toolchain, ship only what runs.
ARG NODE_VERSION=20

FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /app
COPY package.json package-lock.json ./
# better-sqlite3 (the embedded store) fetches a prebuilt native module for this platform, or
# compiles one with the python3, make and g++ this image has.
RUN npm ci
COPY . .
RUN npx tsc --noEmit && npm prune --omit=dev

# The same Debian release (bookworm, glibc) and Node major as the build stage, so the native
# module built or fetched there loads here; slim keeps libstdc++, which it (and node) needs.
FROM node:${NODE_VERSION}-bookworm-slim
# HOST: every interface, as a container's port is only reachable through it (the default outside
# a container is 127.0.0.1, see docs/security.md).
ENV NODE_ENV=production PORT=8080 HOST=0.0.0.0 DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json /app/tsconfig.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/src ./src
COPY --from=build /app/projections ./projections
# Operator scripts (npm run admin / replay / retention) run inside the container too.
COPY --from=build /app/scripts ./scripts
# The embedded store's directory, writable by the unprivileged user (used when STORE or
# READ_MODEL is embedded; the compose stack uses EventStoreDB and MongoDB).
RUN mkdir -p /data && chown node:node /data
VOLUME /data
USER node
EXPOSE 8080
# Neither curl nor wget is in the slim image: node's fetch asks /readyz (under BASE_PATH when set).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + (process.env.BASE_PATH || '').replace(/\\/+$/, '') + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node itself is PID 1 (not npm, which would not pass SIGTERM on), so graceful shutdown works.
# A 64 MB young generation (semi-space): a sync request allocates tens of MB that live for the
# request, and with the default 16 MB most of it is copied out by scavenges (a third of a
# full resync's CPU).
CMD ["node", "--max-semi-space-size=64", "--import", "tsx", "src/main.ts"]
