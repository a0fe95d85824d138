import { accessSync, constants, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isScalar, parseDocument, visit } from 'yaml';
import type { z } from 'zod';
import { errorMessage, InputFileError, TestbedError, type TestbedProblem } from '../errors.js';
import { buildProblems, restartProblems } from './upgrade-checks.js';
import { rfc2544Problems } from './rfc2544-checks.js';
import { FILE_LIMITS, fileProblem, readBounded } from '../files.js';
import { TestbedSchema, type Testbed } from './schema.js';
import { coresOf, cpuList, perNodeText, searchCeiling, socketLimitPerNode, socketMemPerNode } from './sizing.js';
import { reverseGatewayOf, switchPortNames, topologyOf } from './topology.js';
import { trafficProblems } from './traffic-schema.js';
import { ipInt } from './flows.js';
import { frameKey, frameText } from './frame-mix.js';

const SECRET_KEYS = /^(password|passwd|passphrase|secret|token|privateKey)$/i;

/** Reads and validates a testbed file; throws TestbedError listing every problem. */
export function loadTestbed(file: string): Testbed {
  return parseTestbed(readTestbedText(file), file);
}

/**
 * A run's testbed, loaded once, and archived in the run directory (`copyTo`)
 * only once it validated: a file refused for an inline secret leaves no copy
 * behind. The copy is the file's text with the name of every password
 * variable replaced by a marker (the name may be the password itself, typed
 * where a name goes); everything after (the suites, the gate) takes the
 * parsed testbed, never the file again.
 */
export function loadRunTestbed(file: string, copyTo: string): { tb: Testbed; notes: string[] } {
  const text = readTestbedText(file);
  const tb = parseTestbed(text, file);
  writeFileSync(copyTo, archivedTestbedText(text));
  return { tb, notes: testbedNotes(tb) };
}

/** The testbed with another of its builds to start (`run --build`): one it names, or the testbed's error saying which it has. */
export function withBuild(tb: Testbed, build: string, file: string): Testbed {
  const names = Object.keys(tb.ovsDpdk.builds);
  if (!names.includes(build))
    throw new TestbedError(file, [{ path: 'ovsDpdk.builds', message: `--build ${build}: not one of its builds (${names.join(', ') || 'none'})` }]);
  return { ...tb, ovsDpdk: { ...tb.ovsDpdk, build } };
}

/** What stands in an archived testbed for a password variable's name (itself a valid name: the copy loads as the original did). */
export const REDACTED_NAME = 'DUTLAB_REDACTED';

/** The testbed's text with every `passwordEnv:` value replaced by REDACTED_NAME, comments and layout kept. */
export function archivedTestbedText(text: string): string {
  const doc = parseDocument(text);
  let changed = false;
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && pair.key.value === 'passwordEnv' && isScalar(pair.value)) {
        pair.value.value = REDACTED_NAME;
        changed = true;
      }
    },
  });
  return changed ? doc.toString() : text;
}

function readTestbedText(file: string): string {
  try {
    return readBounded(file, FILE_LIMITS.testbed, 'testbed file');
  } catch (err) {
    throw new TestbedError(file, [{ path: '', message: err instanceof InputFileError ? err.problem : errorMessage(err) }]);
  }
}

export function parseTestbed(text: string, file = '<testbed>'): Testbed {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new TestbedError(
      file,
      doc.errors.map((e) => ({ path: `line ${e.linePos?.[0]?.line ?? '?'}`, message: `not valid YAML: ${e.message.split('\n')[0]}` })),
    );
  }
  const raw: unknown = doc.toJS();
  const secrets = findInlineSecrets(raw, []);
  if (secrets.length > 0) throw new TestbedError(file, secrets);
  const notes: string[] = [];
  const renamed = renameOldKeys(raw, file, notes);
  // Problems name the key the file has: kniPorts in a file that still says kniPorts.
  const asInFile = (ps: TestbedProblem[]) => (renamed === raw ? ps : ps.map((p) => ({ ...p, path: p.path.replace(/^vmPorts\b/, 'kniPorts') })));
  const result = TestbedSchema.safeParse(renamed, { reportInput: true });
  if (!result.success) throw new TestbedError(file, asInFile(result.error.issues.flatMap(describeIssue)));
  const problems = crossCheck(result.data);
  if (problems.length > 0) throw new TestbedError(file, asInFile(problems));
  const tb = expandHome(result.data);
  NOTES.set(tb, [...notes, ...realLabNotes(tb, file)]);
  return tb;
}

