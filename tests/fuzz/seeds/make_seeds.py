#!/usr/bin/env python3
"""Writes the hand-crafted seed inputs for the libFuzzer harnesses in tests/fuzz/.

Each harness reads its input as a sequence of operations (see the comment at the top of
tests/fuzz/<name>_fuzz.c); the encoders below follow those formats exactly, so a change to a
harness's input format must be mirrored here. The seeds are the register sequences a real driver
or firmware performs (Linux's drivers for the most part) and valid kernel images for the loaders,
so a short fuzzing run starts from deep, realistic states instead of an empty corpus.

Usage: tests/fuzz/seeds/make_seeds.py [OUTDIR]   (default: the directory of this script)

Files are written as OUTDIR/<device>/hand-<what>; other files there (the libFuzzer-named inputs
added by minimizing a fuzzing run with -merge=1) are left alone. Output is deterministic.
Standard library only.
"""
import os
import struct
import sys


def u16(v):
    return struct.pack("<H", v & 0xFFFF)


def u32(v):
    return struct.pack("<I", v & 0xFFFFFFFF)


def u64(v):
    return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


def size_code(size):
    return {1: 0, 2: 1, 4: 2, 8: 3}[size]


def le(v, size):
    return (v & ((1 << (8 * size)) - 1)).to_bytes(size, "little")


# ---------------------------------------------------------------------------------------------
# pic_fuzz: op % 7 -> 0 write [port idx][size][value], 1 read [port idx][size],
# 2 set_irq [irq+8][level], 3 ack, 4 ICW shortcut, 5 reset [byte], 6 unmask all.


class Pic:
    PORTS = [0x1F, 0x20, 0x21, 0x22, 0x9F, 0xA0, 0xA1, 0xA2, 0x4CF, 0x4D0, 0x4D1, 0x4D2]

    def __init__(self):
        self.b = bytearray()

    def out(self, port, value, size=1):
        self.b += bytes([0, self.PORTS.index(port), size_code(size)]) + le(value, size)

    def inp(self, port, size=1):
        self.b += bytes([1, self.PORTS.index(port), size_code(size)])

    def irq(self, n, level):
        self.b += bytes([2, (n + 8) % 32, level])

    def ack(self):
        self.b += bytes([3])

    def icw_shortcut(self, slave, icw1_low, icws):
        self.b += bytes([4, slave, icw1_low]) + bytes(icws)

    def reset(self):
        self.b += bytes([5, 0])

    def unmask_all(self):
        self.b += bytes([6])

    def linux_init(self, auto_eoi=False, master_base=0x30):
        """init_8259A(): mask all, ICW1-4 on both chips, then restore the masks."""
        icw4 = 0x03 if auto_eoi else 0x01
        self.out(0x21, 0xFF)
        self.out(0xA1, 0xFF)
        self.out(0x20, 0x11)  # ICW1: edge, cascade, ICW4 needed
        self.out(0x21, master_base)  # ICW2: vector base
        self.out(0x21, 0x04)  # ICW3: slave on IR2
        self.out(0x21, icw4)  # ICW4: 8086 mode (and AEOI)
        self.out(0xA0, 0x11)
        self.out(0xA1, master_base + 8)
        self.out(0xA1, 0x02)  # ICW3: slave ID 2
        self.out(0xA1, 0x01)
        self.out(0x21, 0xFB)  # only the cascade unmasked
        self.out(0xA1, 0xFF)

    def read_irr_isr(self, chip):
        self.out(chip, 0x0A)  # OCW3: read IRR
        self.inp(chip)
        self.out(chip, 0x0B)  # OCW3: read ISR
        self.inp(chip)


def pic_seeds():
    seeds = {}

    p = Pic()
    p.linux_init()
    p.out(0x21, 0xEA)  # unmask IRQ0, IRQ2, IRQ4
    p.irq(0, 1)
    p.read_irr_isr(0x20)
    p.ack()
    p.read_irr_isr(0x20)
    p.out(0x20, 0x20)  # non-specific EOI
    p.irq(0, 0)
    p.irq(4, 1)
    p.irq(0, 1)
    p.ack()
    p.ack()
    p.out(0x20, 0x60)  # specific EOI IR0
    p.out(0x20, 0x64)  # specific EOI IR4
    p.irq(4, 0)
    p.out(0xA1, 0xEF)  # unmask IRQ12
    p.irq(12, 1)
    p.read_irr_isr(0xA0)
    p.ack()
    p.read_irr_isr(0xA0)
    p.out(0xA0, 0x20)
    p.out(0x20, 0x62)  # EOI for the cascade
    p.irq(12, 0)
    p.inp(0x21)
    p.inp(0xA1)
    seeds["linux-init-eoi"] = p.b

    # Level-triggered PCI IRQs through the ELCR, auto-EOI mode.
    p = Pic()
    p.out(0x4D0, 0x20)  # IRQ5 level
    p.out(0x4D1, 0x0E)  # IRQ9-11 level
    p.inp(0x4D0)
    p.inp(0x4D1)
    p.linux_init(auto_eoi=True)
    p.out(0x21, 0xD8)
    p.out(0xA1, 0xF1)
    p.irq(5, 1)
    p.ack()
    p.ack()  # still asserted: delivered again in AEOI
    p.irq(5, 0)
    p.irq(10, 1)
    p.irq(11, 1)
    p.ack()
    p.read_irr_isr(0xA0)
    p.irq(10, 0)
    p.ack()
    p.irq(11, 0)
    p.ack()
    p.out(0x4D0, 0xFF, 2)  # reserved bits
    p.inp(0x4D0, 2)
    seeds["elcr-level-aeoi"] = p.b

    # Priority rotation, set priority, poll mode, special mask mode.
    p = Pic()
    p.linux_init()
    p.unmask_all()
    for n in (1, 3, 6, 7):
        p.irq(n, 1)
    p.out(0x20, 0xC5)  # set lowest priority IR5
    p.ack()
    p.out(0x20, 0xA0)  # rotate on non-specific EOI
    p.ack()
    p.out(0x20, 0xE6)  # rotate on specific EOI IR6
    p.out(0x20, 0x80)  # rotate in AEOI mode set
    p.out(0x20, 0x00)  # rotate in AEOI mode clear
    p.out(0x20, 0x0C)  # poll
    p.inp(0x20)
    p.out(0x20, 0x0C)
    p.inp(0x20)
    p.out(0x20, 0x68)  # set special mask mode
    p.out(0x21, 0x08)
    p.ack()
    p.out(0x20, 0x48)  # reset special mask mode
    p.read_irr_isr(0x20)
    for n in (1, 3, 6, 7):
        p.irq(n, 0)
    p.out(0x20, 0x20)
    p.out(0x20, 0x20)
    seeds["rotate-poll-smm"] = p.b

    # Spurious IRQ7 / IRQ15, single mode, no ICW4, special fully nested, buffered mode.
    p = Pic()
    p.linux_init()
    p.unmask_all()
    p.irq(7, 1)
    p.irq(7, 0)
    p.ack()  # spurious 7
    p.irq(15, 1)
    p.irq(15, 0)
    p.ack()  # spurious 15
    p.read_irr_isr(0x20)
    p.out(0x20, 0x13)  # ICW1: single, ICW4 needed
    p.out(0x21, 0x08)
    p.out(0x21, 0x1D)  # ICW4: SFNM, buffered master, 8086
    p.out(0x21, 0x00)
    p.irq(3, 1)
    p.ack()
    p.out(0x20, 0x20)
    p.out(0xA0, 0x10)  # ICW1 without ICW4, cascade
    p.out(0xA1, 0x70)
    p.out(0xA1, 0x02)
    p.out(0xA1, 0x00)
    p.out(0x20, 0x1B)  # ICW1 level-triggered (LTIM)
    p.out(0x21, 0x20)
    p.out(0x21, 0x04)
    p.out(0x21, 0x01)
    p.out(0x21, 0x00)
    p.irq(3, 1)
    p.ack()
    p.irq(3, 0)
    p.ack()
    seeds["spurious-modes"] = p.b

    # The harness shortcuts and the edges of the port range.
    p = Pic()
    p.icw_shortcut(0, 0x01, [0x08, 0x04, 0x01, 0x00])
    p.icw_shortcut(1, 0x01, [0x70, 0x02, 0x01, 0x00])
    for n in range(-2, 18):
        p.irq(n, 1)
    for _ in range(4):
        p.ack()
    p.inp(0x1F)
    p.inp(0x22)
    p.inp(0x9F)
    p.inp(0xA2)
    p.inp(0x4CF)
    p.inp(0x4D2)
    p.out(0x20, 0x1234, 2)
    p.inp(0x20, 4)
    p.inp(0x21, 8)
    p.reset()
    p.inp(0x21)
    p.irq(1, 1)
    p.ack()
    seeds["shortcuts-edges"] = p.b
    return seeds


# ---------------------------------------------------------------------------------------------
# ioapic_fuzz: the first byte is also the IOAPIC ID. op % 6 -> 0 write [off16][size][value],
# 1 read [off16][size], 2 register write [reg % 0x48][u32], 3 pin [pin+4][level],
# 4 EOI [vector], 5 reset [byte]. MMIO offsets are relative to base - 8.


class Ioapic:
    def __init__(self):
        self.b = bytearray()

    def mmio_write(self, off, value, size=4):
        self.b += bytes([0]) + u16(off + 8) + bytes([size_code(size)]) + le(value, size)

    def mmio_read(self, off, size=4):
        self.b += bytes([1]) + u16(off + 8) + bytes([size_code(size)])

    def reg_write(self, reg, value):
        self.b += bytes([2, reg]) + u32(value)

    def reg_read(self, reg):
        self.mmio_write(0x00, reg)
        self.mmio_read(0x10)

    def redir(self, pin, low, high=0):
        self.reg_write(0x10 + 2 * pin, low)
        self.reg_write(0x11 + 2 * pin, high)

    def pin(self, n, level):
        self.b += bytes([3, n + 4, level])

    def eoi(self, vector):
        self.b += bytes([4, vector])

    def reset(self):
        self.b += bytes([5, 0])


