/*
 * Intel 8254 programmable interval timer and the PC/AT port 0x61 (NMI status and control).
 * Datasheet: Intel 8254 Programmable Interval Timer, order 231164 ("the datasheet" below).
 *
 * Nothing ticks. Every counter is a function of time: the 1.193182 MHz CLK is derived from the
 * event loop's clock (tick k of the PIT happens at epoch + ceil(k * 1e9 / f) ns), and a counter
 * remembers the tick its counting element (CE) was loaded and how many CLK pulses it had counted
 * before the last pause of its gate. The CE value and OUT are computed from that on every read.
 *
 * The only timer is for counter 0, whose OUT drives ISA IRQ 0 (edge-triggered at the PIC): it is
 * armed for the next rising edge of OUT0 and IRQ 0 is pulsed when it fires. Deadlines are ticks
 * on the grid that started at the load, converted to ns, so periodic interrupts do not drift.
 *
 * Policies that the datasheet does not fix (hardware would simply do it):
 * - Late host: a timer that fires after several rising edges went by delivers ONE pulse for all
 *   of them and is re-armed for the next edge in the future on the original grid. A guest that
 *   counts interrupts to keep time loses the missed ones (Linux keeps time from a clocksource and
 *   does not care); a burst of catch-up interrupts would instead stall the guest for no benefit.
 * - Rate cap: in modes 2 and 3 (periodic) IRQ 0 is pulsed on every k-th rising edge of OUT0,
 *   k the smallest that makes k * N CLK pulses at least PIT_MIN_PERIODIC_IRQ_NS. Counts below
 *   24 would otherwise ask for up to 1.19 million interrupts a second, each a host timer
 *   wake-up and an injection. 20 us (50 kHz) is above anything PC software uses IRQ 0 for
 *   (periodic ticks of at most a few kHz, PC-speaker sample playback at up to ~22 kHz) and keeps
 *   the I/O thread's cost at a few percent of a core. The pulses still fall on true OUT0 edges
 *   of the load grid (no drift), and counter reads and OUT stay exact.
 *   One-shot modes are not capped: each of their edges needs a guest write to re-arm.
 * - Counts below the datasheet minimum (1 in modes 2 and 3, "Minimum and Maximum Initial
 *   Counts") run as a period of one CLK: OUT stays high (no low phase fits) and IRQ 0 is pulsed
 *   once per period, capped as above.
 * - Non-BCD digits in a BCD count are taken at face value (A = 10 ... F = 15) and the result is
 *   reduced modulo 10000, so the count stays in the counter's range.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "hostvisor/pit.h"

#define PIT_NS_PER_SEC 1000000000ull
#define PIT_TICK_NONE UINT64_MAX
#define PIT_NCOUNTERS 3

#define PIT_PORT_BASE 0x40
#define PIT_PORT_COUNT 4
#define PIT_PORT_CONTROL 3
#define PIT_NMI_SC_PORT 0x61

/* See the policies above. */
#define PIT_MIN_PERIODIC_IRQ_NS 20000ull
#define PIT_MIN_PERIODIC_IRQ_TICKS                                                                 \
	((PIT_MIN_PERIODIC_IRQ_NS * PIT_FREQ_HZ + PIT_NS_PER_SEC - 1) / PIT_NS_PER_SEC)
/* PC/AT: the refresh request bit of port 0x61 toggles every 15.085 us. */
#define PIT_REFRESH_TOGGLE_NS 15085ull

/* Control word (datasheet "Control Word Format"). */
#define PIT_CW_SC(v) (((v) >> 6) & 3u)
#define PIT_CW_RW(v) (((v) >> 4) & 3u)
#define PIT_CW_MODE(v) (((v) >> 1) & 7u)
#define PIT_CW_BCD 0x01u
#define PIT_SC_READ_BACK 3u
/* Read-back command (datasheet "Read-Back Command"): bits are active low. */
#define PIT_RB_NO_COUNT 0x20u
#define PIT_RB_NO_STATUS 0x10u
#define PIT_RB_SELECT(i) (0x02u << (i))
/* Status byte (datasheet "Status Byte"). */
#define PIT_STATUS_OUT 0x80u
#define PIT_STATUS_NULL_COUNT 0x40u

