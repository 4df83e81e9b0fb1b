/*
 * Ring-3 start of every guest (entry.S irets here): take the command line from the Multiboot
 * information (Multiboot Specification 0.6.96, section 3.3: flags bit 2, cmdline at +16), run
 * the guest's checks, report, and power off through ACPI.
 */
#include "guest.h"

#define MB_BOOT_MAGIC 0x2badb002u
#define MB_INFO_CMDLINE (1u << 2)

static void __attribute__((noreturn)) stop(void)
{
	acpi_poweroff();
	gprintf("FAIL %s.poweroff: the VM did not power off\n", guest_name);
	for (;;)
		cpu_relax();
}

void guest_start(uint32_t magic, uint32_t info)
{
	const uint32_t *mbi = (const uint32_t *)(uintptr_t)info;

	if (magic == MB_BOOT_MAGIC && info && (mbi[0] & MB_INFO_CMDLINE))
		cmdline_set((const char *)(uintptr_t)mbi[4]);
	gprintf("hostvisor test guest %s, cmdline \"%s\"\n", guest_name, cmdline());
	if (magic != MB_BOOT_MAGIC)
		gprintf("FAIL %s.boot: EAX 0x%x, not the Multiboot magic\n", guest_name, magic);
	guest_main();
	gprintf("DONE %s pass=%u fail=%u\n", guest_name, report_passes(), report_failures());
	stop();
}

/* entry.S sends every CPU exception here, at ring 3 on a stack of its own. */
void guest_fault(uint64_t vector, uint64_t error, uint64_t rip, uint64_t cr2)
{
	gprintf("FAIL %s.fault: exception %lu error 0x%lx at rip 0x%lx cr2 0x%lx\n", guest_name,
		vector, error, rip, cr2);
	stop();
}