/** What loading a testbed had to say without refusing it (an old key to rename), for the run's notes and the plan. */
const NOTES = new WeakMap<Testbed, string[]>();
export function testbedNotes(tb: Testbed): string[] {
  return NOTES.get(tb) ?? [];
}

/**
 * Keys of older testbed files, read as their new names with a note: `kniPorts`
 * is `vmPorts`, each port with a `kind` (kni unless it says otherwise).
 */
function renameOldKeys(raw: unknown, file: string, notes: string[]): unknown {
  if (raw === null || typeof raw !== 'object' || !('kniPorts' in raw)) return raw;
  const { kniPorts, ...rest } = raw as Record<string, unknown>;
  if ('vmPorts' in rest)
    throw new TestbedError(file, [{ path: 'kniPorts', message: 'both kniPorts and vmPorts: kniPorts is the old name of vmPorts, keep one' }]);
  notes.push(`${file}: kniPorts is now called vmPorts, each port with a kind (kni, veth, tap or vhost-user; kni if left out): rename it`);
  return { ...rest, vmPorts: kniPorts };
}

/** `~` and `~/…` in the files a host's key and known_hosts are read from: the controller user's home, as ssh does. */
function expandHome(tb: Testbed): Testbed {
  const expand = (p: string) => (p === '~' ? homedir() : p.startsWith('~/') ? join(homedir(), p.slice(2)) : p);
  for (const spec of Object.values(tb.hosts)) {
    if ('privateKeyFile' in spec.auth) spec.auth.privateKeyFile = expand(spec.auth.privateKeyFile);
    if ('knownHosts' in spec.hostKey) spec.hostKey.knownHosts = expand(spec.hostKey.knownHosts);
  }
  return tb;
}

/** The key and known_hosts files the testbed names that this controller cannot read: one line each. */
export function missingLocalFiles(tb: Testbed): string[] {
  const missing: string[] = [];
  for (const [role, spec] of Object.entries(tb.hosts)) {
    const files = [
      ...('privateKeyFile' in spec.auth ? [['privateKeyFile', spec.auth.privateKeyFile]] : []),
      ...('knownHosts' in spec.hostKey ? [['knownHosts', spec.hostKey.knownHosts]] : []),
    ];
    for (const [what, file] of files) {
      try {
        accessSync(file!, constants.R_OK);
      } catch (err) {
        missing.push(`hosts.${role}.${what === 'privateKeyFile' ? 'auth' : 'hostKey'}.${what}: cannot read ${file}: ${fileProblem(err)}`);
      }
    }
  }
  return missing;
}

export function describeIssue(issue: z.core.$ZodIssue): TestbedProblem[] {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => ({ path: path ? `${path}.${k}` : k, message: 'unknown key (a typo, or a field this version does not have)' }));
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) return [{ path, message: `missing required field (expected ${issue.expected})` }];
  if (issue.code === 'invalid_type') return [{ path, message: `expected ${issue.expected}, got ${typeName(issue.input)}` }];
  if (issue.code === 'invalid_union') {
    // Each alternative failed; the most useful message is the one of the closest alternative.
    const inner = issue.errors.map((alt) => alt.filter((i) => i.code !== 'unrecognized_keys'));
    // An alternative of another type altogether (a number where a list was given) is the farthest.
    const wrongType = (alt: z.core.$ZodIssue[]) => (alt.some((i) => i.code === 'invalid_type' && i.path.length === 0) ? 1 : 0);
    const best = inner.sort((a, b) => wrongType(a) - wrongType(b) || a.length - b.length)[0] ?? [];
    if (best.length > 0 && best.every((i) => i.code !== 'invalid_type')) {
      return best.flatMap((i) => describeIssue({ ...i, path: [...issue.path, ...i.path] } as z.core.$ZodIssue));
    }
    return [{ path, message: unionHint(path) }];
  }
  return [{ path, message: issue.message }];
}

