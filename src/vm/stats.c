/* Exit accounting and the --stats report (DESIGN.md section 7). */
#include <inttypes.h>
#include <stdbool.h>

#include "hostvisor/stats.h"

static const char *const reason_names[EXIT_REASONS] = {
	[EXIT_PIO] = "port I/O",
	[EXIT_MMIO] = "MMIO",
	[EXIT_HLT] = "HLT",
	[EXIT_IRQ_WINDOW] = "interrupt window",
	[EXIT_INTR] = "signal (kick)",
	[EXIT_EOI] = "IOAPIC EOI",
	[EXIT_SHUTDOWN] = "shutdown (triple fault)",
	[EXIT_SYSTEM_EVENT] = "system event",
	[EXIT_OTHER] = "other",
};

const char *exit_reason_name(enum exit_reason r)
{
	return r < EXIT_REASONS ? reason_names[r] : "?";
}

void stats_count_bus(struct bus_counter *by_id, struct bus_counter *unclaimed, int id,
		     int is_write)
{
	struct bus_counter *c = id >= 0 && id < BUS_MAX_IDS ? &by_id[id] : unclaimed;

	if (is_write)
		c->writes++;
	else
		c->reads++;
}

static const struct bus_counter *counter_of(const struct vcpu_stats *v, int id, int is_pio)
{
	if (id < 0)
		return is_pio ? &v->pio_unclaimed : &v->mmio_unclaimed;
	return is_pio ? &v->pio[id] : &v->mmio[id];
}

/* One line per range with its total, then per vCPU when there are several. */
static void print_range(FILE *out, const char *name, uint64_t base, bool has_base,
			struct vcpu_stats *const *v, int n, int id, int is_pio)
{
	uint64_t r = 0, w = 0;

	for (int i = 0; i < n; i++) {
		r += counter_of(v[i], id, is_pio)->reads;
		w += counter_of(v[i], id, is_pio)->writes;
	}
	if (r + w == 0)
		return;
	if (has_base)
		fprintf(out, "    %-16s 0x%-10" PRIx64, name, base);
	else
		fprintf(out, "    %-16s %-12s", name, "");
	fprintf(out, " reads %-10" PRIu64 " writes %-10" PRIu64, r, w);
	for (int i = 0; n > 1 && i < n; i++)
		fprintf(out, " vcpu%d %" PRIu64 "/%" PRIu64, i, counter_of(v[i], id, is_pio)->reads,
			counter_of(v[i], id, is_pio)->writes);
	fprintf(out, "\n");
}

static void print_bus(FILE *out, const char *title, struct vcpu_stats *const *v, int n,
		      const struct bus *bus, int is_pio)
{
	fprintf(out, "  %s by range:\n", title);
	for (int id = 0; id < BUS_MAX_IDS; id++) {
		uint64_t base;
		const char *name = bus_id_name(bus, id, &base);

		if (name)
			print_range(out, name, base, true, v, n, id, is_pio);
	}
	print_range(out, "(unclaimed)", 0, false, v, n, -1, is_pio);
}

void stats_print(FILE *out, struct vcpu_stats *const *v, int n, const struct bus *pio,
		 const struct bus *mmio, uint64_t msi_delivered)
{
	uint64_t total[EXIT_REASONS] = { 0 }, all = 0, injected = 0, insns = 0, decodes = 0;
	uint64_t translated = 0, blocks = 0;

	fprintf(out, "hostvisor: statistics\n");
	for (int i = 0; i < n; i++) {
		uint64_t sum = 0;
		for (int r = 0; r < EXIT_REASONS; r++) {
			total[r] += v[i]->exits[r];
			sum += v[i]->exits[r];
		}
		injected += v[i]->interrupts_injected;
		insns += v[i]->instructions;
		decodes += v[i]->decodes;
		translated += v[i]->translated;
		blocks += v[i]->blocks;
		fprintf(out, "  vcpu%d exits %" PRIu64 ":", i, sum);
		for (int r = 0; r < EXIT_REASONS; r++)
			if (v[i]->exits[r])
				fprintf(out, " %s %" PRIu64 ";", reason_names[r], v[i]->exits[r]);
		fprintf(out, "\n");
		all += sum;
	}
	fprintf(out, "  total exits %" PRIu64 "\n", all);
	for (int r = 0; r < EXIT_REASONS; r++)
		if (total[r])
			fprintf(out, "    %-24s %" PRIu64 "\n", reason_names[r], total[r]);
	if (insns)
		fprintf(out, "  guest instructions executed (emu): %" PRIu64 ", %" PRIu64 " decoded\n",
			insns, decodes);
	if (blocks)
		fprintf(out, "  translated code (emu): %" PRIu64 " blocks, %" PRIu64
			" of the instructions\n", blocks, translated);
	fprintf(out, "  interrupts: %" PRIu64 " injected, %" PRIu64 " IOAPIC messages\n",
		injected, msi_delivered);
	print_bus(out, "port I/O", v, n, pio, 1);
	print_bus(out, "MMIO", v, n, mmio, 0);
}
