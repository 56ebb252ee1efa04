/**
 * The dashboard's security headers, from helmet: one strict set on every response (401s, JSON, errors
 * included), and a Content-Security-Policy of their own for the two pages that run scripts. Every policy
 * forbids framing (`frame-ancestors 'none'`, and `X-Frame-Options: DENY` for older browsers), so no other
 * site can overlay the dashboard's buttons with its own (clickjacking).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import helmet, { contentSecurityPolicy } from 'helmet';

type Directives = Record<string, (string | ((req: IncomingMessage, res: ServerResponse) => string))[]>;

/** What every policy ends with: no framing, no `<base>` of another site, no plugins. */
const ALWAYS = {
  frameAncestors: ["'none'"],
  objectSrc: ["'none'"],
} satisfies Directives;

/** Responses that are no page (JSON, metrics, 401s, errors): nothing may load or run. */
const NOTHING: Directives = {
  defaultSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  ...ALWAYS,
};

/**
 * Bull Board's single-page app: its scripts and stylesheet from its own `static/` folder, its API on the
 * same origin, and inline styles (its loading screen and React's `style` attributes). Its page asks for
 * Google Fonts too; they are not allowed, so an operator's browser calls nobody else (the board falls back
 * to a system font).
 */
const BULL_BOARD: Directives = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'", 'data:'],
  connectSrc: ["'self'"],
  // The page sets `<base href>` to the board's own path.
  baseUri: ["'self'"],
  formAction: ["'self'"],
  ...ALWAYS,
};

/** The nonce of a response's page, made by {@link pageHeaders}. */
export function cspNonce(res: ServerResponse): string {
  const nonce = nonces.get(res);
  if (!nonce) throw new Error('pageHeaders() must run before the page is rendered');
  return nonce;
}

const nonces = new WeakMap<ServerResponse, string>();
const withNonce = (_req: IncomingMessage, res: ServerResponse) => `'nonce-${cspNonce(res)}'`;

/**
 * The dashboard's own pages (overview, key inspector, failures): only the scripts and stylesheets whose tags
 * carry the response's fresh nonce load (the app's own files, uPlot among them), and they only call the
 * dashboard's own API. No inline script or style runs; uPlot sizes its elements through the CSSOM, which a
 * policy does not govern.
 */
const PAGES: Directives = {
  defaultSrc: ["'none'"],
  scriptSrc: [withNonce],
  styleSrc: [withNonce],
  connectSrc: ["'self'"],
  baseUri: ["'none'"],
  formAction: ["'none'"],
  ...ALWAYS,
};

/** The headers of every response: mount first, before anything can answer. */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: { useDefaults: false, directives: NOTHING },
    xFrameOptions: { action: 'deny' },
    // The dashboard cannot tell whether a TLS proxy serves it; HSTS belongs to that proxy, which knows.
    strictTransportSecurity: false,
  }) as RequestHandler;
}

/** Bull Board's policy, replacing the strict one on its pages, assets and API. */
export function bullBoardHeaders(): RequestHandler {
  return contentSecurityPolicy({ useDefaults: false, directives: BULL_BOARD }) as RequestHandler;
}

/** A page's policy, with a new nonce for this response (read it with {@link cspNonce}). */
export function pageHeaders(): RequestHandler {
  const policy = contentSecurityPolicy({ useDefaults: false, directives: PAGES });
  return (req, res, next) => {
    nonces.set(res, randomBytes(16).toString('base64'));
    policy(req, res, next);
  };
}
