/*
 * Local APIC of one emu vCPU, xAPIC mode (Intel SDM vol. 3A ch. 11). The model is a Pentium 4 /
 * Xeon style APIC: version 0x14, six LVT entries (max LVT 5: timer, thermal, performance
 * counter, LINT0, LINT1, error; no CMCI), no EOI-broadcast suppression, no TSC-deadline timer.
 *
 * Register page (SDM 11.4.1, table 11-1):
 * - Only 32-bit accesses at 16-byte aligned offsets do anything. Other sizes and offsets read 0
 *   and are ignored ("all registers must be accessed using 128-bit aligned 32-bit loads or
 *   stores"; narrower access is model specific).
 * - An aligned access to a reserved slot (0x00, 0x10, 0x40-0x70, 0x290-0x2f0, 0x3a0-0x3d0,
 *   0x3f0) logs "Illegal Register Address" in the ESR (SDM 11.5.3, bit 7). 0x2f0 (LVT CMCI) is
 *   reserved here because the version register says max LVT 5. Writes to read-only registers
 *   are ignored without an error, as in xAPIC mode.
 * - Reserved bits read 0 and ignore writes; DFR bits 27:0 read 1.
 * - SVR (SDM 11.9): vector bits 7:0 all writable (P4/Xeon), bit 8 software enable, bit 9 focus
 *   processor checking (stored, no effect: lowest-priority arbitration is the engine's); bit 12
 *   (EOI-broadcast suppression) is reserved since the version register does not advertise it.
 * - ESR (SDM 11.5.3): errors collect in a hidden register; a write (any value) copies it to the
 *   readable ESR, clears it and re-arms the error interrupt. One LVT error interrupt is raised
 *   per arming, so an error storm cannot loop (an error vector below 16 is itself an error).
 *
 * Interrupt acceptance (SDM 11.8): fixed and lowest-priority messages set IRR (vectors 0-15 are
 * refused with "Received Illegal Vector"), TMR follows the trigger mode, PPR = TPR if TPR[7:4] >=
 * ISRV[7:4] else ISRV[7:4] << 4, an interrupt is deliverable when IRRV[7:4] > PPR[7:4]. EOI clears
 * the highest ISR bit and, if its TMR bit is set, tells the engine (ops->eoi) for the I/O APIC.
 * APR (SDM 10.8.3, older editions) is computed for reading only.
 *
 * Software disable (SVR bit 8 = 0, SDM 11.4.7.2): every LVT mask bit is set and cannot be
 * cleared; IRR and ISR are kept and held interrupts stay deliverable to the CPU ("pending
 * interrupts in the IRR and ISR are held and require masking or handling by the CPU"); new fixed
 * and lowest-priority messages are not accepted, while NMI, INIT and STARTUP are; IPIs can still
 * be sent.
 *
 * Hardware disable (IA32_APIC_BASE.EN = 0, SDM 11.4.3): the register page is unmapped, no
 * message reaches the APIC, and LINT0 passes the 8259's INTR straight through (ExtINT pending
 * follows the pin). Clearing EN returns the APIC to its power-up state (11.4.3: it "may return"
 * there; we always do), base address kept.
 *
 * ICR (SDM 11.6.1): a write to the low word sends at once; delivery status always reads idle.
 * IPIs are always sent edge-triggered: the P4/Xeon xAPIC overrides a level trigger mode bit
 * (SDM table 11-3 and its note 2); the register keeps the bit as written.
 * - Fixed and lowest-priority with a vector below 16: "Send Illegal Vector", nothing sent.
 * - Shorthand "self" is handled here: fixed (and lowest-priority, treated as fixed) are accepted
 *   into this APIC, NMI becomes a local NMI; INIT and STARTUP to self are invalid and dropped.
 * - Shorthands "all including self" and "all excluding self", and no shorthand, go to
 *   ops->send_ipi for the engine to route.
 * - Not sent at all: SMI (the emu CPU has no SMM), the reserved mode 011b, ExtINT (not an IPI
 *   mode on P4/Xeon), and INIT level de-assert (mode 101b, level 0: a no-op on P4/Xeon).
 *
 * Timer (SDM 11.5.4): counts on the event loop's clock (LAPIC_BUS_NS per bus tick, divided by
 * the divide configuration); the current count is computed from the clock, not ticked. The LVT
 * timer mode field is one bit (17): TSC-deadline mode is not advertised, so bit 18 is reserved
 * and a write of mode 10b gives one-shot, 11b periodic. A masked timer keeps counting. Writing
 * the initial count (re)starts the timer, writing 0 stops it; a divide change keeps the current
 * count and goes on at the new rate. Expiries missed by a late callback are merged into one
 * interrupt (IRR holds one bit per vector anyway), and a periodic timer fires at most every
 * LAPIC_TIMER_MIN_PERIOD_NS of host time so that a guest cannot flood the I/O thread; the
 * current count stays exact.
 *
 * LINT0: ExtINT mode (or a hardware-disabled APIC) makes lapic_extint_pending() follow the pin
 * (the 8259's INTR, active high, polarity bit not applied); an ExtINT message from the I/O APIC
 * latches until lapic_extint_ack(). Fixed mode on LINT0 delivers the vector on an asserted edge
 * (edge trigger) or while asserted with remote IRR (level trigger, cleared by the EOI of that
 * vector); NMI mode raises an NMI on an asserted edge. LINT1 is not wired.
 *
 * INIT (SDM 11.4.7.3): lapic_accept(INIT) resets the APIC (ID and base kept), drops pending NMI
 * and SIPI events and reports LAPIC_EVENT_INIT; lapic_init_signal() does the same APIC reset
 * without touching events, so an engine may call it again when it takes the INIT event. The
 * engine handles INIT before SIPI when take_events returns both.
 *
 * Locking: one mutex around all state. ops->kick is called with it held (the engine's kick
 * must not call into this APIC); ops->send_ipi and ops->eoi are called after it is dropped,
 * since the engine may route the IPI or the I/O APIC's answer back to this same APIC.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "hostvisor/lapic.h"

/* Register offsets (SDM table 11-1). */
#define REG_ID 0x020
#define REG_VERSION 0x030
#define REG_TPR 0x080
#define REG_APR 0x090
#define REG_PPR 0x0a0
#define REG_EOI 0x0b0
#define REG_RRD 0x0c0
#define REG_LDR 0x0d0
#define REG_DFR 0x0e0
#define REG_SVR 0x0f0
#define REG_ISR 0x100
#define REG_TMR 0x180
#define REG_IRR 0x200
#define REG_ESR 0x280
#define REG_ICR_LOW 0x300
#define REG_ICR_HIGH 0x310
#define REG_LVT_FIRST 0x320
#define REG_LVT_LAST 0x370
#define REG_TIMER_INITIAL 0x380
#define REG_TIMER_CURRENT 0x390
#define REG_TIMER_DIVIDE 0x3e0
#define REG_BITMAP_WORDS 8

