// Frame sizes as the throughput suite measures them and its results key them:
// one size (64), the field's IMIX ('imix': 64, 570 and 1518 bytes at 7:4:1),
// or a weighted mix of the testbed's ('mix-64x3-1518x1'). A size is a number
// in every result, history line and store row, as before mixes existed; a mix
// is its name, from which its sizes and weights read back. Pure.
import { IMIX } from './traffic-schema.js';

/** A weighted list of frame sizes (bytes on the wire, FCS included): each size its weight's number of times a round. */
export type SizeWeights = ReadonlyArray<{ size: number; weight: number }>;
/** What the testbed names at throughput.frameSizes (and traffic.frameSize): a size or a weighted list (`imix` reads as IMIX's). */
export type FrameMix = number | SizeWeights;
/** A frame size or a mix as results, stage ids and file names key it: the size, `imix`, or `mix-<size>x<weight>-...`. */
export type FrameKey = number | string;

const sameAs = (a: SizeWeights, b: SizeWeights) => a.length === b.length && a.every((x, i) => x.size === b[i]!.size && x.weight === b[i]!.weight);

/** The key of what the testbed names: its size, `imix` for IMIX's list, else `mix-64x3-1518x1` (safe in ids and file names). */
export function frameKey(f: FrameMix): FrameKey {
  if (typeof f === 'number') return f;
  if (f.length === 1 && f[0]!.weight >= 1) return f[0]!.size;
  if (sameAs(f, IMIX)) return 'imix';
  return `mix-${f.map((x) => `${x.size}x${x.weight}`).join('-')}`;
}

/** The sizes and weights of a key: one size weighs 1. */
export function weightsOf(k: FrameKey): SizeWeights {
  if (typeof k === 'number') return [{ size: k, weight: 1 }];
  if (k === 'imix') return IMIX;
  const m = /^mix-(\d+x\d+(?:-\d+x\d+)*)$/.exec(k);
  if (!m) throw new Error(`not a frame size or mix: ${k}`);
  return m[1]!.split('-').map((p) => {
    const [size, weight] = p.split('x').map(Number);
    return { size: size!, weight: weight! };
  });
}

/** The mean frame size of a key (bytes on the wire): what rates in bits and a link's line rate take. */
export function meanFrame(k: FrameKey): number {
  const w = weightsOf(k);
  return w.reduce((a, x) => a + x.size * x.weight, 0) / w.reduce((a, x) => a + x.weight, 0);
}

/** The smallest size of a key: a mix's latency stream is of it (one size, as a latency stream must be). */
export const smallestFrame = (k: FrameKey): number => Math.min(...weightsOf(k).map((x) => x.size));

/** Short, in tables and terminal lines: `64 B`, `IMIX`, `mix 64x3 1518x1`. */
export function frameText(k: FrameKey): string {
  if (typeof k === 'number') return `${k} B`;
  if (k === 'imix') return 'IMIX';
  return `mix ${weightsOf(k)
    .map((x) => `${x.size}x${x.weight}`)
    .join(' ')}`;
}

/** In sentences: `64-byte frames`, `IMIX (64/570/1518 B at 7:4:1)`, `the mix of 64/1518 B at 3:1`. */
export function framesPhrase(k: FrameKey): string {
  if (typeof k === 'number') return `${k}-byte frames`;
  const w = weightsOf(k);
  const sizes = `${w.map((x) => x.size).join('/')} B at ${w.map((x) => x.weight).join(':')}`;
  return k === 'imix' ? `IMIX (${sizes})` : `the mix of ${sizes}`;
}

/** Sizes first, smallest first; then mixes by name. */
export function byFrame(a: FrameKey, b: FrameKey): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A key written as text (a series' name, a store's column) read back: digits are a size. */
export const frameKeyOf = (text: string): FrameKey => (/^\d+$/.test(text) ? Number(text) : text);
