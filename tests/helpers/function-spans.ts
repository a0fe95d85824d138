// How long each function of a TypeScript file is, without a TypeScript parser
// (the project's TypeScript 7 has no JS API): by its braces.
/**
 * The functions of a TypeScript file and their lengths in lines, read by braces: a body is a `{` right after `=>`
 * or after a parameter list's `)` (and a return type), not after if, for, while, switch or catch. Strings,
 * template literals' text, comments and escaped characters are skipped.
 */
export function functionSpans(text: string): Array<{ line: number; lines: number }> {
  const spans: Array<{ line: number; lines: number }> = [];
  // Each open brace: where, whether a function's body, or the end of a template literal's ${...}.
  const open: Array<{ line: number; kind: 'fn' | 'block' | 'template' }> = [];
  let line = 1;
  let prefix = '';
  let state: 'code' | "'" | '"' | '`' | 'line' | 'block' = 'code';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    const next = text[i + 1];
    if (ch === '\n') {
      line++;
      prefix = '';
      if (state === 'line') state = 'code';
      continue;
    }
    if (state === 'line') continue;
    if (state === 'block') {
      if (ch === '*' && next === '/') {
        state = 'code';
        i++;
      }
      continue;
    }
    if (state === "'" || state === '"' || state === '`') {
      if (ch === '\\') i++;
      else if (ch === state) state = 'code';
      else if (state === '`' && ch === '$' && next === '{') {
        open.push({ line, kind: 'template' });
        state = 'code';
        i++;
      }
      continue;
    }
    if (ch === '/' && next === '/') state = 'line';
    else if (ch === '/' && next === '*') {
      state = 'block';
      i++;
    } else if (ch === '/' && /(^|[(,=:[!&|?{};+\-*%<>~^]|\breturn|\btypeof|\bcase)$/.test(prefix.trimEnd())) {
      // A regular expression literal: to its closing slash, outside a character class.
      let inClass = false;
      for (i++; i < text.length && text[i] !== '\n'; i++) {
        if (text[i] === '\\') i++;
        else if (text[i] === '[') inClass = true;
        else if (text[i] === ']') inClass = false;
        else if (text[i] === '/' && !inClass) break;
      }
      prefix += '/re/';
      continue;
    } else if (ch === "'" || ch === '"' || ch === '`') state = ch;
    else if (ch === '\\') i++;
    else if (ch === '{') {
      const before = prefix.trimEnd();
      const fn = /=>$/.test(before) || (/\)(\s*:\s*[^(){};=]+)?$/.test(before) && !/^\s*(\}\s*)?(if|for|while|switch|catch|else if)\b/.test(prefix));
      open.push({ line, kind: fn ? 'fn' : 'block' });
    } else if (ch === '}') {
      const o = open.pop();
      if (o?.kind === 'template') state = '`';
      if (o?.kind === 'fn') spans.push({ line: o.line, lines: line - o.line + 1 });
    }
    prefix += ch;
  }
  if (open.length > 0 || state !== 'code') throw new Error(`read ${open.length} brace(s) left open (state ${state}): this reader cannot follow the file`);
  return spans;
}