/* Version 0x14 (P4/Xeon xAPIC), max LVT entry 5, no EOI-broadcast suppression (bit 24). */
#define LAPIC_VERSION 0x00050014u

#define ID_MASK 0xff000000u
#define LDR_MASK 0xff000000u
#define DFR_MODEL_MASK 0xf0000000u
#define DFR_RESERVED_ONES 0x0fffffffu
#define DFR_MODEL_FLAT 0xf0000000u
#define TPR_MASK 0xffu

#define SVR_VECTOR_MASK 0xffu
#define SVR_ENABLE (1u << 8)
#define SVR_FOCUS (1u << 9)
#define SVR_WRITABLE (SVR_VECTOR_MASK | SVR_ENABLE | SVR_FOCUS)
#define SVR_RESET 0xffu

/* ESR bits (SDM 11.5.3). */
#define ESR_SEND_ILLEGAL_VECTOR (1u << 5)
#define ESR_RECV_ILLEGAL_VECTOR (1u << 6)
#define ESR_ILLEGAL_REGISTER (1u << 7)

/* ICR fields (SDM 11.6.1). */
#define ICR_VECTOR_MASK 0xffu
#define ICR_DM_SHIFT 8
#define ICR_DM_MASK 7u
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_TRIGGER_LEVEL (1u << 15)
#define ICR_SHORTHAND_SHIFT 18
#define ICR_SHORTHAND_MASK 3u
#define ICR_LOW_WRITABLE 0x000ccfffu /* bits 11:0, 14, 15, 19:18; delivery status reads 0 */
#define ICR_HIGH_WRITABLE 0xff000000u
#define ICR_DEST_SHIFT 24

enum icr_shorthand {
	SHORTHAND_NONE = 0,
	SHORTHAND_SELF = 1,
	SHORTHAND_ALL = 2,
	SHORTHAND_OTHERS = 3,
};

/* LVT entries (SDM 11.5.1, figure 11-8), in register order. */
enum lvt_index {
	LVT_TIMER = 0,
	LVT_THERMAL,
	LVT_PERF,
	LVT_LINT0,
	LVT_LINT1,
	LVT_ERROR,
	LVT_COUNT,
};

#define LVT_VECTOR_MASK 0xffu
#define LVT_DM_SHIFT 8
#define LVT_DM_MASK 7u
#define LVT_POLARITY_LOW (1u << 13)
#define LVT_REMOTE_IRR (1u << 14)
#define LVT_TRIGGER_LEVEL (1u << 15)
#define LVT_MASKED (1u << 16)
#define LVT_TIMER_PERIODIC (1u << 17)
#define LVT_RESET LVT_MASKED

static const uint32_t lvt_writable[LVT_COUNT] = {
    [LVT_TIMER] = LVT_VECTOR_MASK | LVT_MASKED | LVT_TIMER_PERIODIC,
    [LVT_THERMAL] = LVT_VECTOR_MASK | 0x700u | LVT_MASKED,
    [LVT_PERF] = LVT_VECTOR_MASK | 0x700u | LVT_MASKED,
    [LVT_LINT0] = LVT_VECTOR_MASK | 0x700u | LVT_POLARITY_LOW | LVT_TRIGGER_LEVEL | LVT_MASKED,
    [LVT_LINT1] = LVT_VECTOR_MASK | 0x700u | LVT_POLARITY_LOW | LVT_TRIGGER_LEVEL | LVT_MASKED,
    [LVT_ERROR] = LVT_VECTOR_MASK | LVT_MASKED,
};

