// The counters a Linux kernel keeps of the packets it did not deliver: the IP
// stack's (/proc/net/snmp and /proc/net/netstat, named as nstat names them),
// the neighbour table's (/proc/net/stat/arp_cache), and nftables' rule
// counters (`nft -a list ruleset`). What lib/verify/drops.ts reads a cause from.
import { ParseError } from '../errors.js';

/**
 * /proc/net/snmp and /proc/net/netstat (either, or both one after the other):
 * pairs of lines, a header ("Ip: Forwarding DefaultTTL ...") and its values
 * ("Ip: 1 64 ..."). Keys as nstat prints them: the group's name and the
 * field's, "IpInAddrErrors", "TcpExtIPReversePathFilter", "IcmpMsgOutType3".
 */
export function parseSnmpCounters(text: string): Record<string, number> {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const out: Record<string, number> = {};
  for (let i = 0; i < lines.length; i += 2) {
    const head = /^(\w+):\s+(.*)$/.exec(lines[i]!);
    const values = /^(\w+):\s+(.*)$/.exec(lines[i + 1] ?? '');
    if (!head || !values || values[1] !== head[1])
      throw new ParseError('/proc/net/snmp', `a "${head?.[1] ?? 'Group'}:" header line followed by its values`, `${lines[i]}\n${lines[i + 1] ?? '<end>'}`);
    const names = head[2]!.trim().split(/\s+/);
    const nums = values[2]!.trim().split(/\s+/);
    if (names.length !== nums.length || nums.some((n) => !/^-?\d+$/.test(n)))
      throw new ParseError('/proc/net/snmp', `${names.length} numbers for the ${head[1]} group`, lines[i + 1]!);
    names.forEach((n, k) => {
      out[`${head[1]}${n}`] = Number(nums[k]);
    });
  }
  if (Object.keys(out).length === 0) throw new ParseError('/proc/net/snmp', 'at least one group of counters', text);
  return out;
}

/**
 * /proc/net/stat/arp_cache: a header, then one line of hexadecimal counters
 * per CPU; summed over the CPUs, as "ArpUnresolvedDiscards" (packets dropped
 * while they waited for a neighbour's MAC) and so on.
 */
export function parseArpCacheStat(text: string): Record<string, number> {
  const [head, ...rows] = text.split('\n').filter((l) => l.trim() !== '');
  const names = head?.trim().split(/\s+/) ?? [];
  if (!names.includes('unresolved_discards')) throw new ParseError('/proc/net/stat/arp_cache', 'a header naming unresolved_discards', text);
  const out: Record<string, number> = {};
  for (const row of rows) {
    const cells = row.trim().split(/\s+/);
    if (cells.length !== names.length || cells.some((c) => !/^[0-9a-f]+$/i.test(c)))
      throw new ParseError('/proc/net/stat/arp_cache', `${names.length} hexadecimal counters a CPU`, row);
    names.forEach((n, k) => {
      const key = `Arp${n.replace(/(^|_)(\w)/g, (_m, _u, c: string) => c.toUpperCase())}`;
      out[key] = (out[key] ?? 0) + Number.parseInt(cells[k]!, 16);
    });
  }
  return out;
}

export interface NftRule {
  /** "ip dutlab_fault": family and name. */
  table: string;
  chain: string;
  /** The chain's hook (prerouting, input, forward, output, postrouting), where it is a base chain. */
  hook?: string;
  handle: number;
  /** The rule as nft prints it, without its counter's values or its handle. */
  text: string;
  /** Its counter, where it has one. */
  packets?: number;
  bytes?: number;
  /** It drops or rejects what it matches. */
  drops: boolean;
}

export interface NftRuleset {
  rules: NftRule[];
  /** Base chains whose policy is drop: what no rule accepts is dropped, and counted nowhere. */
  dropPolicies: Array<{ table: string; chain: string; hook: string }>;
}