EDGE, LEVEL, LOW, MASKED, LOGICAL = 0, 1 << 15, 1 << 13, 1 << 16, 1 << 11


def ioapic_seeds():
    seeds = {}

    # Linux's setup_IO_APIC: read ID/version/arbitration, mask every entry, program the ISA
    # pins edge/high and the PCI pins level/low, then deliver and EOI.
    io = Ioapic()
    io.reg_read(0x00)
    io.reg_read(0x01)
    io.reg_read(0x02)
    io.reg_write(0x00, 0x02000000)  # set the ID
    io.reg_read(0x00)
    for pin in range(24):
        io.redir(pin, MASKED)
    for pin in range(24):
        io.reg_read(0x10 + 2 * pin)
    for pin in (1, 2, 4, 8, 12):
        io.redir(pin, 0x30 + pin, 0)
    io.redir(9, 0x39 | LEVEL, 0)  # ACPI SCI
    for pin in range(16, 20):
        io.redir(pin, (0x40 + pin) | LEVEL | LOW, 0x01000000)
    io.pin(2, 1)
    io.pin(2, 0)
    io.pin(4, 1)
    io.pin(4, 0)
    io.pin(4, 1)
    io.pin(9, 1)
    io.reg_read(0x10 + 18)  # remote IRR set
    io.eoi(0x39)  # still asserted: sent again
    io.pin(9, 0)
    io.eoi(0x39)
    io.pin(16, 0)  # active low: asserted
    io.pin(16, 1)
    io.eoi(0x50)
    io.pin(17, 0)
    io.redir(17, 0x51 | EDGE | LOW, 0x01000000)  # edge toggle clears remote IRR
    io.redir(17, 0x51 | LEVEL | LOW, 0x01000000)
    io.pin(17, 1)
    seeds["linux-setup"] = io.b

    # Delivery modes, logical destinations, masking with the pin asserted.
    io = Ioapic()
    io.redir(0, 0x700 | MASKED)  # ExtINT
    io.redir(1, 0x31 | 0x100 | LOGICAL, 0xFF000000)  # lowest priority, logical
    io.redir(2, 0x32 | 0x200, 0)  # SMI
    io.redir(3, 0x33 | 0x400 | LEVEL, 0x03000000)  # NMI level: treated as edge
    io.redir(5, 0x35 | 0x500, 0)  # INIT
    io.redir(6, 0x36 | 0x300, 0)  # reserved 011
    io.redir(7, 0x37 | 0x600, 0)  # reserved 110
    io.redir(8, 0x05 | LEVEL, 0)  # vector below 0x10
    for pin in range(9):
        io.pin(pin, 1)
    io.redir(0, 0x700)  # unmask while asserted
    io.redir(8, 0x05 | LEVEL | MASKED, 0)
    io.redir(8, 0x05 | LEVEL, 0)
    io.eoi(0x05)
    for pin in range(9):
        io.pin(pin, 0)
    io.reg_write(0x10, 0xFFFFFFFF)
    io.reg_write(0x11, 0xFFFFFFFF)
    io.reg_read(0x10)
    io.reg_read(0x11)
    seeds["delivery-modes"] = io.b

    # Access sizes and offsets across the window, reserved registers, reset.
    io = Ioapic()
    io.mmio_write(0x00, 0x10, 1)
    io.mmio_read(0x10, 4)
    io.mmio_read(0x11, 1)
    io.mmio_read(0x12, 2)
    io.mmio_read(0x10, 8)
    io.mmio_write(0x10, 0x31, 2)  # partial IOWIN write: ignored
    io.mmio_write(0x10, 0x1234, 8)
    io.mmio_read(0x00, 1)
    io.mmio_read(0x03, 1)
    io.mmio_read(-8, 8)
    io.mmio_read(0xFFC, 4)
    io.mmio_read(0xFFE, 8)
    io.mmio_write(0xFFF, 0xFF, 1)
    io.mmio_write(0x40, 0x31)  # no EOI register in version 0x11
    io.mmio_write(0x00, 0x3F)
    io.mmio_read(0x10)
    io.mmio_write(0x00, 0xFF)
    io.mmio_write(0x10, 0xFFFFFFFF)
    io.mmio_read(0x10)
    io.redir(23, 0x77 | LEVEL, 0x0F000000)
    io.pin(23, 1)
    io.pin(24, 1)
    io.pin(-1, 1)
    io.reset()
    io.reg_read(0x10 + 46)
    io.pin(23, 0)
    io.pin(23, 1)
    seeds["window-edges"] = io.b
    return seeds


# ---------------------------------------------------------------------------------------------
# pit_fuzz: [op][port idx][payload]. op & 7: 0/1 write (size from op bits 3-4), 2/3 read,
# 4 advance ns (u16), 5 advance us (u16), 6 advance ms (u8), 7 control word or reset (0xff).


class Pit:
    PORTS = [0x40, 0x41, 0x42, 0x43, 0x43, 0x43, 0x61, 0x61, 0x3F, 0x44, 0x60, 0x62]

    def __init__(self):
        self.b = bytearray()

    def out(self, port, value, size=1):
        self.b += bytes([size_code(size) << 3, self.PORTS.index(port)]) + le(value, size)

    def inp(self, port, size=1):
        self.b += bytes([2 | size_code(size) << 3, self.PORTS.index(port)])

    def ns(self, n):
        self.b += bytes([4, 0]) + u16(n)

    def us(self, n):
        self.b += bytes([5, 0]) + u16(n)

    def ms(self, n):
        self.b += bytes([6, 0, n])

    def reset(self):
        self.b += bytes([0xFF, 0])

    def program(self, counter, mode, count, rw=3, bcd=0):
        self.out(0x43, counter << 6 | rw << 4 | mode << 1 | bcd)
        port = 0x40 + counter
        if rw in (1, 3):
            self.out(port, count & 0xFF)
        if rw in (2, 3):
            self.out(port, count >> 8 & 0xFF)

    def latch_read(self, counter):
        self.out(0x43, counter << 6)
        self.inp(0x40 + counter)
        self.inp(0x40 + counter)


LATCH_HZ100 = 11932  # 1193182 / 100


def pit_seeds():
    seeds = {}

    # Linux: periodic mode 2 at HZ=100 on counter 0, counter latch and read-back commands.
    p = Pit()
    p.program(0, 2, LATCH_HZ100)
    for _ in range(3):
        p.ms(10)
        p.latch_read(0)
    p.us(1234)
    p.out(0x43, 0xC2)  # read-back: count and status of counter 0
    p.inp(0x40)
    p.inp(0x40)
    p.inp(0x40)
    p.out(0x43, 0xE2)  # status only
    p.inp(0x40)
    p.out(0x43, 0xD2)  # count only
    p.inp(0x40)
    p.inp(0x40)
    p.out(0x43, 0xCE)  # all three counters
    for port in (0x40, 0x41, 0x42):
        p.inp(port)
        p.inp(port)
        p.inp(port)
    p.ms(50)
    p.program(0, 2, 2)  # tiny count: the rate cap
    p.ms(20)
    p.program(0, 0, 0xFFFF)  # clockevents shutdown: mode 0, 0xffff... as Linux does
    p.ms(100)
    seeds["linux-hz100"] = p.b

    # Linux's TSC calibration on counter 2 gated by port 0x61, then a speaker beep.
    p = Pit()
    p.inp(0x61)
    p.out(0x61, 0x01)  # gate high, speaker off
    p.program(2, 0, 11931)  # CAL_LATCH for 10 ms, mode 0
    for _ in range(12):
        p.ms(1)
        p.inp(0x61)  # OUT2 in bit 5
    p.out(0x61, 0x00)
    p.program(2, 3, 0x0533)  # mode 3 square wave
    p.out(0x61, 0x03)  # gate and speaker
    p.us(700)
    p.inp(0x61)
    p.us(700)
    p.inp(0x61)
    p.latch_read(2)
    p.program(2, 1, 100)  # mode 1: triggered by the gate's rising edge
    p.out(0x61, 0x00)
    p.out(0x61, 0x01)
    p.us(50)
    p.inp(0x61)
    p.out(0x61, 0x00)
    p.out(0x61, 0x01)  # retrigger
    p.us(200)
    p.inp(0x61)
    p.program(2, 5, 50)  # mode 5: hardware strobe
    p.out(0x61, 0x01)
    p.us(100)
    p.inp(0x61)
    seeds["calibrate-speaker"] = p.b

    # One-shot modes on counter 0 (Linux oneshot clockevents), mode 4, BCD, partial RW modes.
    p = Pit()
    p.program(0, 0, 0x0100)  # mode 0 one-shot
    p.us(100)
    p.latch_read(0)
    p.us(200)
    p.program(0, 0, 0x0010)
    p.us(20)
    p.program(0, 4, 0x0200)  # mode 4 software strobe
    p.us(500)
    p.program(0, 2, 0x1000, bcd=1)  # BCD
    p.ms(5)
    p.latch_read(0)
    p.program(0, 3, 0x0101)  # mode 3, odd count
    p.ms(3)
    p.program(1, 2, 0x12, rw=1)  # LSB only
    p.program(1, 2, 0x34 << 8, rw=2)  # MSB only
    p.out(0x43, 0x40)
    p.inp(0x41)
    p.program(0, 2, 0)  # count 0 = 65536
    p.ms(60)
    p.out(0x40, 0x55)  # half a count in LSB/MSB mode
    p.ms(1)
    p.out(0x40, 0x00)
    p.out(0x43, 0x00)  # latch twice
    p.out(0x43, 0x00)
    p.inp(0x40)
    p.out(0x43, 0x3E)  # mode 7 aliases 3
    p.out(0x40, 0x20)
    p.out(0x40, 0x00)
    p.ms(2)
    seeds["oneshot-bcd-rw"] = p.b

    # Sizes, neighbouring ports, reset while running.
    p = Pit()
    p.program(0, 2, 1000)
    p.out(0x40, 0x1234, 2)
    p.inp(0x40, 2)
    p.inp(0x40, 4)
    p.out(0x43, 0x34, 4)
    p.out(0x40, 0xFFFFFFFF, 4)
    p.inp(0x43)
    p.inp(0x3F)
    p.inp(0x44)
    p.inp(0x60)
    p.inp(0x62)
    p.out(0x61, 0xFF)
    p.inp(0x61, 2)
    p.ns(50000)
    p.reset()
    p.latch_read(0)
    p.program(0, 2, 20000)
    p.ms(255)
    p.ms(255)
    seeds["sizes-reset"] = p.b
    return seeds


