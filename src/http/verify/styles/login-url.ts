// The login page's absolute URL, with where the browser was going as `rd` when that is an allowed target.
import { safeRedirect } from '../../redirect.js';
import type { OriginalRequest, SignInAgain, StyleContext } from './style.js';

export function loginUrl(original: OriginalRequest, { config }: StyleContext, again?: SignInAgain): string {
  const rd = safeRedirect(original.url, { allowedOrigins: config.allowedOrigins, allowHttp: config.insecureHttp });
  const query = rd ? `?rd=${encodeURIComponent(rd)}` : '';
  // The step-up page for a `passkey` rule; the login page asking for a fresh sign-in for a `recent:N` rule.
  if (again === 'step-up') return `${config.publicUrl}/login/step-up${query}`;
  if (again === 'fresh') return `${config.publicUrl}/login${query === '' ? '?fresh=1' : `${query}&fresh=1`}`;
  return `${config.publicUrl}/login${query}`;
}