/* Port 0x61, PC/AT "NMI status and control". */
#define NMI_SC_GATE2 0x01u
#define NMI_SC_SPEAKER 0x02u
#define NMI_SC_WRITABLE 0x0fu /* gate 2, speaker data, parity and channel check enables */
#define NMI_SC_REFRESH 0x10u
#define NMI_SC_OUT2 0x20u

enum pit_rw { PIT_RW_LATCH = 0, PIT_RW_LSB = 1, PIT_RW_MSB = 2, PIT_RW_WORD = 3 };

struct pit_counter {
	/* Programming, from the last control word. */
	uint8_t mode_bits; /* M2-M0 as written (6 and 7 mean 2 and 3), for the status byte */
	uint8_t mode;	   /* 0-5 */
	uint8_t rw;	   /* enum pit_rw, never PIT_RW_LATCH */
	bool bcd;
	bool gate;

	/* Count register (CR) and the write flip-flop. */
	uint16_t cr;
	bool cr_valid; /* a whole count was written since the control word */
	bool write_msb;
	uint8_t cr_lsb;

	/* Output latch, status latch and the read flip-flop. */
	bool read_msb;
	bool count_latched;
	uint16_t ol;
	bool status_latched;
	uint8_t status;

	/* Null count is set until this tick (PIT_TICK_NONE: until an event not yet known). */
	uint64_t null_until;

	/*
	 * Counting element. When counting, CE was loaded with n at load_tick; "e" is the number of
	 * CLK pulses counted since, plus e_offset (mode 3 started in its low half). Before
	 * load_tick, or when not counting, CE and OUT hold frozen_ce and frozen_out.
	 */
	bool counting;
	bool paused; /* gate low in modes 0, 2, 3, 4: e does not advance */
	uint32_t n;  /* 1..65536 (binary) or 1..10000 (BCD) */
	uint64_t load_tick;
	uint64_t seg_tick; /* counting resumed at this tick... */
	uint64_t counted;  /* ...with this many pulses counted before */
	uint64_t e_offset;
	uint32_t frozen_ce;
	bool frozen_out;

	/* Modes 2 and 3: a count written while counting is loaded at the end of the cycle. */
	bool pending;
	uint32_t pending_n;
	uint64_t pending_tick;
};

struct pit {
	pthread_mutex_t lock;
	struct evloop *loop;
	struct irq_line irq0;
	struct timer *timer;
	uint64_t epoch_ns; /* tick 0 of the CLK */
	struct pit_counter counters[PIT_NCOUNTERS];
	uint8_t nmi_sc;		/* port 0x61, writable bits */
	uint64_t irq_edge_tick; /* the OUT0 rising edge the timer is armed for */
};

/* ---- Time base ---- */

static uint64_t pit_tick_at(const struct pit *pit, uint64_t ns)
{
	if (ns <= pit->epoch_ns)
		return 0;
	return (uint64_t)((unsigned __int128)(ns - pit->epoch_ns) * PIT_FREQ_HZ / PIT_NS_PER_SEC);
}