function unionHint(path: string): string {
  if (path.endsWith('.auth')) return 'expected one of {privateKeyFile: PATH}, {agent: true} or {passwordEnv: ENV_VAR_NAME}';
  if (path.endsWith('.hostKey')) return 'expected one of {fingerprint: SHA256:…}, {knownHosts: PATH} or {insecureAcceptAny: true}';
  if (/ovsDpdk\.socket(Mem|Limit)Mb$/.test(path)) return 'expected megabytes for node 0, or a list of them per NUMA node, node 0 first ([0, 2048])';
  if (path.endsWith('vm.pin')) return 'expected none, or {vcpus: [one host CPU per vCPU], emulator: CPU list}';
  if (/frameSize$|frameSizes\.\d+$/.test(path)) return 'expected a frame size from 64 to 1518, imix, or a list of {size, weight}';
  return 'value matches none of the allowed forms';
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'a mapping' : `${typeof v} ${JSON.stringify(v)}`;
}

function findInlineSecrets(v: unknown, path: string[]): TestbedProblem[] {
  if (typeof v === 'string' && /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(v)) {
    return [{ path: path.join('.'), message: 'an inline secret: a private key must stay in a file, named with privateKeyFile' }];
  }
  if (v === null || typeof v !== 'object') return [];
  return Object.entries(v).flatMap(([k, child]) =>
    SECRET_KEYS.test(k)
      ? [{ path: [...path, k].join('.'), message: 'an inline secret: put it in an environment variable and name that variable with passwordEnv' }]
      : findInlineSecrets(child, [...path, k]),
  );
}

/** Checks that values agree with each other: the things a schema alone cannot see. */
function crossCheck(tb: Testbed): TestbedProblem[] {
  const problems: TestbedProblem[] = [];
  const ofports = new Map<number, string>();
  [...tb.phyPorts, ...tb.vmPorts].forEach((p) => {
    if (ofports.has(p.ofport)) problems.push({ path: `ofport ${p.ofport}`, message: `used by both ${ofports.get(p.ofport)} and ${p.name}` });
    ofports.set(p.ofport, p.name);
  });
  tb.flows.forEach((f, i) => {
    for (const [field, n] of [
      ['inPort', f.inPort],
      ['output', f.output],
    ] as const) {
      if (!ofports.has(n))
        problems.push({ path: `flows.${i}.${field}`, message: `ofport ${n} is not one of the testbed's ports (${[...ofports.keys()].join(', ')})` });
    }
  });
  problems.push(...duplicates('phyPorts/vmPorts', 'port name', switchPortNames(tb)));
  problems.push(...trafficProblems(tb.traffic, tb.tg.type), ...reverseProblems(tb));
  problems.push(
    ...duplicates(
      'vmPorts',
      'guest interface',
      tb.vmPorts.map((k) => k.guestIf),
    ),
  );
  problems.push(
    ...duplicates(
      'phyPorts',
      'TG port',
      tb.phyPorts.map((p) => p.tgPort),
    ),
  );
  problems.push(...duplicates('vmPorts/gateway', 'MAC address', [...tb.vmPorts.map((k) => k.mac.toLowerCase()), tb.gateway.mac.toLowerCase()]));
  if (tb.phyPorts.some((p) => p.name === tb.bridge) || tb.vmPorts.some((k) => k.name === tb.bridge)) {
    problems.push({ path: 'bridge', message: `${tb.bridge} is also a port name` });
  }
  tb.vmPorts.forEach((k, i) => {
    const [ip, len] = k.cidr.split('/');
    const bits = Number(len);
    if (bits <= 30) {
      const host = ipInt(ip!) & (~maskOf(bits) >>> 0);
      if (host === 0) problems.push({ path: `vmPorts.${i}.cidr`, message: `${k.cidr} is the network address of its subnet, not an interface address` });
      if (host >>> 0 === ~maskOf(bits) >>> 0)
        problems.push({ path: `vmPorts.${i}.cidr`, message: `${k.cidr} is the broadcast address of its subnet, not an interface address` });
    }
    if (ip === tb.gateway.ip)
      problems.push({ path: 'gateway.ip', message: `${tb.gateway.ip} is ${k.guestIf}'s own address: the gateway must be another host` });
  });
  const { vmIngress: ingress, vmEgress: egress } = topologyOf(tb);
  if (sameSubnet(ingress.cidr, egress.cidr.split('/')[0]!) || sameSubnet(egress.cidr, ingress.cidr.split('/')[0]!)) {
    problems.push({
      path: 'vmPorts',
      message: `${ingress.guestIf} (${ingress.cidr}) and ${egress.guestIf} (${egress.cidr}) are in one subnet: the guest could not route between them`,
    });
  }
  if (!sameSubnet(egress.cidr, tb.gateway.ip)) {
    problems.push({ path: 'gateway.ip', message: `${tb.gateway.ip} is not in ${egress.guestIf}'s subnet ${egress.cidr}` });
  }
  problems.push(...valueAgreement(tb));
  if (tb.hosts.guest.jump === undefined && tb.hosts.guest.address.startsWith('127.')) {
    problems.push({ path: 'hosts.guest.jump', message: 'a guest on a loopback address is only reachable through the host: set jump: host' });
  }
  return problems;
}

