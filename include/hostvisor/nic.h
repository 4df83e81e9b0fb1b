/*
 * A NIC on the command line: --net MODEL,BACKEND[,mac=XX:XX:XX:XX:XX:XX][,capture=FILE].
 * MODEL is the device ("pcnet"); BACKEND and its options go to net_backend_open ("tap=NAME",
 * "user,hostfwd=tcp:8080-:80"); mac= and capture= are the NIC's own.
 */
#ifndef HOSTVISOR_NIC_H
#define HOSTVISOR_NIC_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NIC_MAX 4

struct nic_config {
	char model[16];
	char backend[512];
	uint8_t mac[6];
	bool mac_set;
	char capture[PATH_MAX];
};

/* 0, or negative errno with one clear line in err naming the bad part. */
int nic_config_parse(const char *spec, struct nic_config *nic, char *err, size_t errlen);

/* "52:54:00:12:34:56" -> bytes; rejects multicast and all-zero addresses. */
int mac_parse(const char *s, uint8_t mac[6]);

/*
 * A stable, locally administered unicast address for NIC index of a VM, derived from seed (the
 * machine id and the kernel's path): the same VM gets the same MAC on every run, two VMs on one
 * host do not collide by default (IEEE 802 section 9.2: U/L bit set, I/G bit clear).
 */
void nic_default_mac(const char *seed, int index, uint8_t mac[6]);

#endif