/* Divide configuration: bits 0, 1 and 3 (SDM figure 11-10). */
#define DIVIDE_WRITABLE 0xbu
/* A periodic timer interrupts at most this often (host time); see the file comment. */
#define LAPIC_TIMER_MIN_PERIOD_NS 50000ull

/* IA32_APIC_BASE: base address bits 12..MAXPHYADDR-1 (SDM 11.4.4). */
#define BASE_ADDR_MASK (((1ull << LAPIC_PHYS_ADDR_BITS) - 1) & ~0xfffull)
#define BASE_WRITABLE (BASE_ADDR_MASK | LAPIC_BASE_ENABLE | LAPIC_BASE_BSP)

struct lapic {
	pthread_mutex_t lock;
	const struct lapic_ops *ops;
	void *opaque;
	struct evloop *loop;
	struct timer *timer;

	uint8_t initial_id; /* the power-up APIC ID */
	bool bsp;
	uint64_t base; /* IA32_APIC_BASE */

	uint32_t id, tpr, ldr, dfr, svr;
	uint32_t esr, esr_pending;
	bool esr_armed;
	uint32_t icr_low, icr_high;
	uint32_t lvt[LVT_COUNT];
	uint32_t irr[REG_BITMAP_WORDS], isr[REG_BITMAP_WORDS], tmr[REG_BITMAP_WORDS];

	/* Timer: while running, it counts down seg_count ticks from seg_start_ns. */
	uint32_t timer_initial, timer_divide;
	bool timer_running;
	uint64_t seg_start_ns;
	uint32_t seg_count;
	uint64_t timer_last_fire_ns;

	bool lint0_level;
	bool extint_message;
	unsigned events;
	uint8_t sipi_vector;
};

/* What a register write asks for after the lock is dropped. */
struct lapic_outbox {
	bool send;
	uint32_t icr_low;
	uint8_t dest;
	int eoi_vector; /* -1: none */
};

/* ---- bitmaps ---- */

static void bitmap_set(uint32_t *map, unsigned vector)
{
	map[vector >> 5] |= 1u << (vector & 31);
}

static void bitmap_clear(uint32_t *map, unsigned vector)
{
	map[vector >> 5] &= ~(1u << (vector & 31));
}

static bool bitmap_test(const uint32_t *map, unsigned vector)
{
	return map[vector >> 5] >> (vector & 31) & 1;
}

static int bitmap_highest(const uint32_t *map)
{
	for (int i = REG_BITMAP_WORDS - 1; i >= 0; i--)
		if (map[i])
			return i * 32 + 31 - __builtin_clz(map[i]);
	return -1;
}

/* ---- state predicates ---- */

static bool hw_enabled(const struct lapic *apic)
{
	return apic->base & LAPIC_BASE_ENABLE;
}

static bool sw_enabled(const struct lapic *apic)
{
	return apic->svr & SVR_ENABLE;
}

static unsigned lvt_mode(uint32_t lvt)
{
	return lvt >> LVT_DM_SHIFT & LVT_DM_MASK;
}

/* ---- priorities (SDM 11.8.3) ---- */

static uint32_t priority_class(int vector)
{
	return vector < 0 ? 0 : (uint32_t)vector & 0xf0u;
}

static uint32_t lapic_ppr(const struct lapic *apic)
{
	uint32_t isr_class = priority_class(bitmap_highest(apic->isr));

	if ((apic->tpr & 0xf0u) >= isr_class)
		return apic->tpr;
	return isr_class;
}

/* Arbitration priority (SDM 10.8.3 in editions that still describe it). */
static uint32_t lapic_apr(const struct lapic *apic)
{
	uint32_t tpr_class = apic->tpr & 0xf0u;
	uint32_t isr_class = priority_class(bitmap_highest(apic->isr));
	uint32_t irr_class = priority_class(bitmap_highest(apic->irr));
	uint32_t max = tpr_class;

	if (tpr_class >= irr_class && tpr_class > isr_class)
		return apic->tpr;
	if (isr_class > max)
		max = isr_class;
	if (irr_class > max)
		max = irr_class;
	return max;
}

static int pending_locked(const struct lapic *apic)
{
	int vector;

	if (!hw_enabled(apic))
		return -1;
	vector = bitmap_highest(apic->irr);
	if (vector < 0 || priority_class(vector) <= (lapic_ppr(apic) & 0xf0u))
		return -1;
	return vector;
}

static void kick(struct lapic *apic)
{
	if (apic->ops && apic->ops->kick)
		apic->ops->kick(apic->opaque);
}

static void kick_if_pending(struct lapic *apic)
{
	if (pending_locked(apic) >= 0)
		kick(apic);
}

/* ---- acceptance ---- */

static void raise_local(struct lapic *apic, uint32_t lvt);