/* The first ns at which pit_tick_at() reaches tick. */
static uint64_t pit_ns_of_tick(const struct pit *pit, uint64_t tick)
{
	unsigned __int128 ns =
	    ((unsigned __int128)tick * PIT_NS_PER_SEC + PIT_FREQ_HZ - 1) / PIT_FREQ_HZ;

	ns += pit->epoch_ns;
	return ns > UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

/* ---- Count arithmetic ---- */

static uint32_t pit_bcd_decode(uint16_t v)
{
	return (v >> 12 & 0xf) * 1000u + (v >> 8 & 0xf) * 100u + (v >> 4 & 0xf) * 10u + (v & 0xf);
}

static uint16_t pit_bcd_encode(uint32_t v)
{
	return (uint16_t)((v / 1000 % 10) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 |
			  v % 10);
}

static uint32_t pit_modulus(const struct pit_counter *c)
{
	return c->bcd ? 10000 : 65536;
}

/* A count of 0 is the largest: 2^16 binary, 10^4 BCD (datasheet, "Counter"). */
static uint32_t pit_effective_count(const struct pit_counter *c, uint16_t cr)
{
	uint32_t v;

	if (!c->bcd)
		return cr ? cr : 65536;
	v = pit_bcd_decode(cr) % 10000;
	return v ? v : 10000;
}

static uint64_t pit_counter_e(const struct pit_counter *c, uint64_t tick)
{
	uint64_t run = 0;

	if (!c->paused && tick > c->seg_tick)
		run = tick - c->seg_tick;
	return c->e_offset + c->counted + run;
}

static uint64_t pit_counter_tick_of_e(const struct pit_counter *c, uint64_t e)
{
	return c->seg_tick + (e - c->e_offset - c->counted);
}

/* Mode 3: OUT high for ceil(N/2) pulses and low for floor(N/2) (datasheet, Mode 3). */
static uint32_t pit_square_high_len(uint32_t n)
{
	return (n + 1) / 2;
}

/*
 * CE value e pulses after the load. Modes 0, 1, 4, 5 wrap after 0 to FFFF or 9999 and go on.
 * Mode 2 reloads when it reaches 1. Mode 3 counts down by two; an odd count loses one on the
 * first pulse of the high half and three on the first pulse of the low half (datasheet, Mode 3).
 */
static uint32_t pit_value_at(const struct pit_counter *c, uint64_t e)
{
	uint32_t n = c->n, m = pit_modulus(c), hi, p;

	switch (c->mode) {
	case 2:
		return n - (uint32_t)(e % n);
	case 3:
		p = (uint32_t)(e % n);
		hi = pit_square_high_len(n);
		if (n % 2 == 0)
			return p < hi ? n - 2 * p : n - 2 * (p - hi);
		if (p < hi)
			return p == 0 ? n : n + 1 - 2 * p;
		p -= hi;
		return p == 0 ? n : n - 1 - 2 * p;
	default:
		return (n + m - (uint32_t)(e % m)) % m;
	}
}

static bool pit_out_at(const struct pit_counter *c, uint64_t e)
{
	switch (c->mode) {
	case 0: /* high from terminal count on */
	case 1: /* low for N pulses after the trigger */
		return e >= c->n;
	case 2: /* low for the one pulse where CE is 1 */
		return c->n < 2 || e % c->n != c->n - 1;
	case 3:
		return e % c->n < pit_square_high_len(c->n);
	default: /* 4, 5: strobe low for one pulse at terminal count */
		return e != c->n;
	}
}

/* Modes 2 and 3: every how many CLK pulses IRQ 0 is pulsed (see the rate cap above). */
static uint64_t pit_irq_period(const struct pit_counter *c)
{
	uint64_t n = c->n;

	if (n >= PIT_MIN_PERIODIC_IRQ_TICKS)
		return n;
	return (PIT_MIN_PERIODIC_IRQ_TICKS + n - 1) / n * n;
}

/* The smallest e' > e at which OUT goes from low to high and IRQ 0 is to be pulsed. */
static uint64_t pit_irq_e_after(const struct pit_counter *c, uint64_t e)
{
	switch (c->mode) {
	case 0:
	case 1:
		return e < c->n ? c->n : PIT_TICK_NONE;
	case 4:
	case 5:
		return e < (uint64_t)c->n + 1 ? (uint64_t)c->n + 1 : PIT_TICK_NONE;
	default:
		return (e / pit_irq_period(c) + 1) * pit_irq_period(c);
	}
}

/* ---- Counter state as a function of the tick ---- */

static bool pit_counter_loaded(const struct pit_counter *c, uint64_t tick)
{
	return c->counting && tick >= c->load_tick;
}

/* OUT once loaded: gate low in modes 2 and 3 forces it high (datasheet, Modes 2 and 3). */
static bool pit_counter_out_loaded(const struct pit_counter *c, uint64_t e)
{
	if (c->paused && (c->mode == 2 || c->mode == 3))
		return true;
	return pit_out_at(c, e);
}

static bool pit_counter_out(const struct pit_counter *c, uint64_t tick)
{
	if (!pit_counter_loaded(c, tick))
		return c->frozen_out;
	return pit_counter_out_loaded(c, pit_counter_e(c, tick));
}

static uint32_t pit_counter_value(const struct pit_counter *c, uint64_t tick)
{
	if (!pit_counter_loaded(c, tick))
		return c->frozen_ce;
	return pit_value_at(c, pit_counter_e(c, tick));
}

/* CE as the 16-bit register the guest reads. */
static uint16_t pit_counter_register(const struct pit_counter *c, uint64_t tick)
{
	uint32_t v = pit_counter_value(c, tick);

	return c->bcd ? pit_bcd_encode(v % 10000) : (uint16_t)v;
}

static bool pit_counter_null_count(const struct pit_counter *c, uint64_t tick)
{
	return c->null_until == PIT_TICK_NONE || tick < c->null_until;
}

/* Modes 2 and 3: the reload a pending count waits for. */
static uint64_t pit_counter_cycle_end(const struct pit_counter *c, uint64_t tick)
{
	uint64_t e = pit_counter_e(c, tick), p = e % c->n, end;

	if (c->mode == 2)
		end = e - p + c->n;
	else
		end = e - p + (p < pit_square_high_len(c->n) ? pit_square_high_len(c->n) : c->n);
	return pit_counter_tick_of_e(c, end);
}

static void pit_counter_apply_pending(struct pit_counter *c)
{
	uint64_t t = c->pending_tick;
	bool enter_low = c->mode == 3 && !pit_out_at(c, pit_counter_e(c, t));

	c->pending = false;
	c->frozen_out = pit_counter_out(c, t - 1);
	c->frozen_ce = pit_counter_value(c, t - 1);
	c->n = c->pending_n;
	c->load_tick = c->seg_tick = t;
	c->counted = 0;
	c->e_offset = enter_low ? pit_square_high_len(c->n) : 0;
}

/* Brings a pending reload that has happened by tick into the state. */
static void pit_counter_sync(struct pit_counter *c, uint64_t tick)
{
	if (c->pending && tick >= c->pending_tick)
		pit_counter_apply_pending(c);
}

static uint64_t pit_counter_next_irq_no_pending(const struct pit_counter *c, uint64_t tick)
{
	uint64_t e, rise;

	if (!c->counting)
		return PIT_TICK_NONE;
	if (tick < c->load_tick) {
		e = c->e_offset + c->counted;
		if (!c->frozen_out && pit_counter_out_loaded(c, e))
			return c->load_tick;
	} else {
		e = pit_counter_e(c, tick);
	}
	if (c->paused)
		return PIT_TICK_NONE;
	rise = pit_irq_e_after(c, e);
	return rise == PIT_TICK_NONE ? rise : pit_counter_tick_of_e(c, rise);
}

/*
 * The first tick after `tick` at which OUT rises and IRQ 0 is to be pulsed (PIT_TICK_NONE: not
 * without a guest write).
 */
static uint64_t pit_counter_next_irq(const struct pit_counter *c, uint64_t tick)
{
	struct pit_counter after;
	uint64_t rise = pit_counter_next_irq_no_pending(c, tick);

	if (!c->pending || rise < c->pending_tick)
		return rise;
	after = *c;
	pit_counter_apply_pending(&after);
	return pit_counter_next_irq_no_pending(&after, c->pending_tick - 1);
}

/* ---- Counter operations ---- */

/* CR -> CE on the next CLK pulse (datasheet: "loaded on the next CLK pulse"). */
static void pit_counter_start(struct pit_counter *c, uint64_t tick, bool out_until_load, bool gated)
{
	c->frozen_ce = pit_counter_value(c, tick);
	c->frozen_out = out_until_load;
	c->counting = true;
	c->paused = gated && !c->gate;
	c->pending = false;
	c->n = pit_effective_count(c, c->cr);
	c->load_tick = c->seg_tick = tick + 1;
	c->counted = 0;
	c->e_offset = 0;
	c->null_until = tick + 1;
}

/*
 * Control word: "all Control Logic is immediately reset and OUT goes to a known initial state"
 * (low in mode 0, high in the others). The counter waits for a count.
 */
static void pit_counter_program(struct pit_counter *c, uint64_t tick, uint8_t cw)
{
	c->frozen_ce = pit_counter_value(c, tick);
	c->mode_bits = (uint8_t)PIT_CW_MODE(cw);
	c->mode = c->mode_bits > 5 ? c->mode_bits & 3 : c->mode_bits;
	c->rw = (uint8_t)PIT_CW_RW(cw);
	c->bcd = cw & PIT_CW_BCD;
	c->frozen_out = c->mode != 0;
	c->counting = false;
	c->paused = false;
	c->pending = false;
	c->cr_valid = false;
	c->write_msb = false;
	c->read_msb = false;
	c->count_latched = false;
	c->status_latched = false;
	c->null_until = PIT_TICK_NONE;
}

/* Counter Latch Command: a second latch before the count is read is ignored. */
static void pit_counter_latch_count(struct pit_counter *c, uint64_t tick)
{
	if (c->count_latched)
		return;
	c->ol = pit_counter_register(c, tick);
	c->count_latched = true;
}

static void pit_counter_latch_status(struct pit_counter *c, uint64_t tick)
{
	if (c->status_latched)
		return;
	c->status = (uint8_t)((pit_counter_out(c, tick) ? PIT_STATUS_OUT : 0) |
			      (pit_counter_null_count(c, tick) ? PIT_STATUS_NULL_COUNT : 0) |
			      c->rw << 4 | c->mode_bits << 1 | (c->bcd ? 1 : 0));
	c->status_latched = true;
}

/* Mode 0: writing the first byte of a two-byte count stops counting and sets OUT low. */
static void pit_counter_first_byte(struct pit_counter *c, uint64_t tick)
{
	if (c->mode != 0)
		return;
	c->frozen_ce = pit_counter_value(c, tick);
	c->counting = false;
	c->paused = false;
	c->frozen_out = false;
}

/*
 * Modes 2 and 3: a new count does not disturb the current cycle (mode 2) or half-cycle (mode 3);
 * it is loaded at its end, or by a gate trigger that comes first.
 */
static void pit_counter_load_periodic(struct pit_counter *c, uint64_t tick)
{
	if (!c->counting) {
		pit_counter_start(c, tick, true, true);
		return;
	}
	if (tick < c->load_tick) {
		c->n = pit_effective_count(c, c->cr);
		return;
	}
	if (c->paused) {
		c->null_until = PIT_TICK_NONE;
		return;
	}
	c->pending = true;
	c->pending_n = pit_effective_count(c, c->cr);
	c->pending_tick = pit_counter_cycle_end(c, tick);
	c->null_until = c->pending_tick;
}

static void pit_counter_load(struct pit_counter *c, uint64_t tick, uint16_t cr)
{
	c->cr = cr;
	c->cr_valid = true;
	switch (c->mode) {
	case 0:
		pit_counter_start(c, tick, false, true);
		break;
	case 4:
		pit_counter_start(c, tick, pit_counter_out(c, tick), true);
		break;
	case 1:
	case 5: /* waits for a gate trigger */
		c->null_until = PIT_TICK_NONE;
		break;
	default:
		pit_counter_load_periodic(c, tick);
		break;
	}
}

static void pit_counter_write(struct pit_counter *c, uint64_t tick, uint8_t val)
{
	switch (c->rw) {
	case PIT_RW_LSB:
		pit_counter_load(c, tick, val);
		return;
	case PIT_RW_MSB:
		pit_counter_load(c, tick, (uint16_t)(val << 8));
		return;
	default:
		if (!c->write_msb) {
			c->cr_lsb = val;
			c->write_msb = true;
			pit_counter_first_byte(c, tick);
			return;
		}
		c->write_msb = false;
		pit_counter_load(c, tick, (uint16_t)(c->cr_lsb | val << 8));
		return;
	}
}

/* A latched status comes first, then a latched count, then the live CE. */
static uint8_t pit_counter_read(struct pit_counter *c, uint64_t tick)
{
	uint16_t v;

	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	v = c->count_latched ? c->ol : pit_counter_register(c, tick);
	switch (c->rw) {
	case PIT_RW_LSB:
		c->count_latched = false;
		return v & 0xff;
	case PIT_RW_MSB:
		c->count_latched = false;
		return v >> 8;
	default:
		if (!c->read_msb) {
			c->read_msb = true;
			return v & 0xff;
		}
		c->read_msb = false;
		c->count_latched = false;
		return v >> 8;
	}
}

/* Gate low: modes 0 and 4 hold the count, modes 2 and 3 hold it and force OUT high. */
static void pit_counter_gate_low(struct pit_counter *c, uint64_t tick)
{
	if (!c->counting || c->paused || c->mode == 1 || c->mode == 5)
		return;
	c->counted = pit_counter_e(c, tick) - c->e_offset;
	c->paused = true;
	if (c->pending) {
		c->pending = false;
		c->null_until = PIT_TICK_NONE; /* the trigger will load the new count */
	}
}

/* Gate rising edge: resumes modes 0 and 4; a trigger (reload of CR) in modes 1, 2, 3, 5. */
static void pit_counter_gate_rise(struct pit_counter *c, uint64_t tick)
{
	if (c->mode == 0 || c->mode == 4) {
		if (!c->counting || !c->paused)
			return;
		c->paused = false;
		c->seg_tick = tick > c->load_tick ? tick : c->load_tick;
		return;
	}
	if (!c->cr_valid)
		return;
	pit_counter_start(c, tick, pit_counter_out(c, tick), false);
}

static void pit_counter_set_gate(struct pit_counter *c, uint64_t tick, bool gate)
{
	if (gate == c->gate)
		return;
	pit_counter_sync(c, tick);
	c->gate = gate;
	if (gate)
		pit_counter_gate_rise(c, tick);
	else
		pit_counter_gate_low(c, tick);
}

/* Power-on: as if each counter had been programmed for mode 0, LSB then MSB, binary. */
static void pit_counter_reset(struct pit_counter *c, bool gate)
{
	*c = (struct pit_counter){.gate = gate};
	pit_counter_program(c, 0, 0x30);
}

/* ---- IRQ 0 ---- */

/*
 * Delivers the edge the timer was armed for if it is due. The timer may run late, or a vCPU may
 * get here first; either way the edges that went by make one pulse.
 */
static void pit_irq_catch_up(struct pit *pit, uint64_t tick)
{
	if (pit->irq_edge_tick == PIT_TICK_NONE || tick < pit->irq_edge_tick)
		return;
	pit->irq_edge_tick = PIT_TICK_NONE;
	irq_pulse(&pit->irq0);
}

/* Arms the timer for the next edge after `tick`: missed edges are skipped, not replayed. */
static void pit_irq_rearm(struct pit *pit, uint64_t tick)
{
	uint64_t rise = pit_counter_next_irq(&pit->counters[0], tick);

	pit->irq_edge_tick = rise;
	if (rise == PIT_TICK_NONE)
		timer_del(pit->timer);
	else
		timer_mod(pit->timer, pit_ns_of_tick(pit, rise));
}

static void pit_timer_fire(void *opaque)
{
	struct pit *pit = opaque;
	uint64_t now, tick;

	pthread_mutex_lock(&pit->lock);
	now = evloop_now_ns(pit->loop);
	tick = pit_tick_at(pit, now);
	pit_counter_sync(&pit->counters[0], tick);
	pit_irq_catch_up(pit, tick);
	pit_irq_rearm(pit, tick);
	pthread_mutex_unlock(&pit->lock);
}

/* ---- Ports ---- */

static void pit_read_back(struct pit *pit, uint64_t tick, uint8_t cmd)
{
	for (unsigned i = 0; i < PIT_NCOUNTERS; i++) {
		if (!(cmd & PIT_RB_SELECT(i)))
			continue;
		if (!(cmd & PIT_RB_NO_COUNT))
			pit_counter_latch_count(&pit->counters[i], tick);
		if (!(cmd & PIT_RB_NO_STATUS))
			pit_counter_latch_status(&pit->counters[i], tick);
	}
}

static void pit_control_write(struct pit *pit, uint64_t tick, uint8_t cw)
{
	struct pit_counter *c;

	if (PIT_CW_SC(cw) == PIT_SC_READ_BACK) {
		pit_read_back(pit, tick, cw);
		return;
	}
	c = &pit->counters[PIT_CW_SC(cw)];
	if (PIT_CW_RW(cw) == PIT_RW_LATCH)
		pit_counter_latch_count(c, tick);
	else
		pit_counter_program(c, tick, cw);
}

static void pit_port_write(struct pit *pit, unsigned port, uint8_t val)
{
	uint64_t now = evloop_now_ns(pit->loop), tick = pit_tick_at(pit, now);
	bool out0_before;

	for (unsigned i = 0; i < PIT_NCOUNTERS; i++)
		pit_counter_sync(&pit->counters[i], tick);
	pit_irq_catch_up(pit, tick);
	out0_before = pit_counter_out(&pit->counters[0], tick);
	if (port == PIT_PORT_CONTROL)
		pit_control_write(pit, tick, val);
	else
		pit_counter_write(&pit->counters[port], tick, val);
	/* A control word can raise OUT0 at once (mode 0 -> any other mode): that is an edge. */
	if (!out0_before && pit_counter_out(&pit->counters[0], tick))
		irq_pulse(&pit->irq0);
	pit_irq_rearm(pit, tick);
}

static uint8_t pit_port_read(struct pit *pit, unsigned port)
{
	uint64_t tick;
	struct pit_counter *c;

	if (port >= PIT_PORT_CONTROL)
		return 0xff; /* the control word register is write-only */
	tick = pit_tick_at(pit, evloop_now_ns(pit->loop));
	c = &pit->counters[port];
	pit_counter_sync(c, tick);
	return pit_counter_read(c, tick);
}

/* An access wider than a byte reaches consecutive ports, as the AT bus splits it. */
static uint64_t pit_io_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pit *pit = opaque;
	uint64_t v = 0;

	if (size > 8)
		size = 8;
	pthread_mutex_lock(&pit->lock);
	for (unsigned i = 0; i < size; i++) {
		uint8_t b =
		    offset + i < PIT_PORT_COUNT ? pit_port_read(pit, (unsigned)offset + i) : 0xff;
		v |= (uint64_t)b << (8 * i);
	}
	pthread_mutex_unlock(&pit->lock);
	return v;
}