/** Values that are each valid and together mean nothing, or not what they say: refused at load, with the field. */
function valueAgreement(tb: Testbed): TestbedProblem[] {
  const problems: TestbedProblem[] = [];
  const t = tb.throughput;
  const keys = t.frameSizes.map(frameKey);
  keys.forEach((k, i) => {
    if (keys.indexOf(k) < i)
      problems.push({ path: `throughput.frameSizes.${i}`, message: `${frameText(k)} is already searched (throughput.frameSizes.${keys.indexOf(k)})` });
  });
  const ceiling = Math.min(...keys.map((f) => searchCeiling(tb, f)));
  if (t.minRate > ceiling)
    problems.push({
      path: 'throughput.minRate',
      message: `${t.minRate} frames/s is above the search's ceiling ${ceiling} (${t.maxRate !== undefined ? 'throughput.maxRate' : t.linkSpeedGbps !== undefined ? "throughput.linkSpeedGbps's line rate" : "the linux TG's"}): no load to search`,
    });
  // A real generator reaches line rate: a default ceiling would cap the search far below it (14.88 Mframes/s at 64 B on 10G).
  if (tb.tg.type === 'trex' && t.maxRate === undefined && t.linkSpeedGbps === undefined)
    problems.push({
      path: 'throughput.linkSpeedGbps',
      message: "missing: with TRex the search goes up to the ports' line rate; give the link speed (10 for 10G) or throughput.maxRate in frames/s",
    });
  if (t.ndr.lossRatio > t.pdr.lossRatio)
    problems.push({
      path: 'throughput.ndr.lossRatio',
      message: `${t.ndr.lossRatio} is above throughput.pdr.lossRatio ${t.pdr.lossRatio}: NDR is the stricter goal`,
    });
  const sockets = tb.vmPorts.flatMap((p) => (p.vhostSocket ? [p.vhostSocket] : []));
  problems.push(...duplicates('vmPorts', 'vhost-user socket', sockets));
  // One DPDK device per phy port: by the device's name, and by the interface an af_packet/af_xdp vdev binds.
  const devices = tb.phyPorts.flatMap((p) => (p.dpdkDevargs ? [p.dpdkDevargs.split(',')[0]!] : []));
  problems.push(...duplicates('phyPorts', 'DPDK device', devices));
  const ifaces = tb.phyPorts.flatMap((p) => {
    const m = p.dpdkDevargs ? /(?:^|,)iface=([^,]+)/.exec(p.dpdkDevargs) : null;
    return m ? [m[1]!] : [];
  });
  problems.push(...duplicates('phyPorts', 'DPDK device interface', ifaces));
  const d = tb.ovsDpdk;
  const mem = socketMemPerNode(tb);
  const limit = socketLimitPerNode(tb);
  // A node the limit leaves out (or sets to 0) has no limit, as DPDK reads it.
  const below = mem.flatMap((mb, node) => (limit[node] !== undefined && limit[node] !== 0 && limit[node]! < mb ? [node] : []));
  if (below.length > 0)
    problems.push({
      path: 'ovsDpdk.socketLimitMb',
      message: `${perNodeText(limit)} MB is below ovsDpdk.socketMemMb ${perNodeText(mem)} on node ${below.join(', ')}: DPDK could not take at start what the limit forbids`,
    });
  // The guide's ovs_dpdk -k N makes N KNI devices, one per KNI vport: more than the testbed has VM ports name devices nothing uses.
  const kni = tb.dpdk.ovsDpdk.kniPorts;
  const kniVports = tb.vmPorts.filter((k) => k.kind === 'kni').length;
  if (kni > tb.vmPorts.length || (kniVports > 0 && kni !== kniVports))
    problems.push({
      path: 'dpdk.ovsDpdk.kniPorts',
      message: `${kni}, but the testbed has ${kniVports > 0 ? `${kniVports} KNI vport(s)` : `${tb.vmPorts.length} VM port(s)`}: ovs_dpdk -k makes one KNI device per KNI vport`,
    });
  if (d.pciDevices.length > 0 && d.extraArgs.includes('--no-pci'))
    problems.push({ path: 'ovsDpdk.extraArgs', message: '--no-pci forbids the PCI devices ovsDpdk.pciDevices names: keep one' });
  problems.push(...buildProblems(tb), ...restartProblems(tb), ...rfc2544Problems(tb));
  if (tb.vm) {
    if (tb.vm.hugepageSizeKb !== d.hugepageSizeKb)
      problems.push({
        path: 'vm.hugepageSizeKb',
        message: `${tb.vm.hugepageSizeKb} KiB, but ovsDpdk.hugepageSizeKb is ${d.hugepageSizeKb}: the guest's memory is shared with ovs-vswitchd on hugepages of one size`,
      });
    else if ((tb.vm.memoryMb * 1024) % tb.vm.hugepageSizeKb !== 0)
      problems.push({ path: 'vm.memoryMb', message: `${tb.vm.memoryMb} MB is not a whole number of ${tb.vm.hugepageSizeKb / 1024} MB hugepages` });
    problems.push(...pinProblems(tb), ...testpmdProblems(tb));
  }
  return problems;
}

