import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request, RequestHandler } from 'express';

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/** The longest user name a failed login reports: the name is whatever the client sent. */
const MAX_REPORTED_USER = 64;

/** A failed login as it may be logged: never the password that was tried. */
export interface FailedLogin {
  /** The user name tried (cut to 64 characters); `undefined` when the header held no `user:password`. */
  user: string | undefined;
  /** The client's address (`req.ip`). */
  client: string | undefined;
}

/** Whether the request carries HTTP Basic credentials at all (right or wrong). */
export function hasBasicCredentials(req: Request): boolean {
  const [scheme, encoded] = (req.headers.authorization ?? '').split(' ', 2);
  return scheme?.toLowerCase() === 'basic' && Boolean(encoded);
}

/**
 * The user name of a request's HTTP Basic credentials (cut to 64 characters), or `undefined` without any.
 * Behind {@link basicAuth} it names the operator who signed in: the actor of the audit lines.
 */
export function basicUser(req: Request): string | undefined {
  const [scheme, encoded] = (req.headers.authorization ?? '').split(' ', 2);
  if (scheme?.toLowerCase() !== 'basic' || !encoded) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(0, colon).slice(0, MAX_REPORTED_USER) : undefined;
}

/**
 * HTTP Basic authentication. Both names are compared as SHA-256 digests with `timingSafeEqual`, so the time
 * taken says nothing about how much of either matched, nor about their lengths; both comparisons always run.
 * A request that brings wrong credentials is reported to `onFailure` (one without any is the first step of
 * every browser's login, and is not).
 */
export function basicAuth({
  user,
  password,
  realm = 'write-behind dashboard',
  onFailure = () => {},
}: {
  user: string;
  password: string;
  realm?: string;
  onFailure?: (attempt: FailedLogin) => void;
}): RequestHandler {
  const expectedUser = digest(user);
  const expectedPassword = digest(password);
  return (req, res, next) => {
    const [scheme, encoded] = (req.headers.authorization ?? '').split(' ', 2);
    if (scheme?.toLowerCase() === 'basic' && encoded) {
      const decoded = Buffer.from(encoded, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const userMatches = timingSafeEqual(digest(decoded.slice(0, Math.max(colon, 0))), expectedUser);
      const passwordMatches = timingSafeEqual(digest(decoded.slice(colon + 1)), expectedPassword);
      if (colon >= 0 && userMatches && passwordMatches) return next();
      // Without a colon the whole value may be a password typed in the wrong place: no user is reported.
      onFailure({
        user: colon >= 0 ? decoded.slice(0, colon).slice(0, MAX_REPORTED_USER) : undefined,
        client: req.ip,
      });
    }
    res
      .status(401)
      .set('WWW-Authenticate', `Basic realm="${realm}", charset="UTF-8"`)
      .json({ error: { code: 'UNAUTHORIZED', message: 'this dashboard needs a user name and password' } });
  };
}