# ---------------------------------------------------------------------------------------------
# cmos_fuzz: op & 15 -> 0/1 write [port idx][value], 2/3 read [port idx], 4/5 register write
# [idx byte][value], 6/7 register read [idx & 0x8f], 8-11 advance ns/us/ms/s [u16],
# 12 nvram_set [u16 idx][value], 13-15 nvram_get [u16 idx]. Size in op bits 4-5.


class Cmos:
    PORTS = [0x70, 0x71, 0x71, 0x72, 0x73, 0x6F, 0x74]

    def __init__(self):
        self.b = bytearray()

    def out(self, port, value, size=1):
        self.b += bytes([size_code(size) << 4, self.PORTS.index(port)]) + le(value, size)

    def inp(self, port, size=1):
        self.b += bytes([2 | size_code(size) << 4, self.PORTS.index(port)])

    def wr(self, reg, value):
        if reg < 14:
            self.b += bytes([4, reg, value])
        elif reg == 0x32:
            self.b += bytes([4, 224, value])
        else:
            self.out(0x70, reg)
            self.out(0x71, value)

    def rd(self, reg):
        if reg < 16:
            self.b += bytes([6, reg])
        else:
            self.out(0x70, reg)
            self.inp(0x71)

    def adv(self, unit, n):
        self.b += bytes([8 + ["ns", "us", "ms", "s"].index(unit)]) + u16(n)

    def nv_set(self, idx, value):
        self.b += bytes([12]) + u16(idx) + bytes([value])

    def nv_get(self, idx):
        self.b += bytes([13]) + u16(idx)

    def read_time(self):
        """mc146818_get_time(): wait for UIP clear, read the time, B and the century."""
        self.rd(0x0A)
        for reg in (0, 2, 4, 6, 7, 8, 9):
            self.rd(reg)
        self.rd(0x32)
        self.rd(0x0B)
        self.rd(0x0A)

    def set_time(self, sec, mn, hour, wday, day, mon, year, b=0x02):
        """mc146818_set_time(): SET, write the clock, release SET."""
        self.wr(0x0B, b | 0x80)
        self.wr(0x0A, 0x70)  # divider in reset while setting
        for reg, v in ((0, sec), (2, mn), (4, hour), (6, wday), (7, day), (8, mon), (9, year)):
            self.wr(reg, v)
        self.wr(0x0B, b)
        self.wr(0x0A, 0x26)


def cmos_seeds():
    seeds = {}

    c = Cmos()
    c.read_time()
    c.adv("s", 1)
    c.read_time()
    c.rd(0x0D)  # VRT
    c.rd(0x0C)
    for _ in range(8):
        c.adv("us", 125)  # walk through the update cycle reading UIP
        c.rd(0x0A)
    c.read_time()
    c.adv("s", 3600)
    c.read_time()
    seeds["linux-read-time"] = c.b

    # Set the time across a leap-day midnight in BCD, then binary 24h, then 12h mode.
    c = Cmos()
    c.set_time(0x58, 0x59, 0x23, 0x04, 0x28, 0x02, 0x24)
    c.wr(0x32, 0x20)
    c.adv("s", 3)
    c.read_time()
    c.set_time(58, 59, 23, 7, 31, 12, 99, b=0x06)  # binary, year rollover
    c.wr(0x32, 0x19)
    c.adv("s", 3)
    c.read_time()
    c.set_time(0x59, 0x59, 0x92, 0x01, 0x30, 0x04, 0x23, b=0x00)  # 12h mode, 12 PM... 11 PM
    c.adv("s", 3600)
    c.read_time()
    c.set_time(0x59, 0x59, 0x01, 0x01, 0x31, 0x03, 0x24, b=0x03)  # daylight saving enable
    c.adv("s", 2)
    c.read_time()
    c.wr(0x00, 0x7A)  # invalid BCD
    c.wr(0x08, 0x13)
    c.adv("s", 2)
    c.read_time()
    seeds["set-time-rollover"] = c.b

    # Periodic interrupt (RTC_PIE) at 1024 Hz and 2 Hz, read C to acknowledge.
    c = Cmos()
    c.wr(0x0A, 0x26)
    c.rd(0x0C)
    c.wr(0x0B, 0x42)
    for _ in range(4):
        c.adv("us", 977)
        c.rd(0x0C)
    c.adv("ms", 10)
    c.rd(0x0C)
    c.wr(0x0A, 0x2F)
    c.adv("ms", 500)
    c.rd(0x0C)
    c.wr(0x0A, 0x23)  # 8192 Hz (RS 3)
    c.adv("ms", 1)
    c.rd(0x0C)
    c.wr(0x0A, 0x20)  # RS 0: none
    c.adv("ms", 5)
    c.wr(0x0B, 0x02)
    c.rd(0x0C)
    seeds["periodic-irq"] = c.b

    # Alarm (exact and don't-care) and update-ended interrupts.
    c = Cmos()
    c.set_time(0x00, 0x00, 0x12, 0x05, 0x01, 0x03, 0x24)
    c.wr(0x01, 0x05)
    c.wr(0x03, 0x00)
    c.wr(0x05, 0x12)
    c.wr(0x0B, 0x22)  # AIE
    c.rd(0x0C)
    c.adv("s", 6)
    c.rd(0x0C)
    c.wr(0x01, 0xC0)
    c.wr(0x03, 0xC0)
    c.wr(0x05, 0xC0)  # every second
    c.adv("s", 2)
    c.rd(0x0C)
    c.wr(0x0B, 0x12)  # UIE
    c.adv("ms", 1000)
    c.rd(0x0C)
    c.adv("s", 1)
    c.wr(0x0B, 0x72)  # all three
    c.adv("s", 1)
    c.rd(0x0C)
    c.rd(0x0C)
    seeds["alarm-update"] = c.b

    # Divider control: reset (DV=11x) and restart, oscillator off, NVRAM banks, NMI bit.
    c = Cmos()
    c.wr(0x0A, 0x70)
    c.adv("s", 5)
    c.read_time()
    c.wr(0x0A, 0x20)
    c.adv("ms", 499)
    c.rd(0x0A)
    c.adv("ms", 2)
    c.read_time()
    c.wr(0x0A, 0x06)  # DV=000: oscillator stopped
    c.adv("s", 10)
    c.read_time()
    c.wr(0x0A, 0x26)
    for idx in (0x0E, 0x0F, 0x10, 0x14, 0x15, 0x16, 0x17, 0x18, 0x30, 0x31, 0x34, 0x35, 0x5B):
        c.rd(idx)
    c.wr(0x0F, 0x00)
    c.wr(0x70, 0x5A)
    c.out(0x70, 0x8D)  # NMI disable bit with index D
    c.inp(0x71)
    c.out(0x72, 0x80)  # upper bank
    c.out(0x73, 0xA5)
    c.out(0x72, 0x80)
    c.inp(0x73)
    c.out(0x72, 0xFF)
    c.inp(0x73)
    c.nv_set(0x20, 0x11)
    c.nv_set(0x110, 0x22)
    c.nv_get(0x110)
    c.nv_get(299)
    c.out(0x70, 0x0C0B, 2)
    c.inp(0x70, 4)
    c.inp(0x6F)
    c.inp(0x74)
    c.adv("ns", 60000)
    seeds["divider-nvram"] = c.b
    return seeds


# ---------------------------------------------------------------------------------------------
# uart_fuzz: op % 7 -> 0 write [offset|size<<4][u64], 1 read [offset|size<<4],
# 2 host input [n][n bytes], 3 clock [u16 x 4us], 4 run due, 5 drain output, 6 reset.

THR, IER, FCR, LCR, MCR, LSR, MSR, SCR = range(8)
IIR, RBR, DLL, DLM = FCR, THR, 0, 1