/** ovsDpdk.build names one of ovsDpdk.builds; no two builds are one (the same daemon and libraries, or the same version of one daemon). */
/** A testpmd guest: a vCPU for its polling lcore beside the one sshd needs, and its pages inside the guest's memory. */
function testpmdProblems(tb: Testbed): TestbedProblem[] {
  const v = tb.vm!;
  if (v.forwarding !== 'testpmd') return [];
  const problems: TestbedProblem[] = [];
  if (v.cpus < 2)
    problems.push({ path: 'vm.cpus', message: `${v.cpus} vCPU: testpmd polls one of its own (vm.forwarding testpmd), the guest's sshd needs another` });
  if (v.testpmd.hugepages * 2 > v.memoryMb / 2)
    problems.push({
      path: 'vm.testpmd.hugepages',
      message: `${v.testpmd.hugepages} pages of 2 MB: more than half the guest's ${v.memoryMb} MB (its kernel and sshd need the rest)`,
    });
  return problems;
}

/** The guest's CPUs: said on a KVM guest (a real DUT host), one per vCPU, none of them the switch's. */
function pinProblems(tb: Testbed): TestbedProblem[] {
  const v = tb.vm!;
  if (v.pin === undefined)
    return v.accel === 'kvm'
      ? [
          {
            path: 'vm.pin',
            message:
              "missing: a KVM guest's vCPUs float over the switch's cores unless pinned (NDR noisy, the gate flapping); give pin: { vcpus: [one host CPU per vCPU], emulator: CPU list }, apart from ovsDpdk.pmdCpuMask and lcoreMask, or pin: none to let them float",
          },
        ]
      : [];
  if (v.pin === 'none') return [];
  const problems: TestbedProblem[] = [];
  if (v.pin.vcpus.length !== v.cpus)
    problems.push({ path: 'vm.pin.vcpus', message: `${v.pin.vcpus.length} CPU(s) for vm.cpus ${v.cpus} vCPU(s): one host CPU per vCPU` });
  problems.push(...duplicates('vm.pin', 'host CPU', v.pin.vcpus.map(String)));
  const pmd = new Set(coresOf(tb.ovsDpdk.pmdCpuMask));
  const lcore = new Set(coresOf(tb.ovsDpdk.lcoreMask));
  for (const [field, cpus] of [
    ['vm.pin.vcpus', v.pin.vcpus],
    ['vm.pin.emulator', cpuList(v.pin.emulator)],
  ] as const) {
    const onPmd = cpus.filter((c) => pmd.has(c));
    const onLcore = field === 'vm.pin.vcpus' ? cpus.filter((c) => lcore.has(c)) : [];
    if (onPmd.length > 0)
      problems.push({
        path: field,
        message: `CPU ${onPmd.join(', ')} is a PMD core (ovsDpdk.pmdCpuMask ${tb.ovsDpdk.pmdCpuMask}): the guest and the PMD would share it`,
      });
    if (onLcore.length > 0)
      problems.push({ path: field, message: `CPU ${onLcore.join(', ')} runs OVS's main thread (ovsDpdk.lcoreMask ${tb.ovsDpdk.lcoreMask})` });
  }
  return problems;
}

