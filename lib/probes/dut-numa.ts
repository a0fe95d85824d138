// The DUT host's NUMA layout, as a two-socket host makes it matter: DPDK's
// hugepages free on each node it takes memory on, and a hugetlbfs mount of
// their size; each NIC's node given socket memory (else its mempools come
// across the interconnect: the first run passes, every nightly after flaps);
// no two PMD cores SMT siblings of one core.
import { HUGETLBFS_MOUNTS_COMMAND, hugepageSizeText, hugepageSizeWord, parseHugetlbfsMounts } from '../parsers/hugepages.js';
import { coresOf, perNodeText, socketMemPerNode, socketPagesPerNode } from '../testbed/sizing.js';
import { shq } from '../transport/quote.js';
import { nics, upstreamDpdk } from './needs.js';
import { cpuList, fail, ok, warn, type CommandProbe } from './probe.js';

const hugepagesNode: CommandProbe = {
  id: 'hugepages-node',
  title: 'free hugepages on each NUMA node DPDK takes memory on, and a hugetlbfs mount of their size',
  host: 'host',
  notNeeded: upstreamDpdk,
  command: (c) =>
    `for n in /sys/devices/system/node/node[0-9]*; do echo "node \${n##*node} $(cat "$n/hugepages/hugepages-${c.tb.ovsDpdk.hugepageSizeKb}kB/free_hugepages" 2>/dev/null || echo none)"; done; ` +
    `${HUGETLBFS_MOUNTS_COMMAND}; echo end`,
  judge: (r, c) => {
    if (!/^end$/m.test(r.stdout)) return fail("the nodes' hugepages were cut short", 'run the probe again');
    const size = c.tb.ovsDpdk.hugepageSizeKb;
    const shown = hugepageSizeText(size);
    const nodes = new Map([...r.stdout.matchAll(/^node (\d+) (\S+)$/gm)].map((m) => [Number(m[1]), m[2] === 'none' ? null : Number(m[2])]));
    const need = socketPagesPerNode(c.tb);
    const asked = `ovsDpdk.socketMemMb ${perNodeText(socketMemPerNode(c.tb))}`;
    const have = `this host has node ${[...nodes.keys()].join(', ') || '0'}`;
    const missing = need.flatMap((n, node) => (n > 0 && !nodes.has(node) ? [node] : []));
    if (missing.length > 0)
      return fail(
        `${asked} takes memory on node ${missing.join(', ')}, which ${have}`,
        `give ovsDpdk.socketMemMb one value per node this host has, node 0 first, the memory on the NICs' node (lscpu shows the nodes)`,
      );
    const short = need.flatMap((n, node) => (n > 0 && (nodes.get(node) ?? 0) < n ? [{ node, n, free: nodes.get(node) ?? 0 }] : []));
    const said = need.flatMap((n, node) => (n > 0 ? [`node ${node}: ${nodes.get(node) ?? 0} free ${shown} pages, DPDK takes ${n}`] : [])).join('; ');
    if (short.length > 0) {
      const echo = short.map((s) => `echo ${s.n} > /sys/devices/system/node/node${s.node}/hugepages/hugepages-${size}kB/nr_hugepages`).join('; ');
      return fail(said, `${echo} (at boot for 1 GB pages: docs/real-lab.md reserves them per node)`);
    }
    // DPDK's EAL maps its pages from a hugetlbfs mount of their size, unless it runs --in-memory (memfd).
    if (c.tb.ovsDpdk.extraArgs.includes('--in-memory')) return ok(`${said} (--in-memory: no hugetlbfs mount needed)`);
    // Debian mounts the default size at /dev/hugepages; another size gets a directory of its own.
    const dir = `/dev/hugepages${size >= 1048576 ? hugepageSizeWord(size) : ''}`;
    const mounts = parseHugetlbfsMounts(r.stdout).filter((m) => m.kb === size);
    if (mounts.length === 0)
      return fail(
        `${said}; no hugetlbfs mount of ${shown} pages`,
        `mkdir -p ${dir} && mount -t hugetlbfs -o pagesize=${hugepageSizeWord(size)} none ${dir} (and in /etc/fstab)`,
      );
    return ok(`${said}; hugetlbfs of ${shown} pages at ${mounts.map((m) => m.at).join(', ')}`);
  },
};

const socketMemNode: CommandProbe = {
  id: 'socket-mem-node',
  title: "DPDK's socket memory on each NIC's NUMA node",
  host: 'host',
  notNeeded: nics,
  command: (c) =>
    `for d in ${c.tb.ovsDpdk.pciDevices.map(shq).join(' ')}; do echo "nic $d $(cat "/sys/bus/pci/devices/$d/numa_node" 2>/dev/null || echo -1)"; done`,
  judge: (r, c) => {
    const mem = socketMemPerNode(c.tb);
    const nicNode = [...r.stdout.matchAll(/^nic (\S+) (-?\d+)$/gm)].map((m) => ({ dev: m[1]!, node: Number(m[2]) }));
    const said = `${nicNode.map((n) => `${n.dev} on node ${n.node < 0 ? 'any (one node)' : n.node}`).join(', ')}; ovsDpdk.socketMemMb ${perNodeText(mem)}`;
    const bare = nicNode.filter((n) => n.node >= 0 && !((mem[n.node] ?? 0) > 0));
    if (bare.length === 0) return ok(said);
    const want = Math.max(...mem);
    const list = Array.from({ length: Math.max(mem.length, ...bare.map((b) => b.node + 1)) }, (_, i) =>
      bare.some((b) => b.node === i) ? want : (mem[i] ?? 0),
    );
    return fail(
      `${said}: node ${[...new Set(bare.map((b) => b.node))].join(', ')} gets none, so the NIC's mempools come from another node across the interconnect`,
      `ovsDpdk.socketMemMb: [${list.join(', ')}] (one value per node, node 0 first), and socketLimitMb alike`,
    );
  },
};

const pmdSiblings: CommandProbe = {
  id: 'pmd-siblings',
  title: 'no two PMD cores SMT siblings of one physical core',
  host: 'host',
  notNeeded: (c) => upstreamDpdk(c) ?? (coresOf(c.tb.ovsDpdk.pmdCpuMask).length > 1 ? null : 'one PMD core'),
  command: (c) =>
    `for p in ${coresOf(c.tb.ovsDpdk.pmdCpuMask).join(' ')}; do echo "cpu $p $(cat /sys/devices/system/cpu/cpu$p/topology/thread_siblings_list 2>/dev/null)"; done`,
  judge: (r) => {
    const cpus = [...r.stdout.matchAll(/^cpu (\d+) (.*)$/gm)].map((m) => ({ cpu: Number(m[1]), siblings: cpuList(m[2]!) }));
    const pmd = new Set(cpus.map((x) => x.cpu));
    const pairs = cpus.flatMap((x) => x.siblings.filter((s) => s > x.cpu && pmd.has(s)).map((s) => `${x.cpu} and ${s}`));
    if (pairs.length === 0) return ok(`PMD cores ${cpus.map((x) => x.cpu).join(', ')}: each on a physical core of its own`);
    return warn(
      `PMD cores ${pairs.join(', ')} are SMT siblings: two PMDs share one core's pipeline and each forwards less`,
      'choose PMD cores on distinct physical cores (lscpu -e: the CORE column), and keep their siblings idle (isolcpus) or SMT off (nosmt)',
    );
  },
};

/** hugepages-node runs after the total (dut.ts's hugepages); the others beside the NUMA probe. */
export const NUMA_PROBES: CommandProbe[] = [hugepagesNode, socketMemNode, pmdSiblings];
