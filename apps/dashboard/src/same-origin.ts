/**
 * Refuses state-changing requests that another site made a browser send. The dashboard's credentials are
 * HTTP Basic, which a browser attaches to every request to the dashboard, whoever's page started it: without
 * this check, any page an operator visits could post a form that adds, retries or deletes flush jobs
 * (cross-site request forgery).
 */
import type { Request, RequestHandler } from 'express';

/** Methods that change nothing, and so need no check. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The `error.code` of the 403 answer. */
export const CROSS_SITE_REFUSED = 'CROSS_SITE_REFUSED';

/** The request headers the check reads. */
export interface OriginHeaders {
  host?: string | undefined;
  origin?: string | undefined;
  'sec-fetch-site'?: string | undefined;
}

/**
 * Why a request is not known to come from the dashboard's own pages, or `undefined` when it may go on.
 * `Sec-Fetch-Site` (sent by every current browser) must say `same-origin`; `Origin`, when present, must
 * name the host the request was sent to. A request with neither header is let through: browsers send at
 * least one of them on every cross-site POST, and scripts (curl, the README's retry) send none.
 *
 * @example
 * ```ts
 * crossSiteReason({ host: 'ops:3001', origin: 'https://evil.example' }); // 'Origin https://evil.example ...'
 * crossSiteReason({ host: 'ops:3001' }); // undefined: curl
 * ```
 */
export function crossSiteReason(headers: OriginHeaders): string | undefined {
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return `Sec-Fetch-Site is ${JSON.stringify(site)}`;
  const origin = headers.origin;
  if (origin === undefined) return undefined;
  if (!sameHost(origin, headers.host)) {
    return `Origin ${JSON.stringify(origin)} is not the dashboard's host ${JSON.stringify(headers.host ?? '')}`;
  }
  return undefined;
}

/** Whether `origin` (`scheme://host[:port]`) names `host` (the `Host` header), default ports aside. */
function sameHost(origin: string, host: string | undefined): boolean {
  if (!host) return false;
  try {
    // `Origin: null` (a sandboxed frame, a file) is no URL: refused.
    const from = new URL(origin);
    // Read the Host header as a URL of the origin's scheme, so that `:443` and no port compare equal.
    return from.host === new URL(`${from.protocol}//${host}`).host;
  } catch {
    return false;
  }
}

/**
 * Middleware answering 403 `CROSS_SITE_REFUSED` to a state-changing request that {@link crossSiteReason}
 * refuses, before authentication (the browser would attach the operator's credentials). `onRefused` is
 * told why, for the log.
 */
export function sameOriginOnly(onRefused: (req: Request, reason: string) => void): RequestHandler {
  return (req, res, next) => {
    if (SAFE_METHODS.has(req.method)) return next();
    const reason = crossSiteReason(req.headers);
    if (reason === undefined) return next();
    onRefused(req, reason);
    res.status(403).json({
      error: {
        code: CROSS_SITE_REFUSED,
        message: 'a request that changes something must come from the dashboard itself',
      },
    });
  };
}
