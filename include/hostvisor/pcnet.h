/*
 * AMD Am79C970A PCnet-PCI II Ethernet controller: a PCI function (vendor 1022h, device 2000h)
 * with a 32-byte I/O BAR and the same registers in a 32-byte memory BAR, the address PROM,
 * RAP/RDP/BDP/RESET in word (WIO) and dword (DWIO) mode, the CSRs and BCRs drivers use, the
 * 16- and 32-bit initialization block and descriptor styles (SWSTYLE 0, 2, 3), transmit and
 * receive rings with data chaining, the address filter, internal loopback, and an MII PHY
 * behind BCR32-34. Datasheet: AMD Am79C970A, publication 19436.
 *
 * Threads: register accesses run on vCPU threads (and transmit there, in the RDP write), frames
 * arrive on the I/O thread through the backend's receiver, the descriptor poll timer runs on the
 * I/O thread. One lock in the device guards everything.
 */
#ifndef HOSTVISOR_PCNET_H
#define HOSTVISOR_PCNET_H

#include <stdint.h>

#include "hostvisor/evloop.h"
#include "hostvisor/gmem.h"
#include "hostvisor/net.h"
#include "hostvisor/pci.h"

#define PCNET_VENDOR_ID 0x1022
#define PCNET_DEVICE_ID 0x2000
#define PCNET_IO_SIZE 32
#define PCNET_MMIO_SIZE 32

struct pcnet;

/* be may be NULL (no cable: transmitted frames go nowhere, nothing is received). The device
 * becomes the backend's receiver. mac must be a unicast address. NULL on failure. */
struct pcnet *pcnet_create(struct evloop *loop, const struct gmem *gm, struct net_backend *be,
			   const uint8_t mac[6]);
/* Adds the PCI function at slot.0 with its BARs (placed by firmware or the guest). */
int pcnet_attach(struct pcnet *nic, struct pci_bus *pci, int slot);
/* H_RESET: every register to its power-on value, word I/O mode, the PROM reloaded. */
void pcnet_reset(struct pcnet *nic);
/* Detaches from the backend and frees the device. The PCI bus keeps pointing at the function
 * and the I/O buses at its BARs: call after the vCPUs stopped, and destroy the buses too. */
void pcnet_destroy(struct pcnet *nic);
/* The PCI function, for tests and the platform. */
struct pci_device *pcnet_pci(struct pcnet *nic);

#endif
