// The one URL redaction of the repository's tools (`@write-behind/testkit/redact-url`): the root scripts
// (`npm start`, `npm test`, `npm run db:migrate`) and the benchmark show the servers they use through it.
// Plain JavaScript with JSDoc types, because the root scripts run under bare `node`, without tsx.
//
// It masks what a URL itself says is secret, the same way as the apps' `redactUrl` (packages/demo/src/redact.ts,
// whose `Redactor` also masks the secrets an app's configuration knows): the apps are one package, the tools
// another, and neither depends on the other.

/** What a secret is replaced with. */
export const MASK = '***';

/** `scheme://user:` then the password, up to the last `@` of the run (a password may contain `@`). */
const URL_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/[^\s:@/?#"'<>]*:)[^\s"'<>]*@/gi;
/** Query parameters that carry a password in connection strings (ioredis and pg both read `password`). */
const PASSWORD_PARAMETER = /([?&](?:password|passwd|pass|pwd)=)[^&#\s"'<>]*/gi;

/**
 * A connection URL as it may be shown: its password, and any password query parameter, replaced by
 * {@link MASK}. Also takes a `REDIS_CLUSTER_NODES` list (`redis://user:password@host:port,host:port`), and text
 * that is no URL at all, in which it masks every URL's credentials.
 *
 * @param {string} url
 * @returns {string}
 * @example
 * redactUrl('postgresql://app:hunter2@db:5432/app'); // 'postgresql://app:***@db:5432/app'
 */
export function redactUrl(url) {
  return url.replace(URL_CREDENTIALS, `$1${MASK}@`).replace(PASSWORD_PARAMETER, `$1${MASK}`);
}