static void log_error(struct lapic *apic, uint32_t bits)
{
	apic->esr_pending |= bits;
	if (!apic->esr_armed || (apic->lvt[LVT_ERROR] & LVT_MASKED))
		return;
	/* Disarm first: an illegal error vector logs an error again and must not recurse. */
	apic->esr_armed = false;
	raise_local(apic, apic->lvt[LVT_ERROR] & LVT_VECTOR_MASK);
}

/* A fixed interrupt into IRR, TMR by trigger mode (SDM 11.8.4). */
static void accept_fixed(struct lapic *apic, uint8_t vector, bool level)
{
	if (vector < 16) {
		log_error(apic, ESR_RECV_ILLEGAL_VECTOR);
		return;
	}
	bitmap_set(apic->irr, vector);
	if (level)
		bitmap_set(apic->tmr, vector);
	else
		bitmap_clear(apic->tmr, vector);
	kick(apic);
}

/* A locally generated edge interrupt (timer, error) with the vector of its LVT entry. */
static void raise_local(struct lapic *apic, uint32_t lvt)
{
	if (lvt & LVT_MASKED)
		return;
	accept_fixed(apic, (uint8_t)(lvt & LVT_VECTOR_MASK), false);
}

static void reset_state(struct lapic *apic, bool keep_id)
{
	if (!keep_id)
		apic->id = (uint32_t)apic->initial_id << 24;
	apic->tpr = 0;
	apic->ldr = 0;
	apic->dfr = 0xffffffffu;
	apic->svr = SVR_RESET;
	apic->esr = 0;
	apic->esr_pending = 0;
	apic->esr_armed = true;
	apic->icr_low = 0;
	apic->icr_high = 0;
	for (int i = 0; i < LVT_COUNT; i++)
		apic->lvt[i] = LVT_RESET;
	memset(apic->irr, 0, sizeof(apic->irr));
	memset(apic->isr, 0, sizeof(apic->isr));
	memset(apic->tmr, 0, sizeof(apic->tmr));
	apic->timer_initial = 0;
	apic->timer_divide = 0;
	apic->timer_running = false;
	apic->seg_start_ns = 0;
	apic->seg_count = 0;
	apic->timer_last_fire_ns = 0;
	apic->extint_message = false;
	timer_del(apic->timer);
}

static void accept_locked(struct lapic *apic, enum lapic_delivery mode, uint8_t vector, bool level)
{
	if (!hw_enabled(apic))
		return;
	switch (mode) {
	case LAPIC_DM_FIXED:
	case LAPIC_DM_LOWEST:
		if (sw_enabled(apic))
			accept_fixed(apic, vector, level);
		break;
	case LAPIC_DM_NMI:
		apic->events |= LAPIC_EVENT_NMI;
		kick(apic);
		break;
	case LAPIC_DM_INIT:
		/* The processor resets: earlier NMI and SIPI events are gone with it. */
		reset_state(apic, true);
		apic->events = LAPIC_EVENT_INIT;
		kick(apic);
		break;
	case LAPIC_DM_STARTUP:
		apic->events |= LAPIC_EVENT_SIPI;
		apic->sipi_vector = vector;
		kick(apic);
		break;
	case LAPIC_DM_EXTINT:
		apic->extint_message = true;
		kick(apic);
		break;
	default: /* SMI (no SMM), reserved modes */
		break;
	}
}

/* ---- LINT0 (SDM 11.5.1) ---- */

static bool extint_pending_locked(const struct lapic *apic)
{
	uint32_t lvt = apic->lvt[LVT_LINT0];

	if (!hw_enabled(apic))
		return apic->lint0_level;
	if (apic->extint_message)
		return true;
	return apic->lint0_level && !(lvt & LVT_MASKED) && lvt_mode(lvt) == LAPIC_DM_EXTINT;
}

static bool lint0_active(const struct lapic *apic)
{
	return apic->lint0_level != !!(apic->lvt[LVT_LINT0] & LVT_POLARITY_LOW);
}

/* A level-triggered fixed LINT0 delivers while asserted and remote IRR is clear. */
static void lint0_level_check(struct lapic *apic)
{
	uint32_t *lvt = &apic->lvt[LVT_LINT0];

	if (!hw_enabled(apic) || (*lvt & (LVT_MASKED | LVT_REMOTE_IRR)) ||
	    lvt_mode(*lvt) != LAPIC_DM_FIXED || !(*lvt & LVT_TRIGGER_LEVEL) || !lint0_active(apic))
		return;
	if ((*lvt & LVT_VECTOR_MASK) < 16) {
		log_error(apic, ESR_RECV_ILLEGAL_VECTOR);
		return;
	}
	*lvt |= LVT_REMOTE_IRR;
	accept_fixed(apic, (uint8_t)(*lvt & LVT_VECTOR_MASK), true);
}

