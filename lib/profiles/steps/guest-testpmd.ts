// The guest forwarding with DPDK's testpmd (vm.forwarding: testpmd), as
// upstream's PHY-VM-PHY howto, VSPERF and NFVbench run it: the guest's
// vhost-user NICs taken from its kernel and given to uio_pci_generic (the
// cloud kernel's VFIO has no no-IOMMU mode), hugepages of the guest's own,
// and testpmd in MAC-forwarding mode, each port's frames sent to the next
// hop's MAC (the gateway's out of the egress NIC; both ways, the reverse next
// hop's out of the ingress NIC). Its counters come from DPDK's telemetry
// socket (dpdk-telemetry.py), as JSON.
import { CheckFailure } from '../../errors.js';
import { reverseGatewayOf } from '../../testbed/topology.js';
import { shq } from '../../transport/quote.js';
import type { Cmd, StepContext, StepDef } from '../profile.js';
import { dmesgBaseline, guestConnect } from './guest-router.js';

/** Where the guest keeps what the bind step found: a line per NIC, "vEth_port32 0000:00:03.0", ingress first. */
export const TESTPMD_DIR = '/run/dutlab-testpmd';
const PORTS = `${TESTPMD_DIR}/ports`;
const PAGES_BEFORE = `${TESTPMD_DIR}/pages-before`;
/** testpmd's DPDK file prefix: its telemetry socket is /var/run/dpdk/<prefix>/dpdk_telemetry.v2. */
export const TESTPMD_PREFIX = 'dutlab-testpmd';
export const TESTPMD_PROCESS = 'testpmd';
/** Written with the pid of the shell the harness starts testpmd under (testpmd is its child; its exit is reported). */
export const TESTPMD_PIDFILE = `${TESTPMD_DIR}/testpmd.pid`;
const NR_HUGEPAGES = '/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages';

/** A NIC's PCI address from its kernel name: the parent of its virtio device. */
const pciOf = (iface: string) => `$(basename "$(dirname "$(readlink -f /sys/class/net/${shq(iface)}/device)")")`;

/** The path's two NICs in role order: ingress, egress. */
const nics = (c: Pick<StepContext, 'topology'>) => [c.topology.vmIngress.guestIf, c.topology.vmEgress.guestIf];

export const guestTestpmdBind: StepDef = {
  id: 'guest.testpmd-bind',
  title: "Give the guest's NICs to DPDK (uio_pci_generic) and reserve testpmd's hugepages",
  host: 'guest',
  commands: (c) => [
    { line: 'modprobe uio_pci_generic' },
    { line: `mkdir -p ${TESTPMD_DIR} && rm -f ${PORTS}` },
    { line: `[ -e ${PAGES_BEFORE} ] || cat ${NR_HUGEPAGES} > ${PAGES_BEFORE}` },
    {
      line: `n=$(( $(cat ${PAGES_BEFORE}) + ${c.tb.vm!.testpmd.hugepages} )); echo "$n" > ${NR_HUGEPAGES}; [ "$(cat ${NR_HUGEPAGES})" -ge "$n" ] || { echo "the guest reserved only $(cat ${NR_HUGEPAGES}) of $n 2 MB hugepages" >&2; exit 1; }`,
    },
    { line: 'mountpoint -q /dev/hugepages || { mkdir -p /dev/hugepages && mount -t hugetlbfs nodev /dev/hugepages; }' },
    ...nics(c).map(
      (iface): Cmd => ({
        line:
          `pci=${pciOf(iface)}; d=/sys/bus/pci/devices/$pci; echo ${shq(iface)} "$pci" >> ${PORTS}; ` +
          `echo uio_pci_generic > "$d/driver_override" && echo "$pci" > "$d/driver/unbind" && echo "$pci" > /sys/bus/pci/drivers_probe && ` +
          `[ "$(basename "$(readlink "$d/driver")")" = uio_pci_generic ] || { echo ${shq(`${iface}`)} "($pci): not bound to uio_pci_generic" >&2; exit 1; }`,
      }),
    ),
    { line: `cat ${PORTS}` },
  ],
  after: async (s, outputs) => {
    const lines = outputs.at(-1)!.trim().split('\n');
    const problems = nics(s).flatMap((iface, i) => (lines[i]?.startsWith(`${iface} `) ? [] : [`${iface}: no PCI address recorded (${lines[i] ?? 'nothing'})`]));
    CheckFailure.ifAny('testpmd ports', problems);
  },
  // The NICs back to the kernel's virtio driver, the pages back to what the guest had.
  undo: () => [
    {
      line:
        `[ -e ${PORTS} ] && while read -r name pci; do d=/sys/bus/pci/devices/$pci; echo > "$d/driver_override"; ` +
        `[ -e "$d/driver" ] && echo "$pci" > "$d/driver/unbind"; echo "$pci" > /sys/bus/pci/drivers_probe; done < ${PORTS}; rm -f ${PORTS}`,
      okExitCodes: [0, 1],
    },
    { line: `[ -e ${PAGES_BEFORE} ] && cat ${PAGES_BEFORE} > ${NR_HUGEPAGES} && rm -f ${PAGES_BEFORE}`, okExitCodes: [0, 1] },
  ],
};

