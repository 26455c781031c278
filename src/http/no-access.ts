// The "no access" answer on a URL of its own, for nginx: auth_request never passes /verify's body on, so the
// shipped nginx config sends a refused request here (`error_page 403`), and the browser sees the page Caddy and
// Traefik pass on from /verify (an API client the same JSON). Always 403; it reads only the device's own cookies.
import { Hono } from 'hono';
import { isServiceName } from '../core/identity.js';
import { messagePage, noAccessPage } from '../views/pages.js';
import { signedIn } from './account.js';
import type { AppEnv } from './context.js';
import { errorBody } from './responses.js';
import { isPageLoad } from './verify/styles/forward-auth.js';

export const noAccessRoutes = new Hono<AppEnv>().get('/login/no-access', async (c) => {
  // Hono joins a repeated header into one value, which a page-load check then does not take for `navigate`.
  const header = (name: string) => {
    const value = c.req.header(name);
    return value === undefined ? [] : [value];
  };
  if (!isPageLoad({ header })) {
    return c.body(errorBody('noAccess'), 403, { 'Content-Type': 'application/json' });
  }
  const services = c.req.queries('service') ?? [];
  const service = services.length === 1 && isServiceName(services[0]) ? services[0] : undefined;
  const me = service === undefined ? undefined : await signedIn(c);
  if (service === undefined || !me) {
    return c.html(messagePage('No access', 'You have no access to this page. If you should have, ask whoever runs this site.'), 403);
  }
  return c.html(noAccessPage({ email: me.user.email, service, unknown: false }), 403);
});