class Uart:
    def __init__(self):
        self.b = bytearray()

    def out(self, off, value, size=1):
        self.b += bytes([0, off | size_code(size) << 4]) + u64(value)

    def inp(self, off, size=1):
        self.b += bytes([1, off | size_code(size) << 4])

    def host(self, data):
        data = bytes(data)
        while data:
            chunk, data = data[:63], data[63:]
            self.b += bytes([2, len(chunk)]) + chunk

    def clock(self, us):
        self.b += bytes([3]) + u16(us // 4)

    def run_due(self):
        self.b += bytes([4])

    def drain(self):
        self.b += bytes([5])

    def reset(self):
        self.b += bytes([6])

    def set_baud(self, divisor, lcr=0x03):
        self.out(LCR, lcr | 0x80)
        self.out(DLL, divisor & 0xFF)
        self.out(DLM, divisor >> 8)
        self.out(LCR, lcr)

    def linux_autoconfig(self):
        """serial8250 autoconfig(): IER probe, loopback probe, EFR/LCR 0xbf probe, FIFO size."""
        self.inp(IER)
        self.out(IER, 0x00)
        self.inp(IER)
        self.out(IER, 0x0F)
        self.inp(IER)
        self.out(IER, 0x00)
        self.inp(MCR)
        self.out(MCR, 0x1A)  # LOOP | OUT2 | RTS
        self.inp(MSR)
        self.out(MCR, 0x00)
        self.inp(LCR)
        self.out(LCR, 0xBF)
        self.out(FCR, 0x00)  # EFR on 16650s
        self.inp(FCR)
        self.out(LCR, 0x00)
        self.out(FCR, 0x01)
        self.inp(IIR)
        self.out(LCR, 0x80)
        self.inp(DLL)
        self.inp(DLM)
        self.out(LCR, 0x00)
        self.out(SCR, 0xA5)
        self.inp(SCR)
        self.out(SCR, 0x5A)
        self.inp(SCR)
        self.out(FCR, 0x07)
        self.out(FCR, 0x00)

    def linux_startup(self):
        """serial8250_do_startup(): clear FIFOs, clear status, 8N1, DTR/RTS/OUT2, THRE test."""
        self.out(FCR, 0x01)
        self.out(FCR, 0x07)
        self.out(FCR, 0x00)
        self.inp(LSR)
        self.inp(RBR)
        self.inp(IIR)
        self.inp(MSR)
        self.out(LCR, 0x03)
        self.out(MCR, 0x0B)
        self.out(IER, 0x02)  # THRE test
        self.inp(IIR)
        self.out(IER, 0x00)
        self.inp(IIR)
        self.set_baud(1)  # 115200
        self.out(FCR, 0xC1)  # FIFO, trigger 14
        self.out(IER, 0x05)  # RDI | RLSI
        self.inp(LSR)


def uart_seeds():
    seeds = {}

    u = Uart()
    u.linux_autoconfig()
    u.linux_startup()
    u.out(IER, 0x07)
    for ch in b"Linux version\r\n":
        u.inp(LSR)
        u.out(THR, ch)
    u.inp(IIR)
    u.drain()
    u.host(b"root\r")
    u.run_due()
    u.inp(IIR)
    u.inp(LSR)
    for _ in range(5):
        u.inp(RBR)
    u.inp(IIR)
    u.clock(400)  # character timeout
    u.run_due()
    u.inp(IIR)
    seeds["linux-console"] = u.b

    # FIFO trigger levels, character timeout, host backpressure and the resume timer.
    u = Uart()
    u.linux_startup()
    u.out(FCR, 0x41)  # trigger 4
    u.host(b"abc")
    u.run_due()
    u.inp(IIR)
    u.clock(1000)
    u.run_due()
    u.inp(IIR)  # CTI
    u.host(bytes(range(0x20, 0x20 + 63)) * 2)
    u.run_due()
    u.inp(LSR)
    for _ in range(20):
        u.inp(RBR)
    u.clock(2000)
    u.run_due()
    u.inp(IIR)
    for _ in range(20):
        u.inp(RBR)
    u.out(FCR, 0x81)  # trigger 8
    u.out(FCR, 0x03)  # clear RX
    u.inp(LSR)
    u.out(FCR, 0x00)  # 16450 mode
    u.host(b"xyz")
    u.run_due()
    u.inp(LSR)
    u.inp(RBR)
    u.inp(RBR)
    u.set_baud(0x0C, lcr=0x1F)  # 9600, 8 data, 2 stop, even parity
    u.out(FCR, 0xC9)  # DMA mode bit
    u.host(b"0123456789")
    u.clock(50000)
    u.run_due()
    u.inp(IIR)
    u.set_baud(0)  # divisor 0
    u.clock(50000)
    u.run_due()
    seeds["fifo-timeout-flow"] = u.b

    # Loop mode: TX looped to RX, overrun, break, modem-status deltas.
    u = Uart()
    u.linux_startup()
    u.out(IER, 0x0F)
    u.out(MCR, 0x10)  # LOOP
    u.inp(MSR)
    u.out(MCR, 0x1F)  # all outputs: CTS/DSR/RI/DCD in loop
    u.inp(IIR)
    u.inp(MSR)
    u.out(MCR, 0x13)
    u.inp(MSR)  # trailing edge of RI
    u.out(MCR, 0x10)
    u.inp(IIR)
    u.inp(MSR)
    for ch in range(20):  # past the FIFO: overrun
        u.out(THR, 0x41 + ch)
    u.inp(IIR)
    u.inp(LSR)
    for _ in range(17):
        u.inp(RBR)
    u.out(LCR, 0x43)  # break
    u.out(THR, 0x00)
    u.out(LCR, 0x03)
    u.inp(LSR)
    u.inp(IIR)
    u.inp(RBR)
    u.out(FCR, 0x00)
    u.out(THR, 0x61)
    u.out(THR, 0x62)
    u.inp(LSR)
    u.inp(RBR)
    u.out(MCR, 0x0B)
    u.drain()
    seeds["loop-break-msr"] = u.b

    # Access sizes and offsets past the UART, reset in the middle.
    u = Uart()
    u.out(LCR, 0x0383, 2)
    u.inp(THR, 2)
    u.inp(THR, 4)
    u.inp(THR, 8)
    u.out(THR, 0x0A0D4948, 4)
    u.out(THR, 0x0102030405060708, 8)
    u.inp(7, 2)
    u.inp(8)
    u.inp(9)
    u.out(8, 0xFF)
    u.out(9, 0xFF, 4)
    u.out(IER, 0xFF)
    u.inp(IER)
    u.out(MCR, 0xFF)
    u.inp(MCR)
    u.out(LSR, 0xFF)  # read-only
    u.out(MSR, 0xFF)
    u.host(b"q")
    u.reset()
    u.inp(LSR)
    u.run_due()
    u.inp(RBR)
    u.drain()
    seeds["sizes-reset"] = u.b
    return seeds


# ---------------------------------------------------------------------------------------------
# i8042_fuzz: op & 0x80 selects port 0x64 (else 0x60); op % 8 -> 0/1 write [value],
# 2/3 read, 4 key input [n][n bytes], 5 wide write [size][value], 6 wide read [size],
# 7 reset (op & 0x40) or 0x64 <- 0xd0 | (byte & 7).


class Kbc:
    def __init__(self):
        self.b = bytearray()

    def data(self, v):
        self.b += bytes([0x00, v])

    def cmd(self, v):
        self.b += bytes([0x80, v])

    def rdata(self):
        self.b += bytes([0x02])

    def rstatus(self):
        self.b += bytes([0x82])

    def keys(self, codes):
        self.b += bytes([0x04, len(codes)]) + bytes(codes)

    def wide_write(self, port, size, value):
        self.b += bytes([0x05 | (0x80 if port == 0x64 else 0), size_code(size)]) + le(value, size)

    def wide_read(self, port, size):
        self.b += bytes([0x06 | (0x80 if port == 0x64 else 0), size_code(size)])

    def reset(self):
        self.b += bytes([0x47])

    def d_cmd(self, low):
        self.b += bytes([0x07, low])

    def reply(self, n=1):
        for _ in range(n):
            self.rstatus()
            self.rdata()

    def kbd(self, *bytes_out, replies=1):
        for v in bytes_out:
            self.data(v)
            self.reply(replies)

    def aux(self, v, replies=1):
        self.cmd(0xD4)
        self.data(v)
        self.reply(replies)

    def linux_controller_init(self):
        """i8042_controller_check/init/selftest as Linux's i8042 driver does them."""
        self.rstatus()
        self.rdata()  # flush
        self.cmd(0x20)
        self.reply()  # read CTR
        self.cmd(0xAA)
        self.reply()  # 0x55
        self.cmd(0x60)
        self.data(0x44)  # CTR: interrupts off, XLATE | SYS while probing
        self.cmd(0xAB)
        self.reply()  # keyboard interface test
        self.cmd(0xA8)  # enable aux
        self.cmd(0x20)
        self.reply()
        self.cmd(0xA9)
        self.reply()  # aux interface test
        self.cmd(0xD3)
        self.data(0x5A)  # aux loopback probe
        self.reply()
        self.cmd(0xA7)
        self.cmd(0x20)
        self.reply()
        self.cmd(0xAE)
        self.cmd(0x60)
        self.data(0x47)  # KBDINT | AUXINT | SYS | XLATE


def i8042_seeds():
    seeds = {}

    k = Kbc()
    k.linux_controller_init()
    # atkbd_probe/atkbd_activate
    k.kbd(0xF2, replies=3)  # get ID: FA AB 83
    k.kbd(0xFF, replies=2)  # reset: FA AA
    k.kbd(0xF5)
    k.kbd(0xF0, 0x02)  # scancode set 2
    k.kbd(0xF0, 0x00, replies=1)
    k.reply()
    k.kbd(0xED, 0x07)  # LEDs
    k.kbd(0xF3, 0x00)  # typematic
    k.kbd(0xF4)
    k.keys([0x1C, 0xF0, 0x1C, 0xE0, 0x75, 0xE0, 0xF0, 0x75, 0x12, 0x1C, 0xF0, 0x1C, 0xF0, 0x12])
    k.reply(14)
    k.kbd(0xEE)  # echo
    k.kbd(0xFE)  # resend
    k.keys([0xE1, 0x14, 0x77, 0xE1, 0xF0, 0x14, 0xF0, 0x77])  # Pause
    k.reply(8)
    seeds["linux-kbd-init"] = k.b

    # The aux port: Linux's psmouse probe sequence (no mouse attached: time-outs).
    k = Kbc()
    k.linux_controller_init()
    k.cmd(0xA8)
    k.aux(0xFF, replies=3)
    k.aux(0xF2, replies=2)
    for rate in (200, 100, 80):
        k.aux(0xF3)
        k.aux(rate)
    k.aux(0xF2, replies=2)
    k.aux(0xE8)
    k.aux(0x03)
    k.aux(0xE6)
    k.aux(0xE9, replies=4)
    k.aux(0xF4)
    k.cmd(0xD3)
    k.data(0x08)
    k.cmd(0xD3)
    k.data(0x01)
    k.cmd(0xD3)
    k.data(0xFF)
    k.reply(3)
    seeds["aux-probe"] = k.b

    # The controller's own commands: output port, A20, pass-through buffers, CTR bits, and
    # the reset pulse (calls back the platform, which resets the controller).
    k = Kbc()
    k.cmd(0xD0)
    k.reply()
    k.cmd(0xD1)
    k.data(0xDF)  # A20 on
    k.cmd(0xD0)
    k.reply()
    k.cmd(0xDD)
    k.cmd(0xDF)
    k.cmd(0xC0)
    k.reply()
    k.cmd(0xE0)
    k.reply()
    k.cmd(0xD2)
    k.data(0x41)
    k.reply()
    k.cmd(0x60)
    k.data(0x10)  # keyboard clock disabled
    k.keys([0x1C, 0x32])
    k.cmd(0xAD)
    k.cmd(0x20)
    k.reply()
    k.cmd(0x60)
    k.data(0x07)  # no translation
    k.keys([0x1C, 0xF0, 0x1C])
    k.reply(3)
    for c in (0x00, 0x21, 0x3F, 0x40, 0x7F, 0x80, 0xA0, 0xA1, 0xA4, 0xA5, 0xA6, 0xC1, 0xC2,
              0xC3, 0xE1, 0xF0, 0xFF):
        k.cmd(c)
        k.reply()
    for low in range(8):
        k.d_cmd(low)
        k.data(0x01 + low)
        k.reply()
    k.cmd(0xFE)  # pulse reset
    k.rstatus()
    k.reset()
    k.cmd(0xD1)
    k.data(0xFE)  # reset through the output port
    k.rstatus()
    seeds["ctrl-cmds-reset"] = k.b

    # Overflowing the output buffer, wide accesses, commands with missing arguments.
    k = Kbc()
    k.cmd(0x60)
    k.data(0x47)
    k.data(0xF4)
    for _ in range(4):
        k.keys(list(range(0x01, 0x1F)))
    k.reply(3)
    k.data(0xED)  # LED command, then a key command instead of the argument
    k.data(0xF2)
    k.reply(4)
    k.data(0xF0)
    k.data(0x04)  # invalid scancode set
    k.reply(2)
    k.data(0xF0)
    k.data(0x03)
    k.data(0xFA)
    k.data(0xFB)
    k.data(0x1C)
    k.data(0xF4)
    k.keys([0x1C, 0xF0, 0x1C])
    k.reply(6)
    k.wide_write(0x60, 2, 0xF2ED)
    k.wide_read(0x60, 4)
    k.wide_write(0x64, 4, 0x20)
    k.wide_read(0x64, 2)
    k.wide_read(0x60, 8)
    k.wide_write(0x64, 8, 0xAA)
    k.reply(2)
    seeds["overflow-wide"] = k.b
    return seeds


# ---------------------------------------------------------------------------------------------
# acpi_pm_fuzz: op % 6 -> 0 read [port byte] (size from op bits 4-5), 1/2 write [port byte]
# [value], 3 advance [u32 ns] << (op >> 4), 4 power button, 5 reset. Port byte: block
# (b >> 4) % 5 of {PM1 EVT, PM1 CNT, PM TMR, GPE0, 0xcf8} plus offset (b & 15) % 10.

PM1_STS, PM1_EN, PM1_CNT, PM_TMR, GPE0_STS, GPE0_EN, RESET_REG = (
    0x00, 0x02, 0x10, 0x20, 0x30, 0x34, 0x41)


def acpi_op(kinds, size=1, shift=None):
    """The smallest op byte with op % 6 in kinds and the wanted size (or shift) field."""
    for op in range(256):
        if op % 6 not in kinds:
            continue
        if shift is not None and op >> 4 != shift:
            continue
        if shift is None and op >> 4 & 3 != size_code(size):
            continue
        return op
    raise ValueError("no op byte")


class Acpi:
    def __init__(self):
        self.b = bytearray()

    def inp(self, port, size):
        self.b += bytes([acpi_op((0,), size), port])

    def out(self, port, size, value):
        self.b += bytes([acpi_op((1, 2), size), port]) + le(value, size)

    def adv_ns(self, ns):
        shift = 0
        while ns >= 1 << 32:
            ns >>= 1
            shift += 1
        op = acpi_op((3,), shift=shift)
        self.b += bytes([op]) + u32(ns)

    def power_button(self):
        self.b += bytes([4])

    def reset(self):
        self.b += bytes([5])

    def timer_reads(self, n, step_ns):
        for _ in range(n):
            self.inp(PM_TMR, 4)
            self.adv_ns(step_ns)


def acpi_seeds():
    seeds = {}

    # Linux ACPI bring-up: clear status, enable fixed events and GPEs byte-wise (as ACPICA
    # does), the PM timer as a clocksource, then the power button and the S5 sequence.
    a = Acpi()
    a.inp(PM1_CNT, 2)
    a.inp(PM1_STS, 2)
    a.out(PM1_STS, 2, 0xFFFF)
    a.out(PM1_EN, 2, 0x0000)
    for i in range(4):
        a.out(GPE0_STS + i, 1, 0xFF)
        a.out(GPE0_EN + i, 1, 0x00)
    a.out(PM1_EN, 2, 0x0120)  # PWRBTN_EN | GBL_EN
    a.out(GPE0_EN, 1, 0x01)
    a.timer_reads(6, 1000)
    a.timer_reads(3, 1000000)
    a.power_button()
    a.inp(PM1_STS, 2)
    a.out(PM1_STS, 2, 0x0100)
    a.inp(PM1_STS, 2)
    a.out(PM1_CNT, 2, 0x1400 | 0x0001)  # SLP_TYP = 5 first
    a.out(PM1_STS, 2, 0x8000)  # clear WAK_STS
    a.out(PM1_CNT, 2, 0x3400 | 0x0001)  # then SLP_EN: S5
    a.inp(PM1_CNT, 2)
    seeds["linux-s5"] = a.b

    # PM timer overflow (TMR_STS at bit 23 toggles), very long advances, 8-bit timer reads.
    a = Acpi()
    a.out(PM1_EN, 2, 0x0001)  # TMR_EN
    a.adv_ns(2343 * 1000 * 1000)  # 2^23 ticks
    a.inp(PM1_STS, 2)
    a.out(PM1_STS, 2, 0x0001)
    a.adv_ns(4687 * 1000 * 1000)
    a.inp(PM1_STS, 4)
    a.out(PM1_STS, 4, 0x00010001)
    for i in range(4):
        a.inp(PM_TMR + i, 1)
    a.inp(PM_TMR, 2)
    a.inp(PM_TMR, 8)
    a.adv_ns(0xFFFFFFFF << 15)  # the longest advance the harness allows: about 39 hours
    a.inp(PM_TMR, 4)
    a.inp(PM1_STS, 2)
    a.out(PM1_STS, 2, 0xFFFF)
    a.out(PM1_EN, 2, 0xFFFF)
    a.inp(PM1_EN, 2)
    a.out(PM1_CNT, 2, 0x0004)  # GBL_RLS
    a.inp(PM1_STS, 2)
    a.out(PM1_STS, 2, 0x0020)
    seeds["timer-overflow"] = a.b

    # Sleep types other than S5, SCI_EN writes, the reset register, GPE0 sizes, edges.
    a = Acpi()
    a.out(PM1_EN, 2, 0x0100)
    a.out(PM1_CNT, 2, 0x2400)  # S1
    a.out(PM1_CNT, 2, 0x2C00)  # S3
    a.out(PM1_CNT, 2, 0x3C00)  # SLP_TYP 7
    a.out(PM1_CNT, 2, 0x0000)  # try to clear SCI_EN
    a.inp(PM1_CNT, 2)
    a.out(PM1_CNT, 1, 0x02)  # BM_RLD
    a.out(PM1_CNT + 1, 1, 0x34)  # SLP_EN through the high byte
    a.power_button()
    a.power_button()
    a.inp(PM1_STS, 1)
    a.inp(PM1_STS + 1, 1)
    a.out(PM1_STS + 1, 1, 0x01)
    a.out(GPE0_STS, 4, 0xFFFFFFFF)
    a.out(GPE0_EN, 4, 0xFFFFFFFF)
    a.inp(GPE0_STS, 8)
    a.inp(GPE0_EN, 4)
    a.inp(GPE0_STS + 8, 1)
    a.inp(PM1_STS + 9, 1)
    a.out(PM_TMR, 4, 0x12345678)  # read-only
    a.inp(RESET_REG, 1)
    a.out(RESET_REG, 1, 0x02)
    a.out(RESET_REG, 1, 0x04)  # RST_CPU alone
    a.out(RESET_REG, 2, 0x0606)
    a.out(RESET_REG, 1, 0x06)  # hard reset
    a.inp(PM1_CNT, 2)
    a.reset()
    a.inp(PM1_STS, 2)
    a.inp(0x40, 4)  # 0xcf8
    seeds["sleep-reset-edges"] = a.b
    return seeds


# ---------------------------------------------------------------------------------------------
# pci_fuzz: 7-byte ops [kind][b1][size code][u32 value]; kind % 5 -> 0 write 0xcf8 + (b1 & 7),
# 1 read 0xcf8 + (b1 & 7), 2 INTx of device b1 & 1, 3 read I/O 0xc000 + (v & 0x3fff) and MMIO
# 0xe0000000 + (v & 0xffffff), 4 CONFADD <- enable | (v & 0xffff00) | (b1 & 0xfc).
# The first kind byte's bit 0 runs the firmware set-up (BARs assigned, PIRQs routed).
# Devices: 00.0 host bridge, 01.0 PIIX3, 03.0 and 07.0 test devices (BAR0 I/O 32, BAR1 mem
# 4 KiB, BAR2 64-bit mem 1 MiB; INTA/INTB).


class Pci:
    def __init__(self, firmware):
        self.b = bytearray()
        self.firmware = int(firmware)

    def op(self, kind, b1, size, value):
        if not self.b and (kind & 1) != self.firmware:
            kind += 5  # the same op with the parity that selects (or skips) firmware set-up
        self.b += bytes([kind, b1, size_code(size)]) + u32(value)

    def select(self, devfn, reg, bus=0):
        self.op(4, reg & 0xFC, 4, bus << 16 | devfn << 8)

    def rd(self, off=0, size=4):
        self.op(1, 4 + off, size, 0)

    def wr(self, value, off=0, size=4):
        self.op(0, 4 + off, size, value)

    def cfg_read(self, devfn, reg, size=4):
        self.select(devfn, reg)
        self.rd(reg & 3, size)

    def cfg_write(self, devfn, reg, value, size=4):
        self.select(devfn, reg)
        self.wr(value, reg & 3, size)

    def intx(self, dev, level):
        self.op(2, dev, 1, level)

    def bar_access(self, value, size=4):
        self.op(3, 0, size, value)

    def size_bar(self, devfn, reg):
        """pci_read_base(): save, write all-ones, read the size mask, restore."""
        self.select(devfn, reg)
        self.rd()
        self.wr(0xFFFFFFFF)
        self.rd()
        self.wr(0)


DEV_A, DEV_B, ISA = 0x18, 0x38, 0x08


def pci_seeds():
    seeds = {}

    # Linux's bus scan: vendor, header type and class of every slot function.
    p = Pci(firmware=False)
    p.op(1, 0, 4, 0)  # CONFADD read
    p.op(0, 0, 4, 0x80000000)
    p.op(1, 0, 4, 0)
    for devfn in range(0, 0x48, 8):
        p.cfg_read(devfn, 0x00)
        p.cfg_read(devfn, 0x0E, 1)
        p.cfg_read(devfn, 0x08)
    p.cfg_read(0x19, 0x00)  # function 1 of slot 3
    p.select(0x00, 0x00, bus=1)
    p.rd()
    for reg in (0x04, 0x06, 0x2C, 0x34, 0x3C, 0x3D):
        p.cfg_read(DEV_A, reg, 2 if reg in (0x04, 0x06) else 1)
    seeds["linux-scan"] = p.b

    # BAR sizing and placement by the OS itself, then decoding through the BAR windows.
    p = Pci(firmware=False)
    p.cfg_write(DEV_A, 0x04, 0x0000, 2)  # decoding off while sizing
    for reg in range(0x10, 0x28, 4):
        p.size_bar(DEV_A, reg)
    p.size_bar(DEV_A, 0x30)  # expansion ROM
    p.cfg_write(DEV_A, 0x10, 0x0000C101)  # I/O 0xc100
    p.cfg_write(DEV_A, 0x14, 0xE0000000)  # 4 KiB at 0xe0000000
    p.cfg_write(DEV_A, 0x18, 0xE0100004)  # 64-bit 1 MiB at 0xe0100000
    p.cfg_write(DEV_A, 0x1C, 0x00000000)
    p.cfg_write(DEV_A, 0x04, 0x0007, 2)
    for v in (0x100, 0x11F, 0x100FF0, 0x180000):
        p.bar_access(v, 4)
        p.bar_access(v, 1)
    p.cfg_write(DEV_A, 0x1C, 0x00000001)  # 64-bit BAR above 4 GiB
    p.bar_access(0x100000)
    p.cfg_write(DEV_A, 0x1C, 0x00000000)
    p.cfg_write(DEV_B, 0x10, 0x0000C101)  # overlapping I/O BARs
    p.cfg_write(DEV_B, 0x04, 0x0001, 2)
    p.bar_access(0x100)
    p.cfg_write(DEV_A, 0x04, 0x0000, 2)
    p.bar_access(0x100)
    p.cfg_write(DEV_A, 0x10, 0xFFFFFFFF)
    p.cfg_write(DEV_A, 0x04, 0x0003, 2)
    seeds["bar-sizing"] = p.b

    # Firmware-assigned resources: BARs, interrupt line/pin, INTx routing through PIRQRC.
    p = Pci(firmware=True)
    p.cfg_read(DEV_A, 0x3C, 2)
    for reg in range(0x10, 0x20, 4):
        p.cfg_read(DEV_A, reg)
        p.cfg_read(DEV_B, reg)
    p.bar_access(0x0000)  # both windows' first BARs
    p.bar_access(0x0020)
    p.bar_access(0x1000)
    p.intx(0, 1)
    p.cfg_read(DEV_A, 0x06, 2)  # interrupt status
    p.intx(1, 1)
    p.cfg_write(DEV_A, 0x04, 0x0407, 2)  # INTx disable
    p.cfg_write(DEV_A, 0x04, 0x0007, 2)
    p.cfg_read(ISA, 0x60)
    p.cfg_write(ISA, 0x60, 0x0B0A0B0A)  # re-route PIRQs
    p.cfg_write(ISA, 0x60, 0x0580, 2)  # PIRQA disabled, PIRQB to IRQ5
    p.cfg_write(ISA, 0x62, 0x08, 1)  # reserved IRQ 8
    p.cfg_write(ISA, 0x63, 0x0D, 1)  # reserved IRQ 13
    p.cfg_write(ISA, 0x60, 0x80808080)
    p.intx(0, 0)
    p.intx(1, 0)
    p.intx(0, 0)
    p.cfg_write(ISA, 0x60, 0x0A0A0A0A)
    p.cfg_write(DEV_A, 0x3C, 0x05, 1)
    p.cfg_write(DEV_A, 0x3D, 0x04, 1)  # pin is read-only
    seeds["firmware-intx"] = p.b

    # Odd accesses: CONFADD by byte/word, disabled CONFADD, misaligned CONFDATA, 8-byte
    # sizes, read-only identity registers, and status write-1-to-clear.
    p = Pci(firmware=True)
    p.op(0, 0, 1, 0x80)
    p.op(0, 1, 1, 0x06)  # 0xcf9, not ours
    p.op(0, 0, 2, 0x8000)
    p.op(1, 0, 2, 0)
    p.op(0, 0, 4, 0x00001800)  # enable bit clear
    p.rd()
    p.op(0, 0, 4, 0x7F001803)  # reserved bits
    p.op(1, 0, 4, 0)
    p.select(DEV_A, 0x00)
    p.rd(1, 1)
    p.rd(2, 2)
    p.rd(3, 1)
    p.rd(1, 2)
    p.rd(2, 4)
    p.rd(0, 8)
    p.wr(0x12345678, 0, 8)
    p.wr(0xFFFF, 3, 2)
    p.cfg_write(0x00, 0x00, 0xFFFFFFFF)  # vendor/device: read-only
    p.cfg_read(0x00, 0x00)
    p.cfg_write(DEV_A, 0x04, 0xFFFF0000)  # status write-1-to-clear
    p.cfg_read(DEV_A, 0x04)
    p.cfg_write(DEV_A, 0xFC, 0xFFFFFFFF)
    p.cfg_read(DEV_A, 0xFC)
    p.select(0xFF, 0x00)
    p.rd()
    seeds["odd-accesses"] = p.b
    return seeds


# ---------------------------------------------------------------------------------------------
# linux_boot_fuzz: the input is a bzImage for a 4 MiB guest; odd lengths also get a 6 KiB
# initrd. Boot protocol: Documentation/arch/x86/boot.rst.


def bzimage(version, setup_sects=1, kernel_len=0x400, relocatable=True, pref=0x100000,
            align=0x200000, init_size=0x100000, initrd_max=0x37FFFFFF, cmdline_size=0x7FF,
            odd=False):
    setup = max(setup_sects, 1) if setup_sects else 4
    img = bytearray((setup + 1) * 512 + kernel_len + (1 if odd else 0))
    hdr_end = 0x268 if version >= 0x020A else 0x23C
    img[0x1F1] = setup_sects
    img[0x1FE:0x200] = u16(0xAA55)
    img[0x200] = 0xEB
    img[0x201] = hdr_end - 0x202
    img[0x202:0x206] = b"HdrS"
    img[0x206:0x208] = u16(version)
    img[0x211] = 0x01  # LOADED_HIGH
    img[0x214:0x218] = u32(0x100000)
    img[0x22C:0x230] = u32(initrd_max)
    img[0x230:0x234] = u32(align)
    img[0x234] = 1 if relocatable else 0
    img[0x238:0x23C] = u32(cmdline_size)
    if version >= 0x020A:
        img[0x258:0x260] = u64(pref)
        img[0x260:0x264] = u32(init_size)
    # A recognisable protected-mode start: cld; cli; then a short loop.
    off = (setup + 1) * 512
    img[off:off + 4] = bytes([0xFC, 0xFA, 0xEB, 0xFE])
    return bytes(img)


def linux_seeds():
    seeds = {}
    for odd in (False, True):
        tag = "-initrd" if odd else ""
        seeds["v2.06" + tag] = bzimage(0x0206, odd=odd)
        seeds["v2.10-fixed" + tag] = bzimage(0x020A, relocatable=False, init_size=0x200000,
                                             odd=odd)
        seeds["v2.12-reloc" + tag] = bzimage(0x020C, setup_sects=0, odd=odd)
        seeds["v2.15-reloc" + tag] = bzimage(0x020F, setup_sects=2, kernel_len=0x800, odd=odd)
    # The initrd fits only between the loaded image and the runtime address.
    seeds["v2.15-initrd-gap"] = bzimage(0x020F, init_size=0x1FF000, odd=True)
    # Limits the loader enforces: initrd_addr_max, cmdline_size, init_size, alignment.
    seeds["v2.15-initrd-max-low"] = bzimage(0x020F, initrd_max=0x1FFFFF, odd=True)
    seeds["v2.15-cmdline-short"] = bzimage(0x020F, cmdline_size=8)
    seeds["v2.15-too-big"] = bzimage(0x020F, init_size=0x01000000)
    seeds["v2.15-bad-align"] = bzimage(0x020F, align=0x30000)
    seeds["v2.04-old"] = bzimage(0x0204)
    return seeds


# ---------------------------------------------------------------------------------------------
# multiboot_fuzz: the input is a Multiboot v1 kernel for a 4 MiB guest; odd lengths also get a
# 6 KiB module. Multiboot Specification 0.6.96, section 3.1.


def mb_header(flags, addrs=None):
    magic = 0x1BADB002
    h = u32(magic) + u32(flags) + u32(-(magic + flags))
    if addrs:
        h += b"".join(u32(a) for a in addrs)
    return h


def mb_aout(load=0x100000, hdr_off=0x20, size=0x200, load_end=0, bss=0x2000, entry_off=0x40,
            flags=0x00010003, odd=False):
    img = bytearray(size + (1 if odd else 0))
    hdr = mb_header(flags, [load + hdr_off, load, load + load_end if load_end else 0,
                            load + bss if bss else 0, load + entry_off])
    img[hdr_off:hdr_off + len(hdr)] = hdr
    img[entry_off:entry_off + 4] = bytes([0xFA, 0xF4, 0xEB, 0xFD])  # cli; hlt; jmp
    return bytes(img)


def elf32(segments, entry, hdr_off=0x100, flags=0x00000003, size=0x400, extra_phdrs=(),
          odd=False):
    """segments: (file offset, vaddr, paddr, filesz, memsz); multiboot header at hdr_off."""
    phdrs = [(1,) + s for s in segments] + list(extra_phdrs)
    img = bytearray(size + (1 if odd else 0))
    img[0:16] = b"\x7fELF" + bytes([1, 1, 1]) + bytes(9)
    img[16:52] = (u16(2) + u16(3) + u32(1) + u32(entry) + u32(52) + u32(0) + u32(0) +
                  u16(52) + u16(32) + u16(len(phdrs)) + u16(40) + u16(0) + u16(0))
    for i, (ptype, off, vaddr, paddr, filesz, memsz) in enumerate(phdrs):
        img[52 + 32 * i:84 + 32 * i] = (u32(ptype) + u32(off) + u32(vaddr) + u32(paddr) +
                                        u32(filesz) + u32(memsz) + u32(5) + u32(0x1000))
    hdr = mb_header(flags)
    img[hdr_off:hdr_off + len(hdr)] = hdr
    return bytes(img)


def multiboot_seeds():
    seeds = {}
    for odd in (False, True):
        tag = "-module" if odd else ""
        seeds["aout" + tag] = mb_aout(odd=odd)
        seeds["aout-load-end" + tag] = mb_aout(load_end=0x180, bss=0, hdr_off=0x80,
                                               entry_off=0x100, odd=odd)
        seeds["elf-identity" + tag] = elf32([(0, 0x100000, 0x100000, 0x400, 0x3000)],
                                            entry=0x100200, odd=odd)
        # Higher-half kernel: vaddr 0xc0100000 loaded at paddr 1 MiB; text and data+bss.
        seeds["elf-higher-half" + tag] = elf32(
            [(0, 0xC0100000, 0x100000, 0x200, 0x200),
             (0x200, 0xC0101000, 0x101000, 0x200, 0x5000)],
            entry=0xC0100180, hdr_off=0xC0,
            extra_phdrs=[(4, 0x300, 0, 0, 0x10, 0x10), (1, 0, 0, 0, 0, 0)], odd=odd)
    # ELF64 with the address fields (bit 16): the a.out kludge takes precedence.
    img = bytearray(mb_aout(hdr_off=0x40, entry_off=0x60, size=0x200))
    img[0:6] = b"\x7fELF" + bytes([2, 1])
    seeds["elf64-aout"] = bytes(img)
    # The header deep inside the first 8 KiB, and a requirement we refuse (video mode).
    seeds["aout-deep-header"] = mb_aout(hdr_off=0x1FE0, entry_off=0x40, size=0x2010, bss=0x3000)
    seeds["video-required"] = mb_aout(flags=0x00010007)
    seeds["elf-overlaps-mbi"] = elf32([(0, 0x8000, 0x8000, 0x400, 0x2000)], entry=0x8000)
    return seeds


# ---------------------------------------------------------------------------------------------
# pvh_fuzz: the input is an ELF64 x86-64 kernel with the PVH entry note (owner "Xen", type 18,
# XEN_ELFNOTE_PHYS32_ENTRY) for a 4 MiB guest; odd lengths also get a 6 KiB initrd. Layout of a
# vmlinux in miniature: program headers, a PT_NOTE among other notes, text and data+bss segments.


def pad4(b):
    return b + bytes(-len(b) % 4)


def elf_note(name, ntype, desc):
    name = name.encode() + b"\0"
    return u32(len(name)) + u32(len(desc)) + u32(ntype) + pad4(name) + pad4(desc)


def pvh_elf(entry=0x100040, segments=None, entry_desc=4, extra_phdrs=(), odd=False):
    """segments: (type, file offset, paddr, filesz, memsz); notes at 0x180, data from 0x200."""
    notes = (elf_note("Xen", 6, b"linux\0") + elf_note("GNU", 3, bytes(20)) +
             elf_note("Xen", 18, u64(entry)[:entry_desc]))
    if segments is None:
        segments = [(1, 0x200, 0x100000, 0x200, 0x200),
                     (1, 0x400, 0x102000, 0x100, 0x3000)]
    phdrs = list(segments) + [(4, 0x180, 0, len(notes), len(notes))] + list(extra_phdrs)
    assert 64 + 56 * len(phdrs) <= 0x180
    img = bytearray(0x500 + (1 if odd else 0))
    img[0:16] = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
    img[16:64] = (u16(2) + u16(62) + u32(1) + u64(0xFFFFFFFF81000000) + u64(64) + u64(0) +
                  u32(0) + u16(64) + u16(56) + u16(len(phdrs)) + u16(64) + u16(0) + u16(0))
    for i, (ptype, off, paddr, filesz, memsz) in enumerate(phdrs):
        img[64 + 56 * i:120 + 56 * i] = (u32(ptype) + u32(7) + u64(off) +
                                         u64(paddr + 0xFFFFFFFF80000000) + u64(paddr) +
                                         u64(filesz) + u64(memsz) +
                                         u64(4 if ptype == 4 else 0x1000))
    img[0x180:0x180 + len(notes)] = notes
    # The entry: cli; hlt; jmp back.
    img[0x240:0x244] = bytes([0xFA, 0xF4, 0xEB, 0xFD])
    return bytes(img)


def pvh_seeds():
    seeds = {}
    for odd in (False, True):
        tag = "-initrd" if odd else ""
        seeds["vmlinux" + tag] = pvh_elf(odd=odd)
        # A 64-bit descriptor, as some kernels emit the note.
        seeds["entry-desc8" + tag] = pvh_elf(entry_desc=8, odd=odd)
    # Segments the loader skips or refuses: empty PT_LOAD, PT_GNU_STACK, below 1 MiB.
    seeds["other-phdrs"] = pvh_elf(extra_phdrs=[(1, 0, 0xFFFFF000, 0, 0),
                                                (0x6474E551, 0, 0, 0, 0)])
    seeds["below-1m"] = pvh_elf(segments=[(1, 0x200, 0x8000, 0x200, 0x200)])
    # The .bss reaches the top of RAM: no room left for the initrd.
    seeds["bss-to-top-initrd"] = pvh_elf(segments=[(1, 0x200, 0x100000, 0x200, 0x300000)],
                                         odd=True)
    return seeds


# ---------------------------------------------------------------------------------------------
# lapic_fuzz: opcode low nibble -> 0/1 write [slot][u32], 2 read [slot], 3 message [mode][vector]
# [level], 4 take pending (0x14: ack [vector]), 5 EOI, 6 clock [u16] (x1, x1000, x1e6 by bits
# 4-5), 7 APIC base (bits 4-5: default, EN clear, relocated, [u64]), 8 LINT0 (bit 4), 9 events,
# 10 CR8 [v], 11 match [dest][logical], 12 INIT (0x1c: reset), 13 enable [spurious vector],
# 14 hot register [index][u32]. Register slot = offset / 16.


class Lapic:
    def __init__(self):
        self.b = bytearray()

    def write(self, off, value):
        self.b += bytes([0, off // 16]) + u32(value)

    def read(self, off):
        self.b += bytes([2, off // 16])

    def accept(self, mode, vector, level=0):
        self.b += bytes([3, mode, vector, level])

    def take(self):
        self.b += bytes([4])

    def ack(self, vector):
        self.b += bytes([0x14, vector])

    def eoi(self):
        self.b += bytes([5])

    def advance(self, ns):
        if ns < 0x10000:
            self.b += bytes([0x06]) + u16(ns)
        elif ns // 1000 < 0x10000:
            self.b += bytes([0x16]) + u16(ns // 1000)
        else:
            self.b += bytes([0x26]) + u16(ns // 1000000)

    def base(self, which, value=0):
        self.b += bytes([0x07 | which << 4]) + (u64(value) if which == 3 else b"")

    def lint0(self, level):
        self.b += bytes([0x08 | level << 4])

    def events(self):
        self.b += bytes([0x39])

    def cr8(self, v):
        self.b += bytes([10, v])

    def init(self):
        self.b += bytes([12])

    def enable(self, spurious=0xFF):
        self.b += bytes([13, spurious])

    def linux_setup(self):
        """setup_local_APIC() on the BSP: flat logical mode, TPR 0, SVR, LINT0/1, error LVT."""
        self.read(0x30)
        self.write(0xE0, 0xFFFFFFFF)
        self.write(0xD0, 0x01000000)
        self.write(0x80, 0)
        self.write(0xF0, 0x1FF)
        self.write(0x350, 0x700)  # LINT0 ExtINT (virtual wire)
        self.write(0x360, 0x400)  # LINT1 NMI
        self.write(0x370, 0xFE)
        self.write(0x280, 0)
        self.write(0x280, 0)
        self.read(0x280)


def lapic_seeds():
    seeds = {}

    a = Lapic()
    a.linux_setup()
    # calibrate_APIC_clock(): periodic, masked, divide 16, count from all ones.
    a.write(0x3E0, 0x3)
    a.write(0x320, 0x300EC)
    a.write(0x380, 0xFFFFFFFF)
    for _ in range(4):
        a.advance(1000000)
        a.read(0x390)
    # lapic_next_event(): one-shot timer ticks.
    a.write(0x320, 0xEC)
    for count in (1000, 62500, 5):
        a.write(0x380, count)
        a.advance(count * 16)
        a.take()
        a.eoi()
    a.write(0x320, 0x200EC)  # periodic
    a.write(0x380, 10000)
    for _ in range(3):
        a.advance(160000)
        a.take()
        a.eoi()
    a.write(0x380, 0)
    seeds["linux-timer"] = a.b

    a = Lapic()
    a.linux_setup()
    a.accept(0, 0x31)
    a.accept(0, 0x52, 1)
    a.accept(1, 0x61)
    a.read(0x90)
    a.cr8(5)
    a.take()
    a.cr8(0)
    a.take()
    a.read(0xA0)
    a.take()
    a.eoi()
    a.eoi()
    a.write(0x80, 0x40)
    a.ack(0x31)
    a.write(0x80, 0)
    a.take()
    a.eoi()
    a.accept(0, 0x05)  # illegal
    a.accept(0, 0x41, 1)
    a.take()
    a.eoi()
    for off in (0x100, 0x180, 0x200, 0x280):
        a.read(off)
    seeds["priorities"] = a.b

    a = Lapic()
    a.linux_setup()
    # do_boot_cpu(): INIT assert, INIT de-assert, two SIPIs, then IPIs.
    a.write(0x310, 0x01000000)
    a.write(0x300, 0xC500)
    a.write(0x300, 0x8500)
    a.write(0x300, 0x069A)
    a.write(0x300, 0x069A)
    a.write(0x300, 0x000C00FB)  # all but self
    a.write(0x300, 0x000800FC)  # all including self
    a.write(0x300, 0x000400FD)  # self
    a.write(0x300, 0x0400)      # NMI
    a.write(0x310, 0x03000000)
    a.write(0x300, 0x08F0)      # logical
    a.take()
    a.eoi()
    a.accept(5, 0)
    a.accept(6, 0x9A)
    a.events()
    seeds["ap-startup"] = a.b

    a = Lapic()
    a.lint0(1)
    a.enable(0xA7)
    a.write(0x350, 0x700)
    a.lint0(0)
    a.lint0(1)
    a.events()
    a.write(0x350, 0x8033)  # fixed, level
    a.lint0(0)
    a.lint0(1)
    a.take()
    a.eoi()
    a.write(0xF0, 0xFF)     # software disable
    a.accept(0, 0x40)
    a.write(0x320, 0x40)
    a.base(1)               # hardware disable
    a.lint0(0)
    a.lint0(1)
    a.events()
    a.base(2)               # relocated, enabled
    a.enable()
    a.base(3, 0xFEE00C00)   # x2APIC: refused
    a.base(0)
    a.accept(7, 0)
    a.events()
    a.init()
    seeds["disable"] = a.b

    a = Lapic()
    a.enable()
    a.write(0x370, 0xFE)
    for off in (0x0, 0x40, 0x2F0, 0x3F0):
        a.read(off)
        a.write(0x280, 0)
        a.read(0x280)
    a.take()
    a.write(0x300, 0x0F)     # send illegal vector
    a.write(0x370, 0x03)     # illegal error vector
    a.write(0x280, 0)
    a.read(0x10)
    a.write(0x3E0, 0xB)
    a.write(0x320, 0x0F)
    a.write(0x380, 10)
    a.advance(100)
    seeds["errors"] = a.b
    return seeds


# ---------------------------------------------------------------------------------------------
# jit_fuzz: [flags][8 register choices: RAX RCX RDX RBX RBP RSI RDI R8][guest code at 0x10000].
# A register choice b is (b & 7) a kind (0 small number, 1 data pointer, 2 stack, 3 MMIO,
# 4 absent page, 5 near the non-canonical hole, 6 near -1, 7 high bits) and b >> 3 an offset.


def jit_input(code, flags=0, regs=(0, 0, 0, 0, 0, 1, 1 | 8, 0)):
    return bytes([flags]) + bytes(regs) + bytes(code)


def jit_seeds():
    return {
        # xor eax,eax; mov ecx,64; loop: add rax,[rsi]; add rsi,8; dec ecx; jnz loop; hlt
        "sum-loop": jit_input(b"\x31\xc0\xb9\x40\x00\x00\x00\x48\x03\x06\x48\x83\xc6\x08"
                              b"\xff\xc9\x75\xf5\xf4"),
        # the same loop over the MMIO page
        "mmio-loop": jit_input(b"\x31\xc0\xb9\x40\x00\x00\x00\x48\x03\x06\x48\x83\xc6\x08"
                               b"\xff\xc9\x75\xf5\xf4", regs=(0, 0, 0, 0, 0, 3, 1, 0)),
        # cmp rax,rbx; mov rcx,[rsi]; lea rdx,[rcx+rax*2+5]; mov [rsi+8],rdx; jl +6; ...
        "cmp-jcc": jit_input(b"\x48\x39\xd8\x48\x8b\x0e\x48\x8d\x54\x41\x05\x48\x89\x56\x08"
                             b"\x7c\x06\xbf\x01\x00\x00\x00\xf4\xbf\x02\x00\x00\x00\xf4",
                             regs=(6, 0, 0, 5, 0, 1, 1, 0)),
        # clc; loop: mov rax,[rdi+rdx*8]; adc [rsi+rdx*8],rax; inc rdx; dec ecx; jnz; setc al
        "adc-loop": jit_input(b"\xf8\x48\x8b\x04\xd7\x48\x11\x04\xd6\x48\xff\xc2\xff\xc9"
                              b"\x75\xf1\x0f\x92\xc0\xf4", regs=(0, 0x20, 0, 0, 0, 1, 1 | 0x40, 0)),
        # mov edx,64; call f; dec edx; jnz; hlt; f: push rbx; add rax,rdx; pop rbx; ret
        "call-ret": jit_input(b"\xba\x40\x00\x00\x00\xe8\x05\x00\x00\x00\xff\xca\x75\xf7"
                              b"\xf4\x53\x48\x01\xd0\x5b\xc3"),
        # mov dword [rip+1],100; mov eax,1; hlt (a store over the next instruction)
        "smc-next": jit_input(b"\xc7\x05\x01\x00\x00\x00\x64\x00\x00\x00\xb8\x01\x00\x00\x00"
                              b"\xf4"),
        # mov ecx,32; loop: add rax,imm32; inc dword [rip-10]; dec ecx; jnz; hlt
        "smc-loop": jit_input(b"\xb9\x20\x00\x00\x00\x48\x05\x01\x00\x00\x00\xff\x05\xf6\xff"
                              b"\xff\xff\xff\xc9\x75\xf0\xf4"),
        # cmp; shl rdx,cl (cl 0); jb; a load from the absent page in the middle of a block
        "shift-fault": jit_input(b"\x48\x39\xd8\x48\xd3\xe2\x72\x00\x48\x83\xc3\x01\x48\x8b\x07"
                                 b"\xf4", regs=(0x08, 0, 0, 0x10, 0, 1, 4, 0)),
    }


GENERATORS = {
    "pic": pic_seeds,
    "ioapic": ioapic_seeds,
    "pit": pit_seeds,
    "cmos": cmos_seeds,
    "uart": uart_seeds,
    "i8042": i8042_seeds,
    "acpi_pm": acpi_seeds,
    "pci": pci_seeds,
    "linux_boot": linux_seeds,
    "multiboot": multiboot_seeds,
    "pvh": pvh_seeds,
    "lapic": lapic_seeds,
    "jit": jit_seeds,
}


def main(argv):
    outdir = argv[0] if argv else os.path.dirname(os.path.abspath(__file__))
    for name, gen in GENERATORS.items():
        d = os.path.join(outdir, name)
        os.makedirs(d, exist_ok=True)
        for what, data in sorted(gen().items()):
            with open(os.path.join(d, "hand-" + what), "wb") as f:
                f.write(bytes(data))


if __name__ == "__main__":
    main(sys.argv[1:])
