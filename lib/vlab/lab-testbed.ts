// The lab's testbed file: the template with what lab up made filled in (its
// ports, keys, host-key fingerprints, state paths, the VM's image, TRex, a
// known capacity, the DPDK builds), and the part of the lab's state it is
// written from.
import { join } from 'node:path';
import { parseDocument, type Scalar, type YAMLMap } from 'yaml';
import { FILE_LIMITS, readBounded } from '../files.js';
import { loadTestbed } from '../testbed/load.js';
import { topologyOf } from '../testbed/topology.js';
import type { LabBuild } from './builds.js';
import type { Capacity } from './capacity.js';
import { hostKeyFingerprint } from './daemons.js';
import type { GuestImage } from './image.js';
import { LAB_TG_TIMER, type Pinning } from './pinning.js';
import { TREX_RPC_PORT, type LabTrex } from './trex.js';
import { MGMT_GUEST, type Datapath, type GuestKind, type Role } from './wiring.js';

/** What the testbed is written from: the lab's names, ports and what lab up made. */
export interface LabTestbedState {
  id: string;
  stateDir: string;
  namespaces: Record<Role, string>;
  forwarders: Record<'host' | 'tg', number>;
  createdAt: string;
  datapath?: Datapath;
  guest?: GuestKind;
  /** The guest image the VM boots (vm). */
  image?: GuestImage;
  /** QEMU can run a KVM vCPU on this machine (vm); otherwise the VM runs under TCG. */
  kvm?: boolean;
  /** The guest's known capacity, where lab up set one. */
  capacity?: Capacity;
  /** The switch's and the generator's CPUs, where lab up --pin set them. */
  pinned?: Pinning;
  /** The lab's TRex, where lab up --tg trex started one. */
  trex?: LabTrex;
  /** The DPDK builds, where lab up --builds prepared them (lib/vlab/builds.ts): the installed one first, the run's default. */
  builds?: LabBuild[];
}

/** The template with this lab's ports, keys, fingerprints and state paths filled in. */
export function labTestbed(template: string, state: LabTestbedState): string {
  const doc = parseDocument(readBounded(template, FILE_LIMITS.testbed, 'testbed template'));
  const s = state.stateDir;
  doc.set('name', `virtual-lab-${state.id}`);
  if (state.capacity) {
    // A shaped DUT is steady where the unshaped one is not: a drop of twice this is always caught (docs/gate.md).
    doc.setIn(['throughput', 'regressionThreshold'], 0.05);
    // The template's word on its threshold (the unshaped DUT's noise) is not this lab's.
    const throughput = doc.getIn(['throughput']) as YAMLMap<Scalar, unknown>;
    throughput.commentBefore = ' The shaped DUT is steady (npm run bench:throughput): a 10 % cut is caught at 5 % (docs/gate.md).';
    doc.commentBefore = ` A DUT of known capacity: the guest forwards at most ${state.capacity.fps} frames/s of the stream (lab up --capacity).`;
  }
  if (state.pinned) doc.setIn(['tg', 'cpus'], state.pinned.generator);
  if (!state.trex) doc.setIn(['tg', 'timer'], LAB_TG_TIMER);
  if (state.trex) {
    const t = topologyOf(loadTestbed(template));
    const trex = { server: { address: '127.0.0.1', port: TREX_RPC_PORT }, ports: { transmit: state.trex.ports[t.tgTx], receive: state.trex.ports[t.tgRx] } };
    doc.setIn(['tg', 'type'], 'trex');
    // TRex in software mode on veths carries far below the veths' nominal 10 Gb/s: the search's ceiling stays where the linux TG's is.
    if (!doc.hasIn(['throughput', 'maxRate'])) doc.setIn(['throughput', 'maxRate'], 1_000_000);
    doc.setIn(['tg', 'trex'], doc.createNode({ ...trex, pcapDir: join(s, 'trex', 'pcaps') }));
  }
  for (const role of ['host', 'guest', 'tg'] as const) {
    const img = role === 'guest' ? state.image : undefined;
    doc.setIn(['hosts', role, 'auth'], doc.createNode({ privateKeyFile: img ? img.clientKey : join(s, 'keys', 'client') }, { flow: true }));
    doc.setIn(['hosts', role, 'hostKey'], doc.createNode({ fingerprint: img ? img.hostKeyFingerprint : hostKeyFingerprint(s, role) }, { flow: true }));
  }
  if (state.image) {
    const vm = join(s, 'vm');
    const kvm = state.kvm === true;
    for (const [k, v] of Object.entries({
      kernel: state.image.kernel,
      initrd: state.image.initrd,
      disk: state.image.disk,
      accel: kvm ? 'kvm' : 'tcg',
      cpu: kvm ? 'host' : 'max',
      pidfile: join(vm, 'qemu.pid'),
      consoleLog: join(vm, 'console.log'),
    }))
      doc.setIn(['vm', k], v);
    // The virtual lab's guest shares this box's CPUs with everything: nothing to pin it apart from.
    if (kvm) doc.setIn(['vm', 'pin'], 'none');
    const vmPorts = doc.get('vmPorts') as { items: Array<{ get(k: string): unknown; set(k: string, v: unknown): void }> };
    for (const p of vmPorts.items) p.set('vhostSocket', join(vm, `${String(p.get('name'))}.sock`));
  }
  doc.setIn(['hosts', 'host', 'port'], state.forwarders.host);
  doc.setIn(['hosts', 'tg', 'port'], state.forwarders.tg);
  if (state.guest !== 'vm') doc.setIn(['hosts', 'guest', 'address'], MGMT_GUEST);
  for (const key of ['ovsRunDir', 'ovsEtcDir', 'ovsLogDir']) doc.setIn(['paths', key], join(s, 'ovs'));
  doc.setIn(['paths', 'ovsdbPidfile'], join(s, 'ovs', 'ovsdb-server.pid'));
  doc.setIn(['paths', 'vswitchdPidfile'], join(s, 'ovs', 'ovs-vswitchd.pid'));
  doc.setIn(['paths', 'workDir'], join(s, 'work'));
  doc.setIn(['lock', 'path'], join(s, 'lock'));
  if (state.datapath === 'dpdk') {
    const vmPorts = doc.get('vmPorts') as { items: Array<{ get(k: string): unknown; set(k: string, v: unknown): void }> };
    for (const p of vmPorts.items) if (p.get('kind') === 'tap') p.set('netns', state.namespaces.guest);
    doc.setIn(['ovsDpdk', 'filePrefix'], `dutlab-${state.id}`);
  }
  if (state.builds) {
    const builds = Object.fromEntries(state.builds.map(({ name, ...b }) => [name, b]));
    doc.setIn(['ovsDpdk', 'builds'], doc.createNode(builds));
    doc.setIn(['ovsDpdk', 'build'], state.builds[0]!.name);
  }
  return `# Written by \`dutlab lab up\` for lab ${state.id} at ${state.createdAt}; removed by \`dutlab lab down\`.\n${doc.toString()}`;
}
