#!/bin/sh
# Polynic guest: PID 1 of the initramfs. Sets up the minimum a NIC test needs, loads the
# modules listed by the rig (already in dependency order), then keeps the serial agent
# alive. PID 1 must never exit (that panics the kernel), hence the endless loop at the end.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=dumb
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /run /tmp /root /var/run
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
# Only emergencies may reach the console: kernel lines would interleave with the protocol.
echo 1 > /proc/sys/kernel/printk
hostname polynic-guest

while read -r module; do
    [ -n "$module" ] || continue
    insmod "/lib/modules/polynic/$module.ko" 2>/dev/null || echo "polynic: insmod $module failed"
done < /etc/polynic/modules

ip link set lo up

# setsid -c gives the agent ttyS0 as controlling terminal, so a ^C from the host
# interrupts a runaway command (SIGINT to the foreground group) instead of being data.
while true; do
    setsid -c sh /etc/polynic/agent.sh <>/dev/ttyS0 >&0 2>&0
    sleep 1
done
