// docs/proxies.md, "Traefik on one machine, step by step": every command as written (sidecar via npm start, the
// example app, the CLI, the shipped dynamic.yml rendered by the document's sed with a small static config, traefik
// in the foreground, the curl), then Chromium signs in through Traefik on http://app.localhost:8083 and the app
// sees the identity headers. The traefik the document finds on PATH is the one .ci/traefik built (or TRAEFIK_BIN).
import { defineProxyWalkthrough } from './support/proxy-walkthrough.js';

defineProxyWalkthrough('traefik');