static void pit_io_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct pit *pit = opaque;

	if (size > 8)
		size = 8;
	pthread_mutex_lock(&pit->lock);
	for (unsigned i = 0; i < size && offset + i < PIT_PORT_COUNT; i++)
		pit_port_write(pit, (unsigned)offset + i, (uint8_t)(value >> (8 * i)));
	pthread_mutex_unlock(&pit->lock);
}

static uint8_t pit_nmi_sc_value(struct pit *pit)
{
	uint64_t now = evloop_now_ns(pit->loop), tick = pit_tick_at(pit, now);
	struct pit_counter *c2 = &pit->counters[2];
	uint8_t v = pit->nmi_sc;

	pit_counter_sync(c2, tick);
	if ((now - pit->epoch_ns) / PIT_REFRESH_TOGGLE_NS & 1)
		v |= NMI_SC_REFRESH;
	if (pit_counter_out(c2, tick))
		v |= NMI_SC_OUT2;
	return v; /* bits 6-7 (parity and channel check errors) never occur here */
}

static uint64_t pit_nmi_sc_read(void *opaque, uint64_t offset, unsigned size)
{
	struct pit *pit = opaque;
	uint8_t v;

	if (size == 0 || offset != 0)
		return ~0ull;
	pthread_mutex_lock(&pit->lock);
	v = pit_nmi_sc_value(pit);
	pthread_mutex_unlock(&pit->lock);
	return ~0ull << 8 | v; /* bytes past port 0x61 are not ours */
}

