import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();

/**
 * HTTP Basic authentication. Both names are compared as SHA-256 digests with `timingSafeEqual`, so the time
 * taken says nothing about how much of either matched, nor about their lengths; both comparisons always run.
 */
export function basicAuth({
  user,
  password,
  realm = 'write-behind dashboard',
}: {
  user: string;
  password: string;
  realm?: string;
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
    }
    res
      .status(401)
      .set('WWW-Authenticate', `Basic realm="${realm}", charset="UTF-8"`)
      .json({ error: { code: 'UNAUTHORIZED', message: 'this dashboard needs a user name and password' } });
  };
}