static void lint0_edge(struct lapic *apic)
{
	uint32_t lvt = apic->lvt[LVT_LINT0];

	if (lvt & LVT_MASKED)
		return;
	switch (lvt_mode(lvt)) {
	case LAPIC_DM_FIXED:
		if (!(lvt & LVT_TRIGGER_LEVEL))
			accept_fixed(apic, (uint8_t)(lvt & LVT_VECTOR_MASK), false);
		break;
	case LAPIC_DM_NMI:
		apic->events |= LAPIC_EVENT_NMI;
		kick(apic);
		break;
	default:
		break;
	}
}

/* ---- timer (SDM 11.5.4) ---- */

static uint64_t timer_tick_ns(const struct lapic *apic)
{
	uint32_t d = apic->timer_divide;
	unsigned code = (d & 3u) | (d >> 1 & 4u);

	/* 000b divides by 2, ..., 110b by 128, 111b by 1. */
	return (uint64_t)LAPIC_BUS_NS << ((code + 1) & 7);
}

static bool timer_periodic(const struct lapic *apic)
{
	return apic->lvt[LVT_TIMER] & LVT_TIMER_PERIODIC;
}

static uint64_t timer_expiry(const struct lapic *apic)
{
	return apic->seg_start_ns + (uint64_t)apic->seg_count * timer_tick_ns(apic);
}

static uint32_t timer_current(const struct lapic *apic, uint64_t now)
{
	uint64_t ticks;

	if (!apic->timer_running)
		return 0;
	ticks = now > apic->seg_start_ns ? (now - apic->seg_start_ns) / timer_tick_ns(apic) : 0;
	if (ticks < apic->seg_count)
		return apic->seg_count - (uint32_t)ticks;
	if (!timer_periodic(apic))
		return 0;
	return apic->timer_initial - (uint32_t)((ticks - apic->seg_count) % apic->timer_initial);
}

/* Processes an expiry at or before now: one interrupt, then reload (periodic) or stop. */
static void timer_update(struct lapic *apic, uint64_t now)
{
	uint64_t expiry, period;

	if (!apic->timer_running)
		return;
	expiry = timer_expiry(apic);
	if (now < expiry)
		return;
	apic->timer_last_fire_ns = now;
	raise_local(apic, apic->lvt[LVT_TIMER]);
	if (!timer_periodic(apic)) {
		apic->timer_running = false;
		return;
	}
	period = (uint64_t)apic->timer_initial * timer_tick_ns(apic);
	apic->seg_start_ns = expiry + (now - expiry) / period * period;
	apic->seg_count = apic->timer_initial;
}

static void timer_arm(struct lapic *apic)
{
	uint64_t at;

	if (!apic->timer_running) {
		timer_del(apic->timer);
		return;
	}
	at = timer_expiry(apic);
	if (timer_periodic(apic) && apic->timer_last_fire_ns &&
	    at < apic->timer_last_fire_ns + LAPIC_TIMER_MIN_PERIOD_NS)
		at = apic->timer_last_fire_ns + LAPIC_TIMER_MIN_PERIOD_NS;
	timer_mod(apic->timer, at);
}

static void timer_start(struct lapic *apic, uint32_t count, uint64_t now)
{
	apic->timer_initial = count;
	apic->timer_running = count != 0;
	apic->seg_start_ns = now;
	apic->seg_count = count;
	timer_arm(apic);
}

static void timer_set_divide(struct lapic *apic, uint32_t value, uint64_t now)
{
	timer_update(apic, now);
	if (apic->timer_running) {
		/* Keep the current count and go on at the new rate from now. */
		apic->seg_count = timer_current(apic, now);
		apic->seg_start_ns = now;
	}
	apic->timer_divide = value & DIVIDE_WRITABLE;
	timer_arm(apic);
}

static void timer_expired(void *opaque)
{
	struct lapic *apic = opaque;

	pthread_mutex_lock(&apic->lock);
	if (hw_enabled(apic)) {
		timer_update(apic, evloop_now_ns(apic->loop));
		timer_arm(apic);
	}
	pthread_mutex_unlock(&apic->lock);
}

/* ---- register page ---- */

static bool reg_reserved(uint64_t off)
{
	if (off >= REG_ISR && off < REG_ESR)
		return false; /* ISR, TMR, IRR */
	if (off >= REG_ICR_LOW && off <= REG_TIMER_CURRENT)
		return false;
	switch (off) {
	case REG_ID:
	case REG_VERSION:
	case REG_TPR:
	case REG_APR:
	case REG_PPR:
	case REG_EOI:
	case REG_RRD:
	case REG_LDR:
	case REG_DFR:
	case REG_SVR:
	case REG_ESR:
	case REG_TIMER_DIVIDE:
		return false;
	default:
		return true;
	}
}

static uint32_t bitmap_word(const uint32_t *map, uint64_t off, uint64_t first)
{
	return map[(off - first) >> 4];
}