/** testpmd's command line: ports by PCI scan order (not -a's), so each port's peer is set by its rank. */
export function testpmdCommand(c: StepContext): string {
  const v = c.tb.vm!;
  const egressPeer = c.tb.gateway.mac;
  // One way, the ingress port's peer is never used; the reverse next hop's MAC is the right one both ways.
  const ingressPeer = reverseGatewayOf(c.tb).mac;
  return (
    `set -- $(cat ${PORTS}); ing=$2; egr=$4; ` +
    `if [ "$(printf '%s\\n%s\\n' "$ing" "$egr" | sort | head -n 1)" = "$ing" ]; then pi=0; pe=1; else pi=1; pe=0; fi; ` +
    `dpdk-testpmd -l 0,1 -n 1 --file-prefix ${TESTPMD_PREFIX} -a "$ing" -a "$egr" -- --forward-mode=mac ` +
    `--eth-peer="$pi,${ingressPeer}" --eth-peer="$pe,${egressPeer}" --auto-start --total-num-mbufs=${v.testpmd.mbufs} --stats-period 1`
  );
}

export const guestTestpmd: StepDef = {
  id: 'guest.testpmd',
  title: 'Start testpmd in MAC-forwarding mode, the next hops as its peers',
  host: 'guest',
  // The guest is the run's own VM, booted for it: no testpmd of an earlier run can be there.
  commands: (c) => [{ line: testpmdCommand(c), background: { name: TESTPMD_PROCESS, reportExit: true, pidfile: TESTPMD_PIDFILE } }],
};

/** testpmd up: its telemetry socket answers for each port (EAL and the virtio PMD take seconds under TCG). */
export const guestTestpmdCheck: StepDef = {
  id: 'guest.testpmd-check',
  title: "Check testpmd forwards on both ports (DPDK's telemetry answers for each)",
  host: 'guest',
  commands: (c) => [
    {
      line:
        `i=0; until printf '/ethdev/stats,${c.tb.vmPorts.length - 1}\\n' | dpdk-telemetry.py -f ${TESTPMD_PREFIX} 2>/dev/null | grep -q '"ipackets"'; do ` +
        `i=$((i + 1)); [ $i -lt 120 ] || { echo "testpmd's telemetry did not answer for its ${c.tb.vmPorts.length} ports within 60 s" >&2; exit 1; }; sleep 0.5; done`,
      timeoutMs: 90_000,
    },
  ],
};

/** The guest as DPDK's MAC forwarder: reach it, note its kernel log, give its NICs to DPDK, start testpmd, check it. */
export const GUEST_TESTPMD_STEPS: readonly StepDef[] = [guestConnect, dmesgBaseline, guestTestpmdBind, guestTestpmd, guestTestpmdCheck];
