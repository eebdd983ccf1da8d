# vmtest guest setup, sourced (bash) by the command script before the command runs, both under
# vmtest's own qemu runner (whose stage 2 already did most of it) and under virtme-ng.
# Idempotent, and cheap: every exec costs ~0.1 s under TCG, so only what is missing is run.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root USER=root LOGNAME=root SHELL=/bin/bash LANG=C.UTF-8 TERM=dumb
export CI=${CI:-true} VMTEST=1 XDPWG_VM=1

_vm_mounted=" "
while read -r _ _d _; do _vm_mounted="$_vm_mounted$_d "; done </proc/self/mounts
for _m in devpts:/dev/pts:gid=5,mode=620,ptmxmode=666 tmpfs:/dev/shm:mode=1777 \
	bpf:/sys/fs/bpf:mode=0700 debugfs:/sys/kernel/debug: tracefs:/sys/kernel/tracing: \
	cgroup2:/sys/fs/cgroup:; do
	IFS=: read -r _t _d _o <<<"$_m"
	case "$_vm_mounted" in *" $_d "*) continue ;; esac
	[ -d "$_d" ] || mkdir -p "$_d"
	mount -t "$_t" ${_o:+-o "$_o"} "$_t" "$_d" || echo "vmtest: cannot mount $_t on $_d" >&2
done
[ -d /dev/net ] || mkdir -p /dev/net
[ -c /dev/net/tun ] || mknod -m 0666 /dev/net/tun c 10 200
[ -d /run/netns ] || mkdir -p /run/netns
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
for _i in 0:stdin 1:stdout 2:stderr; do
	[ -e "/dev/${_i#*:}" ] || ln -s "/proc/self/fd/${_i%%:*}" "/dev/${_i#*:}"
done
read -r _f </sys/class/net/lo/flags
(( _f & 1 )) || ip link set lo up
ulimit -l unlimited 2>/dev/null || true
ulimit -n 65536 2>/dev/null || true
unset _vm_mounted _m _t _d _o _i _f