static uint32_t reg_read(struct lapic *apic, uint64_t off)
{
	if (off >= REG_ISR && off < REG_TMR)
		return bitmap_word(apic->isr, off, REG_ISR);
	if (off >= REG_TMR && off < REG_IRR)
		return bitmap_word(apic->tmr, off, REG_TMR);
	if (off >= REG_IRR && off < REG_ESR)
		return bitmap_word(apic->irr, off, REG_IRR);
	if (off >= REG_LVT_FIRST && off <= REG_LVT_LAST)
		return apic->lvt[(off - REG_LVT_FIRST) >> 4];
	switch (off) {
	case REG_ID:
		return apic->id;
	case REG_VERSION:
		return LAPIC_VERSION;
	case REG_TPR:
		return apic->tpr;
	case REG_APR:
		return lapic_apr(apic);
	case REG_PPR:
		return lapic_ppr(apic);
	case REG_LDR:
		return apic->ldr;
	case REG_DFR:
		return apic->dfr;
	case REG_SVR:
		return apic->svr;
	case REG_ESR:
		return apic->esr;
	case REG_ICR_LOW:
		return apic->icr_low;
	case REG_ICR_HIGH:
		return apic->icr_high;
	case REG_TIMER_INITIAL:
		return apic->timer_initial;
	case REG_TIMER_CURRENT:
		return timer_current(apic, evloop_now_ns(apic->loop));
	case REG_TIMER_DIVIDE:
		return apic->timer_divide;
	default: /* EOI, RRD */
		return 0;
	}
}

static void write_svr(struct lapic *apic, uint32_t value)
{
	apic->svr = value & SVR_WRITABLE;
	if (sw_enabled(apic))
		return;
	/* Software disable sets every LVT mask (SDM 11.4.7.2). */
	for (int i = 0; i < LVT_COUNT; i++)
		apic->lvt[i] |= LVT_MASKED;
}

static void write_lvt(struct lapic *apic, enum lvt_index i, uint32_t value, uint64_t now)
{
	uint32_t keep = apic->lvt[i] & LVT_REMOTE_IRR;

	if (i == LVT_TIMER)
		timer_update(apic, now); /* expiries so far count under the old mode */
	value &= lvt_writable[i];
	if (!sw_enabled(apic))
		value |= LVT_MASKED;
	if (i == LVT_LINT0 && !(value & LVT_TRIGGER_LEVEL))
		keep = 0; /* remote IRR is meaningful for level-triggered fixed only */
	apic->lvt[i] = value | keep;
	if (i == LVT_TIMER)
		timer_arm(apic);
	if (i == LVT_LINT0) {
		lint0_level_check(apic);
		if (extint_pending_locked(apic))
			kick(apic);
	}
}

static void write_eoi(struct lapic *apic, struct lapic_outbox *out)
{
	int vector = bitmap_highest(apic->isr);
	uint32_t *lint0 = &apic->lvt[LVT_LINT0];

	if (vector < 0)
		return;
	bitmap_clear(apic->isr, (unsigned)vector);
	if (bitmap_test(apic->tmr, (unsigned)vector))
		out->eoi_vector = vector;
	if ((*lint0 & LVT_REMOTE_IRR) && (*lint0 & LVT_VECTOR_MASK) == (uint32_t)vector) {
		*lint0 &= ~LVT_REMOTE_IRR;
		lint0_level_check(apic);
	}
	kick_if_pending(apic);
}

static void write_icr(struct lapic *apic, uint32_t value, struct lapic_outbox *out)
{
	uint8_t vector = value & ICR_VECTOR_MASK;
	unsigned mode = value >> ICR_DM_SHIFT & ICR_DM_MASK;
	unsigned shorthand = value >> ICR_SHORTHAND_SHIFT & ICR_SHORTHAND_MASK;

	apic->icr_low = value & ICR_LOW_WRITABLE;
	switch (mode) {
	case LAPIC_DM_FIXED:
	case LAPIC_DM_LOWEST:
		if (vector < 16) {
			log_error(apic, ESR_SEND_ILLEGAL_VECTOR);
			return;
		}
		break;
	case LAPIC_DM_NMI:
	case LAPIC_DM_STARTUP:
		break;
	case LAPIC_DM_INIT:
		if (!(value & ICR_LEVEL_ASSERT))
			return; /* INIT level de-assert */
		break;
	default: /* SMI, reserved, ExtINT */
		return;
	}
	if (shorthand == SHORTHAND_SELF) {
		if (mode == LAPIC_DM_FIXED || mode == LAPIC_DM_LOWEST)
			accept_locked(apic, LAPIC_DM_FIXED, vector, false);
		else if (mode == LAPIC_DM_NMI)
			accept_locked(apic, LAPIC_DM_NMI, 0, false);
		return;
	}
	out->send = true;
	out->icr_low = apic->icr_low & ~ICR_TRIGGER_LEVEL;
	out->dest = (uint8_t)(apic->icr_high >> ICR_DEST_SHIFT);
}

