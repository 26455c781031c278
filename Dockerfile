# syntax=docker/dockerfile:1
# passwordless-auth: the sidecar (dist/main.js) and its admin CLI (dist/cli.js) in one small image.
#
#   docker build -t passwordless-auth .
#   docker run --rm -p 8080:8080 --env-file .env passwordless-auth
#   docker run --rm --env-file .env passwordless-auth node dist/cli.js user add --email you@example.com
#
# All three stages use the same Debian (bookworm) Node image: better-sqlite3 is a native addon, and a binary
# compiled (or downloaded) for one libc does not load on another. Change NODE_IMAGE in one place only.
ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: TypeScript → dist/ --------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# A C++ toolchain in case no prebuilt better-sqlite3 binary matches this Node version and CPU.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# scripts/build.mjs is npm's prepare step: it builds nothing until src/ is there (the `npm run build` below).
COPY package.json package-lock.json ./
COPY scripts/build.mjs ./scripts/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

# --- prod-deps: runtime dependencies only, native addons built against this image --------------------------
# A stage of its own (rather than `npm ci --omit=dev` in the runtime stage) so the compiler never ships.
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
COPY scripts/build.mjs ./scripts/
# --omit=optional too: TypeScript, a dev dependency, is also valibot's optional peer, which --omit=dev alone keeps
# (30 MB with its native compiler); the only other optional package, pg-cloudflare, is for Cloudflare Workers.
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund && npm cache clean --force

# --- runtime ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    PORT=8080
WORKDIR /app
# Code and dependencies belong to root and are read-only for the service user.
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The migrations are read at start-up from ../../sql relative to dist/store/.
COPY sql ./sql
# The only writable place, for an embedded SQLite database (DATABASE_URL=sqlite:./data/auth.db). With MySQL
# the container can run with a read-only root file system (compose.yaml does).
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME ["/app/data"]
# The unprivileged user the official Node images provide (uid 1000).
USER node
EXPOSE 8080
# The slim image has no curl or wget; Node's fetch does the job. /healthz answers 200 once the server listens,
# which is after the migrations have run (/readyz also checks the database on every call). If HOST is set to a
# specific address, 127.0.0.1 may not be listening: adjust.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz',{signal:AbortSignal.timeout(4000)}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/main.js"]
