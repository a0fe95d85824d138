/** POSIX single-quote a value for interpolation into a shell command line. */
export function shq(value: string | number): string {
  const s = String(value);
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Joins words into a command line, quoting each. */
export function cmd(...words: Array<string | number>): string {
  return words.map(shq).join(' ');
}