static void reg_write(struct lapic *apic, uint64_t off, uint32_t value, struct lapic_outbox *out)
{
	uint64_t now;

	if (off >= REG_LVT_FIRST && off <= REG_LVT_LAST) {
		write_lvt(apic, (enum lvt_index)((off - REG_LVT_FIRST) >> 4), value,
			  evloop_now_ns(apic->loop));
		return;
	}
	switch (off) {
	case REG_ID:
		apic->id = value & ID_MASK;
		break;
	case REG_TPR:
		apic->tpr = value & TPR_MASK;
		kick_if_pending(apic);
		break;
	case REG_EOI:
		write_eoi(apic, out);
		break;
	case REG_LDR:
		apic->ldr = value & LDR_MASK;
		break;
	case REG_DFR:
		apic->dfr = (value & DFR_MODEL_MASK) | DFR_RESERVED_ONES;
		break;
	case REG_SVR:
		write_svr(apic, value);
		break;
	case REG_ESR:
		apic->esr = apic->esr_pending;
		apic->esr_pending = 0;
		apic->esr_armed = true;
		break;
	case REG_ICR_LOW:
		write_icr(apic, value, out);
		break;
	case REG_ICR_HIGH:
		apic->icr_high = value & ICR_HIGH_WRITABLE;
		break;
	case REG_TIMER_INITIAL:
		now = evloop_now_ns(apic->loop);
		timer_start(apic, value, now);
		break;
	case REG_TIMER_DIVIDE:
		timer_set_divide(apic, value, evloop_now_ns(apic->loop));
		break;
	default: /* read-only: version, APR, PPR, RRD, ISR, TMR, IRR, current count */
		break;
	}
}

static bool access_ok(uint64_t offset, unsigned size)
{
	return size == 4 && offset < LAPIC_MMIO_SIZE && !(offset & 0xf);
}

uint64_t lapic_mmio_read(struct lapic *apic, uint64_t offset, unsigned size)
{
	uint32_t value = 0;

	if (!access_ok(offset, size))
		return 0;
	pthread_mutex_lock(&apic->lock);
	if (hw_enabled(apic)) {
		if (reg_reserved(offset))
			log_error(apic, ESR_ILLEGAL_REGISTER);
		else
			value = reg_read(apic, offset);
	}
	pthread_mutex_unlock(&apic->lock);
	return value;
}

static void outbox_flush(struct lapic *apic, const struct lapic_outbox *out)
{
	if (out->send && apic->ops && apic->ops->send_ipi)
		apic->ops->send_ipi(apic->opaque, out->icr_low, out->dest);
	if (out->eoi_vector >= 0 && apic->ops && apic->ops->eoi)
		apic->ops->eoi(apic->opaque, (uint8_t)out->eoi_vector);
}

void lapic_mmio_write(struct lapic *apic, uint64_t offset, unsigned size, uint64_t value)
{
	struct lapic_outbox out = {.eoi_vector = -1};

	if (!access_ok(offset, size))
		return;
	pthread_mutex_lock(&apic->lock);
	if (hw_enabled(apic)) {
		if (reg_reserved(offset))
			log_error(apic, ESR_ILLEGAL_REGISTER);
		else
			reg_write(apic, offset, (uint32_t)value, &out);
	}
	pthread_mutex_unlock(&apic->lock);
	outbox_flush(apic, &out);
}

/* ---- life cycle ---- */

struct lapic *lapic_create(const struct lapic_ops *ops, void *opaque, struct evloop *loop,
			   uint8_t apic_id, bool bsp)
{
	struct lapic *apic = calloc(1, sizeof(*apic));

	if (!apic)
		return NULL;
	apic->timer = timer_new(loop, timer_expired, apic);
	if (!apic->timer || pthread_mutex_init(&apic->lock, NULL)) {
		timer_free(apic->timer);
		free(apic);
		return NULL;
	}
	apic->ops = ops;
	apic->opaque = opaque;
	apic->loop = loop;
	apic->initial_id = apic_id;
	apic->bsp = bsp;
	lapic_reset(apic);
	return apic;
}

void lapic_destroy(struct lapic *apic)
{
	if (!apic)
		return;
	timer_free(apic->timer);
	pthread_mutex_destroy(&apic->lock);
	free(apic);
}

void lapic_reset(struct lapic *apic)
{
	pthread_mutex_lock(&apic->lock);
	apic->base = LAPIC_DEFAULT_BASE | LAPIC_BASE_ENABLE | (apic->bsp ? LAPIC_BASE_BSP : 0);
	reset_state(apic, false);
	apic->events = 0;
	apic->sipi_vector = 0;
	pthread_mutex_unlock(&apic->lock);
}

void lapic_init_signal(struct lapic *apic)
{
	pthread_mutex_lock(&apic->lock);
	reset_state(apic, true);
	pthread_mutex_unlock(&apic->lock);
}

/* ---- IA32_APIC_BASE, CR8 ---- */

uint64_t lapic_get_base(struct lapic *apic)
{
	uint64_t base;

	pthread_mutex_lock(&apic->lock);
	base = apic->base;
	pthread_mutex_unlock(&apic->lock);
	return base;
}

int lapic_set_base(struct lapic *apic, uint64_t value)
{
	bool was_enabled;

	if (value & ~BASE_WRITABLE)
		return -EINVAL;
	pthread_mutex_lock(&apic->lock);
	was_enabled = hw_enabled(apic);
	/* The BSP flag is the platform's: the guest's write does not change it. */
	apic->base = (value & ~LAPIC_BASE_BSP) | (apic->base & LAPIC_BASE_BSP);
	if (was_enabled && !hw_enabled(apic))
		reset_state(apic, false);
	if (was_enabled != hw_enabled(apic) && extint_pending_locked(apic))
		kick(apic);
	pthread_mutex_unlock(&apic->lock);
	return 0;
}

