// The login page's absolute URL, with where the browser was going as `rd` when that is an allowed target.
import { safeRedirect } from '../../redirect.js';
import type { OriginalRequest, StyleContext } from './style.js';

export function loginUrl(original: OriginalRequest, { config }: StyleContext): string {
  const rd = safeRedirect(original.url, { allowedOrigins: config.allowedOrigins, allowHttp: config.insecureHttp });
  return `${config.publicUrl}/login${rd ? `?rd=${encodeURIComponent(rd)}` : ''}`;
}
