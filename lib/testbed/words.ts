// The grammars of a testbed's values: every word that reaches a root shell on
// a lab machine is refused here, with its field, unless it is exactly what it
// may be (lib/transport/quote.ts quotes it as well where it is used).
import { z } from 'zod';

const MAC = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HEX_MASK = /^0x[0-9A-Fa-f]+$/;
export const SHA256_FP = /^SHA256:[A-Za-z0-9+/]{43}=?$/;

/** The hugepage sizes of x86-64 (2 MB, 1 GB), in KiB. */
export const hugepageSize = () =>
  z
    .number()
    .int()
    .refine((v) => v === 2048 || v === 1048576, 'expected a hugepage size of 2048 (2 MB) or 1048576 (1 GB) KiB')
    .default(2048);

/** A regular expression the ovs-vswitchd log check can use. */
export function compiles(re: string): boolean {
  try {
    new RegExp(re);
    return true;
  } catch {
    return false;
  }
}

export const mac = () =>
  z
    .string()
    .regex(MAC, 'expected a MAC address like 00:4B:4E:49:30:00')
    .refine((v) => !/^(00:){5}00$/.test(v), 'an all-zero MAC address is no interface address')
    // The group bit: the first octet's lowest bit set is a multicast (or broadcast) address, never one interface's.
    .refine(
      (v) => (Number.parseInt(v.slice(0, 2), 16) & 1) === 0,
      'a multicast or broadcast MAC address is no interface address (the first octet must be even)',
    );
export const ipv4 = () => z.string().regex(IPV4, 'expected an IPv4 address like 1.1.1.1');
export const cidr = () =>
  z.string().refine((v) => {
    const [ip, len, ...rest] = v.split('/');
    return rest.length === 0 && IPV4.test(ip ?? '') && /^\d+$/.test(len ?? '') && Number(len) <= 32;
  }, 'expected an IPv4 address with prefix length like 2.2.2.1/24');
export const hexMask = () =>
  z
    .string()
    .regex(HEX_MASK, 'expected a hex core mask like 0x0F')
    .refine((v) => !/^0x0+$/i.test(v), 'a core mask of 0 selects no core');

// ---- Words that reach a root shell on a lab machine --------------------------
// Every value below is also quoted where it is used (lib/transport/quote.ts);
// the grammars make sure that what cannot be right is refused with the field's
// name, before anything runs.

/**
 * Linux's rules for a network interface (and an OVS bridge or port) name,
 * dev_valid_name(): 1 to 15 characters, not "." or "..", no '/', ':' or
 * whitespace; and here, of the characters a shell takes literally.
 */
export const ifName = () =>
  z
    .string()
    .min(1, 'expected an interface name')
    .max(15, 'an interface name has at most 15 characters (IFNAMSIZ)')
    .refine((v) => v !== '.' && v !== '..', 'an interface name cannot be "." or ".."')
    .refine((v) => !/[/:\s]/.test(v), "an interface name cannot hold '/', ':' or whitespace")
    .refine((v) => /^[A-Za-z0-9_.@%+=,-]*$/.test(v), 'an interface name here holds letters, digits and _ . - @ % + = , only');

const PATH_CHARS = /^[A-Za-z0-9._/+@:,=~-]+$/;
/** An absolute, normalised path other than /: what reaches rm -rf, mkdir, cp and chmod. */
export const absPath = () =>
  z
    .string()
    .min(1, 'expected an absolute path')
    .refine((v) => v.startsWith('/'), 'expected an absolute path (starting with /)')
    .refine((v) => v !== '/' && !/^\/+$/.test(v), 'refusing / itself: this path reaches rm -rf and mkdir on a lab machine')
    .refine((v) => PATH_CHARS.test(v), 'a path here holds only letters, digits and . _ / + @ : , = ~ -')
    .refine(
      (v) => !v.endsWith('/') && !v.includes('//') && !v.split('/').some((seg) => seg === '.' || seg === '..'),
      'expected a normalised path: no trailing /, no //, no . or .. segments',
    );

/** A program to run: a name on PATH or a path (the guide's ./qemu/x86_64-softmmu/qemu-system-x86_64). */
export const toolPath = () =>
  z
    .string()
    .regex(/^(\.{0,2}\/)?[A-Za-z0-9_+-][A-Za-z0-9._/+-]*$/, 'expected a program name or path of letters, digits and . _ / + -')
    .refine((v) => !v.split('/').includes('..') || v.startsWith('../'), 'expected a normalised path');

/** A file name with no directory: rte_kni_module_1_6.patch. */
export const fileName = () => z.string().regex(/^[A-Za-z0-9_+-][A-Za-z0-9._+-]*$/, 'expected a file name of letters, digits and . _ + - (no directory)');

/** One word of a command line: a build target, a metadata name. */
/** A DPDK device argument: a PCI address or a vdev with its options, no spaces or shell characters. */
export const devargs = () =>
  z.string().regex(/^[A-Za-z0-9_.:-]+(,[A-Za-z0-9_]+=[A-Za-z0-9_.:/-]+)*$/, 'expected DPDK devargs like 0000:01:00.0 or net_af_packet0,iface=port16');
export const word = () => z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9._+-]*$/, 'expected one word of letters, digits and . _ + -');
export const port = () => z.number().int().min(1).max(65535);

/** A CPU list as taskset -c and the kernel take it: 1, 2-3 or 1,3. */
export const cpuListText = () => z.string().regex(/^\d{1,4}(-\d{1,4})?(,\d{1,4}(-\d{1,4})?)*$/, 'a CPU list as taskset -c takes it: 1, 2-3 or 1,3');