bool lapic_mmio_hit(struct lapic *apic, uint64_t addr)
{
	bool hit;

	pthread_mutex_lock(&apic->lock);
	hit = hw_enabled(apic) &&
	      (addr & ~(uint64_t)(LAPIC_MMIO_SIZE - 1)) == (apic->base & BASE_ADDR_MASK);
	pthread_mutex_unlock(&apic->lock);
	return hit;
}

uint64_t lapic_get_cr8(struct lapic *apic)
{
	uint64_t cr8;

	pthread_mutex_lock(&apic->lock);
	cr8 = apic->tpr >> 4 & 0xf;
	pthread_mutex_unlock(&apic->lock);
	return cr8;
}

void lapic_set_cr8(struct lapic *apic, uint64_t value)
{
	pthread_mutex_lock(&apic->lock);
	apic->tpr = (uint32_t)(value & 0xf) << 4;
	kick_if_pending(apic);
	pthread_mutex_unlock(&apic->lock);
}

/* ---- messages ---- */

/* Logical destinations (SDM 11.6.2.2): flat compares LDR[31:24] as a bit mask, cluster compares
 * the cluster number (bits 7:4, 0xf: all clusters) and the member mask (bits 3:0). */
static bool match_logical(const struct lapic *apic, uint8_t dest)
{
	uint8_t ldr = (uint8_t)(apic->ldr >> 24);

	if ((apic->dfr & DFR_MODEL_MASK) == DFR_MODEL_FLAT)
		return ldr & dest;
	if ((dest >> 4) != 0xf && (dest >> 4) != (ldr >> 4))
		return false;
	return ldr & dest & 0xf;
}

bool lapic_match_dest(struct lapic *apic, uint8_t dest, bool logical)
{
	bool match;

	pthread_mutex_lock(&apic->lock);
	if (!hw_enabled(apic))
		match = false;
	else if (dest == 0xff)
		match = true; /* broadcast, physical or logical */
	else if (logical)
		match = match_logical(apic, dest);
	else
		match = dest == (uint8_t)(apic->id >> 24);
	pthread_mutex_unlock(&apic->lock);
	return match;
}

void lapic_accept(struct lapic *apic, enum lapic_delivery mode, uint8_t vector, bool level)
{
	pthread_mutex_lock(&apic->lock);
	accept_locked(apic, mode, vector, level);
	pthread_mutex_unlock(&apic->lock);
}

void lapic_set_lint0(struct lapic *apic, int level)
{
	bool was_active;

	pthread_mutex_lock(&apic->lock);
	was_active = lint0_active(apic);
	apic->lint0_level = level != 0;
	if (hw_enabled(apic)) {
		if (!was_active && lint0_active(apic))
			lint0_edge(apic);
		lint0_level_check(apic);
	}
	if (extint_pending_locked(apic))
		kick(apic);
	pthread_mutex_unlock(&apic->lock);
}

bool lapic_extint_pending(struct lapic *apic)
{
	bool pending;

	pthread_mutex_lock(&apic->lock);
	pending = extint_pending_locked(apic);
	pthread_mutex_unlock(&apic->lock);
	return pending;
}

void lapic_extint_ack(struct lapic *apic)
{
	pthread_mutex_lock(&apic->lock);
	apic->extint_message = false;
	pthread_mutex_unlock(&apic->lock);
}

/* ---- the CPU side ---- */

int lapic_pending_vector(struct lapic *apic)
{
	int vector;

	pthread_mutex_lock(&apic->lock);
	vector = pending_locked(apic);
	pthread_mutex_unlock(&apic->lock);
	return vector;
}

uint8_t lapic_ack(struct lapic *apic, uint8_t vector)
{
	uint8_t taken;

	pthread_mutex_lock(&apic->lock);
	/* The interrupt must still be in IRR and above PPR; else the INTA cycle gets the
	 * spurious vector and ISR is untouched (SDM 11.9). */
	if (pending_locked(apic) >= 0 && bitmap_test(apic->irr, vector) &&
	    priority_class(vector) > (lapic_ppr(apic) & 0xf0u)) {
		bitmap_clear(apic->irr, vector);
		bitmap_set(apic->isr, vector);
		taken = vector;
	} else {
		taken = (uint8_t)(apic->svr & SVR_VECTOR_MASK);
	}
	pthread_mutex_unlock(&apic->lock);
	return taken;
}

unsigned lapic_take_events(struct lapic *apic, uint8_t *sipi_vector)
{
	unsigned events;

	pthread_mutex_lock(&apic->lock);
	events = apic->events;
	apic->events = 0;
	if ((events & LAPIC_EVENT_SIPI) && sipi_vector)
		*sipi_vector = apic->sipi_vector;
	pthread_mutex_unlock(&apic->lock);
	return events;
}