/** `nft -a list ruleset`: every rule with its table, chain, handle and counter. */
export function parseNftRuleset(text: string): NftRuleset {
  const out: NftRuleset = { rules: [], dropPolicies: [] };
  let table: string | undefined;
  let chain: { name: string; hook?: string } | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    let m: RegExpExecArray | null;
    if ((m = /^table (\S+) (\S+) \{/.exec(line))) {
      table = `${m[1]} ${m[2]}`;
      chain = undefined;
    } else if ((m = /^chain (\S+) \{/.exec(line))) chain = { name: m[1]! };
    else if ((m = /^type \w+ hook (\w+)\b.*?(?:policy (\w+);)?$/.exec(line))) {
      if (!table || !chain) throw new ParseError('nft -a list ruleset', 'a chain type inside a chain', line);
      chain.hook = m[1]!;
      if (m[2] === 'drop') out.dropPolicies.push({ table, chain: chain.name, hook: m[1]! });
    } else if ((m = /^(.*\S)\s+# handle (\d+)$/.exec(line)) && chain && table && !/^(table|chain|set|map|flowtable) /.test(line)) {
      const counter = /\bcounter packets (\d+) bytes (\d+)/.exec(m[1]!);
      out.rules.push({
        table,
        chain: chain.name,
        ...(chain.hook ? { hook: chain.hook } : {}),
        handle: Number(m[2]),
        text: m[1]!.replace(/\bcounter packets \d+ bytes \d+/, 'counter'),
        ...(counter ? { packets: Number(counter[1]), bytes: Number(counter[2]) } : {}),
        drops: /\b(drop|reject)\b/.test(m[1]!.replace(/"[^"]*"/g, '')),
      });
    }
  }
  return out;
}

/** A counter source that could not be read, and why (a tool the guest lacks, a file the kernel has not). */
export interface NotRead {
  notRead: string;
}

/** The guest kernel's own drop counters at one moment: the IP stack's, the neighbour table's, nftables' rules. */
export interface GuestDropCounters {
  kernel: Record<string, number>;
  arp: Record<string, number> | NotRead;
  nft: NftRuleset | NotRead;
}

const ARP_MARK = 'dutlab-section: arp_cache';
const NFT_MARK = 'dutlab-section: nft';
const NO_NFT = 'dutlab: no nft';
// The last line: without it, a ruleset cut after a whole rule would read as a smaller ruleset.
const END_MARK = 'dutlab-section: end';

/** One command that prints what parseGuestDropCounters reads. */
export const GUEST_DROP_COUNTERS_COMMAND = [
  'cat /proc/net/snmp /proc/net/netstat',
  `echo '${ARP_MARK}'`,
  'cat /proc/net/stat/arp_cache 2>&1',
  `echo '${NFT_MARK}'`,
  `if command -v nft >/dev/null 2>&1; then nft -a list ruleset 2>&1; else echo '${NO_NFT}'; fi`,
  `echo '${END_MARK}'`,
].join('; ');

export function parseGuestDropCounters(text: string): GuestDropCounters {
  const [snmp, rest] = splitAt(text, ARP_MARK);
  const [arp, nftAndEnd] = splitAt(rest, NFT_MARK);
  // The last line (a transport may have taken its newline): whole lines before it, nothing after.
  const lines = nftAndEnd.replace(/\n+$/, '').split('\n');
  if (lines.at(-1) !== END_MARK)
    throw new ParseError("the guest's drop counters", `a last line "${END_MARK}" (the output was cut short)`, nftAndEnd.slice(-200));
  const nft = lines
    .slice(0, -1)
    .map((l) => `${l}\n`)
    .join('');
  const notRead = (why: string): NotRead => ({ notRead: why.trim().split('\n')[0]! || 'no output' });
  return {
    kernel: parseSnmpCounters(snmp),
    arp: /unresolved_discards/.test(arp)
      ? parseArpCacheStat(arp)
      : /No such file/.test(arp)
        ? notRead('the kernel keeps none here: no /proc/net/stat/arp_cache (a network namespace has none)')
        : notRead(arp),
    nft: nft.trim() === NO_NFT ? notRead('nft is not installed') : /^(Error|nft:)|Operation not permitted/m.test(nft) ? notRead(nft) : parseNftRuleset(nft),
  };
}

function splitAt(text: string, mark: string): [string, string] {
  const at = text.indexOf(`${mark}\n`);
  if (at < 0) throw new ParseError("the guest's drop counters", `a "${mark}" line`, text.slice(-200));
  return [text.slice(0, at), text.slice(at + mark.length + 1)];
}