static void pit_nmi_sc_write(void *opaque, uint64_t offset, unsigned size, uint64_t value)
{
	struct pit *pit = opaque;
	uint64_t tick;

	if (size == 0 || offset != 0)
		return;
	pthread_mutex_lock(&pit->lock);
	tick = pit_tick_at(pit, evloop_now_ns(pit->loop));
	pit->nmi_sc = value & NMI_SC_WRITABLE;
	pit_counter_set_gate(&pit->counters[2], tick, value & NMI_SC_GATE2);
	pthread_mutex_unlock(&pit->lock);
}

/* ---- Life cycle ---- */

static void pit_reset_locked(struct pit *pit)
{
	/* PC wiring: gates of counters 0 and 1 are tied high; gate 2 is port 0x61 bit 0. */
	pit_counter_reset(&pit->counters[0], true);
	pit_counter_reset(&pit->counters[1], true);
	pit_counter_reset(&pit->counters[2], false);
	pit->nmi_sc = 0;
	pit->irq_edge_tick = PIT_TICK_NONE;
	timer_del(pit->timer);
}

struct pit *pit_create(struct evloop *loop, struct irq_line irq0)
{
	struct pit *pit = calloc(1, sizeof(*pit));

	if (!pit)
		return NULL;
	if (pthread_mutex_init(&pit->lock, NULL)) {
		free(pit);
		return NULL;
	}
	pit->loop = loop;
	pit->irq0 = irq0;
	pit->timer = timer_new(loop, pit_timer_fire, pit);
	if (!pit->timer) {
		pthread_mutex_destroy(&pit->lock);
		free(pit);
		return NULL;
	}
	pit->epoch_ns = evloop_now_ns(loop);
	pit_reset_locked(pit);
	return pit;
}

void pit_destroy(struct pit *pit)
{
	if (!pit)
		return;
	timer_del(pit->timer);
	timer_free(pit->timer);
	pthread_mutex_destroy(&pit->lock);
	free(pit);
}

int pit_attach(struct pit *pit, struct bus *pio)
{
	int rc =
	    bus_register(pio, "pit", PIT_PORT_BASE, PIT_PORT_COUNT, pit_io_read, pit_io_write, pit);

	if (rc < 0)
		return rc;
	rc =
	    bus_register(pio, "nmi-sc", PIT_NMI_SC_PORT, 1, pit_nmi_sc_read, pit_nmi_sc_write, pit);
	if (rc < 0) {
		bus_unregister(pio, PIT_PORT_BASE, pit);
		return rc;
	}
	return 0;
}

void pit_reset(struct pit *pit)
{
	pthread_mutex_lock(&pit->lock);
	pit_reset_locked(pit);
	pthread_mutex_unlock(&pit->lock);
}