/** What a testbed says that a real lab should say otherwise, read all the same: a note on the run and the plan. */
function realLabNotes(tb: Testbed, file: string): string[] {
  const d = tb.ovsDpdk;
  if (d.pciDevices.length === 0 || Array.isArray(d.socketMemMb)) return [];
  return [
    `${file}: ovsDpdk.socketMemMb ${d.socketMemMb} is node 0's memory alone; a NIC on another NUMA node takes its mempools across the interconnect: give one value per node ([0, ${d.socketMemMb}] for node 1)`,
  ];
}

function duplicates(path: string, what: string, values: string[]): TestbedProblem[] {
  const seen = new Set<string>();
  const dup = new Set(values.filter((v) => seen.has(v) || !seen.add(v)));
  return [...dup].map((v) => ({ path, message: `${what} ${v} is used twice` }));
}

const maskOf = (bits: number) => (bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0);

export function sameSubnet(cidr: string, ip: string): boolean {
  const [net, len] = cidr.split('/');
  const mask = maskOf(Number(len));
  return (ipInt(net!) & mask) >>> 0 === (ipInt(ip) & mask) >>> 0;
}

/** traffic.direction both: the reverse stream's next hop on the guest's ingress subnet, its sources' route apart from that subnet. */
function reverseProblems(tb: Testbed): Array<{ path: string; message: string }> {
  if (tb.traffic.direction !== 'both' || tb.flows.length > 0) return [];
  const t = topologyOf(tb);
  const gw = reverseGatewayOf(tb);
  const [own] = t.vmIngress.cidr.split('/');
  const where = tb.reverseGateway ? 'reverseGateway.ip' : 'vmPorts.0.cidr';
  if (gw.ip === own || !sameSubnet(t.vmIngress.cidr, gw.ip))
    return [{ path: where, message: `the reverse stream's next hop ${gw.ip} must be another address of the guest's ingress subnet ${t.vmIngress.cidr}` }];
  // The two prefixes overlap where either holds the other's network address.
  if (sameSubnet(gw.route, own!) || sameSubnet(t.vmIngress.cidr, gw.route.split('/')[0]!))
    return [
      {
        path: 'traffic.srcIp',
        message: `the stream's sources (${gw.route}) overlap the guest's ingress subnet ${t.vmIngress.cidr}: the guest could not route the reverse stream back`,
      },
    ];
  return [];
}
