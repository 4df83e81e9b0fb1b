/* The small runtime shared by the test guests. Everything here runs at ring 3. */
#ifndef GUEST_GUEST_H
#define GUEST_GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io.h"

/* Each guest defines its name and its body; start.c calls it and then powers off. */
extern const char guest_name[];
void guest_main(void);

/* start.c */
void guest_start(uint32_t magic, uint32_t info);
void guest_fault(uint64_t vector, uint64_t error, uint64_t rip, uint64_t cr2);

/* Interrupts taken so far, per vector; incremented by the ring-0 stubs in entry.S. */
extern volatile uint64_t irq_count[256];
/* The IDT (entry.S): 256 16-byte gates, on user-accessible pages. */
extern volatile uint8_t idt[256 * 16];

/* string.c (gcc may emit calls to these even with -ffreestanding) */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);

/* serial.c: COM1 output, waiting for THRE (bounded) before each byte */
#define COM1 0x3f8
void serial_putc(char c);
void serial_puts(const char *s);

/* print.c: %s %c %d %u %x with l/ll and a zero-padded width */
void gprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void gvprintf(const char *fmt, va_list ap);

/* report.c: "PASS <check>" / "FAIL <check>: reason" lines, counted */
void pass(const char *check);
void fail(const char *check, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool check(bool ok, const char *check, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
unsigned report_failures(void);
unsigned report_passes(void);

/* cmdline.c: key=value words of the Multiboot command line */
void cmdline_set(const char *s);
const char *cmdline(void);
uint64_t cmdline_u64(const char *key, uint64_t dflt);

/* acpi.c: the firmware tables */
struct acpi_info {
	uint64_t rsdp;
	uint64_t rsdt; /* 0 if absent */
	uint64_t xsdt; /* 0 if absent */
	uint64_t fadt;
	uint64_t dsdt;
	uint64_t madt;
	uint32_t pm1a_cnt; /* port */
	uint32_t pm_tmr;   /* port, 0 if none */
	bool pm_tmr_32bit; /* FADT flag TMR_VAL_EXT */
	uint8_t century;   /* CMOS index of the century, 0 if none */
	int s5_typ;	   /* SLP_TYPa of \_S5, -1 if not found */
	uint32_t ioapic_addr;
	uint32_t lapic_addr;
	int irq0_gsi; /* GSI of ISA IRQ 0 after the MADT overrides */
};
const struct acpi_info *acpi(void);
uint8_t acpi_checksum(uint64_t addr, uint32_t len);
int aml_find_s5(const uint8_t *aml, uint32_t len);
void acpi_poweroff(void);

/* pmtimer.c: the ACPI PM timer, 3.579545 MHz */
#define PM_TIMER_HZ 3579545u
bool pmtimer_present(void);
uint32_t pmtimer_read(void);
uint32_t pmtimer_elapsed(uint32_t since);
void pmtimer_delay_us(uint32_t us);
uint64_t tsc_hz(void);

/* pic.c: the 8259A pair */
void pic_init(uint8_t vector_base);
void pic_set_mask(uint16_t mask);

/* lapic.c */
void lapic_enable(uint64_t base, uint8_t spurious_vector);
uint8_t lapic_id(uint64_t base);
void lapic_write(uint64_t base, uint32_t reg, uint32_t v);
uint32_t lapic_read(uint64_t base, uint32_t reg);
#define LAPIC_ID 0x20
#define LAPIC_VERSION 0x30
#define LAPIC_TPR 0x80
#define LAPIC_SVR 0xf0
#define LAPIC_LVT0 0x350
#define LAPIC_LVT1 0x360

/* ioapic.c */
uint32_t ioapic_read(uint64_t base, uint8_t reg);
void ioapic_write(uint64_t base, uint8_t reg, uint32_t v);
void ioapic_route(uint64_t base, unsigned pin, uint8_t vector, uint8_t dest_apic_id);
void ioapic_mask(uint64_t base, unsigned pin);

#endif
