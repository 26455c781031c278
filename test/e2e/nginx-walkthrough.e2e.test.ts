// docs/proxies.md, "nginx on one machine, step by step": every command as written (sidecar via npm start, the
// example app, the CLI, the shipped config rendered by the document's sed, nginx in the foreground, the curl),
// then Chromium signs in through nginx on http://app.localhost:8081 and the app sees the identity headers.
import { defineProxyWalkthrough } from './support/proxy-walkthrough.js';

defineProxyWalkthrough('nginx');
