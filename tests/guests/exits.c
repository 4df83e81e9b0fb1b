/*
 * The benchmark guest: back-to-back VM exits, timed with the TSC.
 *
 * - unclaimed: byte writes to a port no device claims (port=P, default 0x2000: unclaimed on
 *   hostvisor and on QEMU's pc machine, whose PCI I/O window starts at 0xc000 and whose fw_cfg
 *   is at 0x510);
 * - scratch: byte writes to the UART scratch register (0x3ff), a device register;
 * - mmio: dword writes at ring 3 to guest-physical memory nobody claims (mmio_addr=A, default
 *   0xd0000000, in the PCI hole of both VMMs and outside their BARs).
 *
 * The port loops run at ring 0 through SYSCALL (svc_outb_loop in entry.S) because ring-3 port
 * I/O faults on PVM; the MMIO loop runs at ring 3, so it has no ring-0 emulation in it at all.
 * Each loop runs iters=N times (default 1000000), or unclaimed=N, scratch=N, mmio=N for one
 * loop alone; iters=0 gives the boot-and-power-off baseline.
 */
#include "guest.h"

const char guest_name[] = "exits";

#define UART_SCR (COM1 + 7)

static uint64_t time_port_loop(uint16_t port, uint64_t n)
{
	uint64_t t0 = rdtsc();

	__asm__ volatile("syscall" : "+D"(n) : "a"(0x5a), "d"(port) : "rcx", "r11", "memory");
	return rdtsc() - t0;
}

static uint64_t time_mmio_loop(uint64_t addr, uint64_t n)
{
	uint64_t t0 = rdtsc();

	for (uint64_t i = 0; i < n; i++)
		mmio_write32(addr, (uint32_t)i);
	return rdtsc() - t0;
}

static void report_loop(const char *what, uint64_t where, uint64_t n, uint64_t cycles, uint64_t hz)
{
	uint64_t ns = hz >= 1000000 ? cycles * 1000 / (hz / 1000000) : 0;

	gprintf("EXITS %s at=0x%lx n=%lu cycles=%lu ns=%lu\n", what, where, n, cycles, ns);
}

void guest_main(void)
{
	uint64_t n = cmdline_u64("iters", 1000000);
	uint64_t n_unclaimed = cmdline_u64("unclaimed", n);
	uint64_t n_scratch = cmdline_u64("scratch", n);
	uint64_t n_mmio = cmdline_u64("mmio", n);
	uint16_t port = (uint16_t)cmdline_u64("port", 0x2000);
	uint64_t mmio = cmdline_u64("mmio_addr", 0xd0000000);
	uint64_t hz = tsc_hz();

	gprintf("EXITS tsc_hz=%lu\n", hz);
	uint64_t unclaimed = time_port_loop(port, n_unclaimed);
	uint64_t scratch = time_port_loop(UART_SCR, n_scratch);
	uint64_t mmio_cycles = time_mmio_loop(mmio, n_mmio);

	report_loop("unclaimed", port, n_unclaimed, unclaimed, hz);
	report_loop("scratch", UART_SCR, n_scratch, scratch, hz);
	report_loop("mmio", mmio, n_mmio, mmio_cycles, hz);
	check(hz != 0, "exits.tsc", "no ACPI PM timer to measure the TSC with");
	pass("exits.loops");
}
