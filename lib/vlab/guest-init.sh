#!/bin/sh
# dutlab's guest init (PID 1 of the virtual lab's VM, see lib/vlab/image.ts):
# mount the basics, name the NICs, bring up the management NIC, run sshd, and
# reap orphans. systemd boots in twice the time under TCG; nothing else is
# needed. The kernel command line says what to name (QEMU's -append):
#   dutlab.mgmt=MAC       the management NIC (QEMU user networking): mgmt0, 10.0.2.15/24, no default route
#   dutlab.nic=MAC/NAME   a lab NIC, renamed NAME (vEth_port32), left down and unaddressed for the run
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
say() { echo "dutlab-init: $*" > /dev/console; }

mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
mkdir -p /dev/pts /run /tmp
mount -t devpts devpts /dev/pts
mount -t tmpfs run /run
mount -t tmpfs tmp /tmp
hostname guest
for m in virtio_pci virtio_net; do modprobe "$m" 2>/dev/null; done
# As in the namespace guest: no IPv6 on the lab links, so counters count only what the run sends.
sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip link set lo up

ifname_of() { # the interface with this MAC
  for d in /sys/class/net/*; do
    [ "$(cat "$d/address" 2>/dev/null)" = "$1" ] && { basename "$d"; return 0; }
  done
  return 1
}
lower() { echo "$1" | tr 'A-F' 'a-f'; }

for arg in $(cat /proc/cmdline); do
  case "$arg" in
    dutlab.mgmt=*)
      mac=$(lower "${arg#dutlab.mgmt=}")
      if dev=$(ifname_of "$mac"); then
        ip link set "$dev" name mgmt0 && ip addr add 10.0.2.15/24 dev mgmt0 && ip link set mgmt0 up
      else
        say "no NIC with the management MAC $mac"
      fi ;;
    dutlab.nic=*)
      spec=${arg#dutlab.nic=}
      mac=$(lower "${spec%%/*}"); name=${spec#*/}
      if dev=$(ifname_of "$mac"); then ip link set "$dev" name "$name"; else say "no NIC with MAC $mac for $name"; fi ;;
  esac
done
say "interfaces: $(ls /sys/class/net | tr '\n' ' ')"

mkdir -p /run/sshd
cat > /run/sshd_config <<'EOF'
ListenAddress 0.0.0.0:22
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
X11Forwarding no
PrintMotd no
Subsystem sftp internal-sftp
LogLevel INFO
EOF
/usr/sbin/sshd -f /run/sshd_config -E /run/sshd.log && say "sshd started"

# PID 1 reaps what is orphaned to it (the harness's background commands): dash's wait reaps any child.
while :; do
  sleep 10 &
  wait
done
