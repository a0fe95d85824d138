// A results store's URL: the one place it is read. `--results` and the pool
// file's `results:` both name a PostgreSQL database; a password belongs in
// PGPASSWORD (a URL is shown in messages, transcripts and the pool file is
// shared), so the pool file refuses one and a message never shows one.

/** postgres:// or postgresql://, as libpq and node-postgres take them. */
const POSTGRES_URL = /^postgres(ql)?:\/\//;

const FORM = 'postgresql://user@host/db, or postgresql:///db?host=/run/postgresql';

/** A database URL as messages may show it: without its password. */
export function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    // Not a URL at all: still never show what looks like user:password@.
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}

/** Why this is not a store's URL (null: it is one). `passwordIn: 'refused'` for files others read (the pool file). */
export function storeUrlProblem(url: string, passwordIn: 'refused' | 'allowed'): string | null {
  if (!POSTGRES_URL.test(url))
    return passwordIn === 'refused' ? `a PostgreSQL URL without a password (${FORM}; the password from PGPASSWORD)` : `a PostgreSQL URL (${FORM})`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `a PostgreSQL URL (${FORM}): this one cannot be parsed`;
  }
  if (passwordIn === 'refused' && parsed.password) return `a PostgreSQL URL without a password (${FORM}; the password from PGPASSWORD)`;
  return null;
}
