// SPDX-License-Identifier: MIT
/* Attaching a VM to a bridge: see vnet_attach.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vnet_attach.h"
#include "vnet_bridge.h"
#include "vnet_wire.h"

static int check_ip(const char *s)
{
	char host[64];
	const char *slash = strchr(s, '/');
	struct in_addr a;
	char *end;
	long n;

	if (!slash || (size_t)(slash - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(slash - s));
	host[slash - s] = 0;
	n = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1 || n < 1 || n > 32)
		return -EINVAL;
	return inet_pton(AF_INET, host, &a) == 1 ? 0 : -EINVAL;
}

int vnet_net_parse(const char *arg, struct vnet_net_spec *s, char *err, size_t errsz)
{
	char buf[256], *save = NULL, *tok;

	memset(s, 0, sizeof(*s));
	s->vni = 1;
	if (strlen(arg) >= sizeof(buf))
		return snprintf(err, errsz, "--net: too long"), -EINVAL;
	snprintf(buf, sizeof(buf), "%s", arg);
	tok = strtok_r(buf, ",", &save);
	if (!tok || !vnet_name_ok(tok))
		return snprintf(err, errsz, "--net %s: want BRIDGE[,mac=M][,ip=A/N][,vni=N][,accel=on|off]", arg), -EINVAL;
	snprintf(s->bridge, sizeof(s->bridge), "%s", tok);
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (!strncmp(tok, "mac=", 4)) {
			if (vnet_mac_parse(tok + 4, s->mac) || vnet_mac_multicast(s->mac))
				return snprintf(err, errsz, "--net: bad unicast MAC '%s'", tok + 4), -EINVAL;
			s->has_mac = true;
		} else if (!strncmp(tok, "ip=", 3)) {
			if (check_ip(tok + 3))
				return snprintf(err, errsz, "--net: bad address '%s' (want A.B.C.D/N)", tok + 3), -EINVAL;
			snprintf(s->ip, sizeof(s->ip), "%s", tok + 3);
		} else if (!strncmp(tok, "vni=", 4)) {
			char *end;
			unsigned long v = strtoul(tok + 4, &end, 10);

			if (*end || end == tok + 4 || v > VNET_VNI_MAX)
				return snprintf(err, errsz, "--net: vni is 0..%u", VNET_VNI_MAX), -EINVAL;
			s->vni = (uint32_t)v;
		} else if (!strcmp(tok, "accel=on") || !strcmp(tok, "accel=off")) {
			s->accel = tok[7] == 'n' ? VNET_ACCEL_ON : VNET_ACCEL_OFF;
		} else {
			return snprintf(err, errsz, "--net: unknown option '%s' (mac=, ip=, vni=, accel=on|off)", tok),
			       -EINVAL;
		}
	}
	return 0;
}

void vnet_mac_from_name(const char *vm, int idx, uint8_t *mac)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const char *p = vm; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	h = (h ^ (uint64_t)idx) * 0x100000001b3ull;
	h ^= h >> 31;
	mac[0] = 0x02;		/* locally administered, unicast */
	mac[1] = 0x47;		/* 'G' */
	for (int i = 2; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * (i - 2)));
}

int vnet_qemu_args(const char *id, const char *sock, const uint8_t *mac, unsigned mtu, char args[6][512])
{
	char m[18];
	int n;

	/* Socket paths with commas would need QEMU's escaping; runtime paths
	 * here never have them (names exclude ','). */
	vnet_mac_format(mac, m);
	snprintf(args[0], 512, "-chardev");
	n = snprintf(args[1], 512, "socket,id=%s-chr,path=%s,reconnect=1", id, sock);
	if (n < 0 || n >= 512 || strchr(sock, ','))
		return -ENAMETOOLONG;
	snprintf(args[2], 512, "-netdev");
	snprintf(args[3], 512, "vhost-user,id=%s,chardev=%s-chr", id, id);
	snprintf(args[4], 512, "-device");
	/* vectors=0 (INTx, no MSI-X): QEMU 7.2 starting a vhost-user-net device
	 * with MSI-X masks the config interrupt through vhost_config_mask()
	 * before the vhost device has its VirtIODevice and segfaults (seen here
	 * under TCG at the guest's DRIVER_OK). */
	snprintf(args[5], 512, "virtio-net-pci,netdev=%s,mac=%s,host_mtu=%u,vectors=0", id, m, mtu);
	return 0;
}

int vnet_accel_qemu_args(const char *id, const char *sock, char args[4][512])
{
	int n;

	snprintf(args[0], 512, "-chardev");
	n = snprintf(args[1], 512, "socket,id=%s-acc,path=%s", id, sock);
	if (n < 0 || n >= 512 || strchr(sock, ','))
		return -ENAMETOOLONG;
	snprintf(args[2], 512, "-device");
	/* One vector: the bridge's interrupt to the guest (MSI-X). */
	snprintf(args[3], 512, "ivshmem-doorbell,chardev=%s-acc,vectors=1", id);
	return 0;
}

int vnet_guest_setup_cmd(const uint8_t *mac, const char *ip, unsigned mtu, char *out, size_t outsz)
{
	char m[18];
	int n;

	vnet_mac_format(mac, m);
	/* The NIC's name depends on probe order: find it by its MAC. */
	n = snprintf(out, outsz,
		     "for d in /sys/class/net/*; do read -r a < $d/address; "
		     "if [ \"$a\" = %s ]; then i=${d##*/}; ip link set $i mtu %u up%s%s%s && exit 0; exit 1; fi; done; "
		     "echo no interface with MAC %s >&2; exit 1",
		     m, mtu, *ip ? " && ip addr add " : "", ip, *ip ? " dev $i" : "", m);
	return n < 0 || (size_t)n >= outsz ? -ENAMETOOLONG : 0;
}
