/*
 * DSDT of the hostvisor PC (ACPI 6.3 section 5.2.11.1; ASL per section 19).
 *
 * The machine has one PCI root bridge with static APIC-mode interrupt routing and the ISA
 * devices of a PC behind the bridge at 00:01.0. There are no control methods with side effects:
 * everything here is a constant the OS reads, so the interpreter never touches device registers.
 * Compiled by iasl at build time into a C array (src/boot/meson.build) that acpi.c copies.
 */
DefinitionBlock ("dsdt.aml", "DSDT", 2, "HVISOR", "HOSTVISR", 1)
{
	/*
	 * Soft-off (section 7.4.2.6): {SLP_TYPa, SLP_TYPb, reserved, reserved}. The value must match
	 * ACPI_S5_SLP_TYP in include/hostvisor/acpi_pm.h, which the PM1a control block decodes.
	 */
	Name (\_S5, Package (0x04) { 0x05, 0x05, Zero, Zero })

	Scope (\_SB)
	{
		/* PCI root bridge (section 6.1.1, PCI Firmware Specification 3.2 section 4.1). */
		Device (PCI0)
		{
			/*
			 * A root bridge is found by _HID alone: section 6.1 says a device has _HID or
			 * _ADR, not both (iasl warns on both), so there is no _ADR here.
			 */
			Name (_HID, EisaId ("PNP0A03"))
			Name (_BBN, Zero)
			Name (_UID, Zero)

			/*
			 * What the bridge decodes: all buses, all I/O ports except the configuration
			 * mechanism #1 ports (which the bridge itself consumes), the legacy VGA window and
			 * the 32-bit PCI hole up to the I/O APIC at 0xfec00000.
			 */
			Name (_CRS, ResourceTemplate ()
			{
				WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
					0x0000, 0x0000, 0x00FF, 0x0000, 0x0100)
				IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08)
				WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
					0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8)
				WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
					0x0000, 0x0D00, 0xFFFF, 0x0000, 0xF300)
				DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable,
					ReadWrite, 0x00000000, 0x000A0000, 0x000BFFFF, 0x00000000,
					0x00020000)
				DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable,
					ReadWrite, 0x00000000, 0xC0000000, 0xFEBFFFFF, 0x00000000,
					0x3EC00000)
			})

			/*
			 * PCI interrupt routing (section 6.2.13), APIC mode: {address (slot << 16 |
			 * 0xffff), pin (0 = INTA#), source (Zero: a GSI, not a link device), GSI}. Slot S
			 * pin P goes to I/O APIC input 16 + ((S + P) & 3), the same swizzle the PCI host
			 * model (src/bus/pci.c) uses to raise its INTx lines.
			 */
			Name (_PRT, Package ()
			{
				Package () { 0x0001FFFF, 0, Zero, 17 },
				Package () { 0x0001FFFF, 1, Zero, 18 },
				Package () { 0x0001FFFF, 2, Zero, 19 },
				Package () { 0x0001FFFF, 3, Zero, 16 },
				Package () { 0x0002FFFF, 0, Zero, 18 },
				Package () { 0x0002FFFF, 1, Zero, 19 },
				Package () { 0x0002FFFF, 2, Zero, 16 },
				Package () { 0x0002FFFF, 3, Zero, 17 },
				Package () { 0x0003FFFF, 0, Zero, 19 },
				Package () { 0x0003FFFF, 1, Zero, 16 },
				Package () { 0x0003FFFF, 2, Zero, 17 },
				Package () { 0x0003FFFF, 3, Zero, 18 },
				Package () { 0x0004FFFF, 0, Zero, 16 },
				Package () { 0x0004FFFF, 1, Zero, 17 },
				Package () { 0x0004FFFF, 2, Zero, 18 },
				Package () { 0x0004FFFF, 3, Zero, 19 },
				Package () { 0x0005FFFF, 0, Zero, 17 },
				Package () { 0x0005FFFF, 1, Zero, 18 },
				Package () { 0x0005FFFF, 2, Zero, 19 },
				Package () { 0x0005FFFF, 3, Zero, 16 },
				Package () { 0x0006FFFF, 0, Zero, 18 },
				Package () { 0x0006FFFF, 1, Zero, 19 },
				Package () { 0x0006FFFF, 2, Zero, 16 },
				Package () { 0x0006FFFF, 3, Zero, 17 },
				Package () { 0x0007FFFF, 0, Zero, 19 },
				Package () { 0x0007FFFF, 1, Zero, 16 },
				Package () { 0x0007FFFF, 2, Zero, 17 },
				Package () { 0x0007FFFF, 3, Zero, 18 },
				Package () { 0x0008FFFF, 0, Zero, 16 },
				Package () { 0x0008FFFF, 1, Zero, 17 },
				Package () { 0x0008FFFF, 2, Zero, 18 },
				Package () { 0x0008FFFF, 3, Zero, 19 },
				Package () { 0x0009FFFF, 0, Zero, 17 },
				Package () { 0x0009FFFF, 1, Zero, 18 },
				Package () { 0x0009FFFF, 2, Zero, 19 },
				Package () { 0x0009FFFF, 3, Zero, 16 },
				Package () { 0x000AFFFF, 0, Zero, 18 },
				Package () { 0x000AFFFF, 1, Zero, 19 },
				Package () { 0x000AFFFF, 2, Zero, 16 },
				Package () { 0x000AFFFF, 3, Zero, 17 },
				Package () { 0x000BFFFF, 0, Zero, 19 },
				Package () { 0x000BFFFF, 1, Zero, 16 },
				Package () { 0x000BFFFF, 2, Zero, 17 },
				Package () { 0x000BFFFF, 3, Zero, 18 },
				Package () { 0x000CFFFF, 0, Zero, 16 },
				Package () { 0x000CFFFF, 1, Zero, 17 },
				Package () { 0x000CFFFF, 2, Zero, 18 },
				Package () { 0x000CFFFF, 3, Zero, 19 },
				Package () { 0x000DFFFF, 0, Zero, 17 },
				Package () { 0x000DFFFF, 1, Zero, 18 },
				Package () { 0x000DFFFF, 2, Zero, 19 },
				Package () { 0x000DFFFF, 3, Zero, 16 },
				Package () { 0x000EFFFF, 0, Zero, 18 },
				Package () { 0x000EFFFF, 1, Zero, 19 },
				Package () { 0x000EFFFF, 2, Zero, 16 },
				Package () { 0x000EFFFF, 3, Zero, 17 },
				Package () { 0x000FFFFF, 0, Zero, 19 },
				Package () { 0x000FFFFF, 1, Zero, 16 },
				Package () { 0x000FFFFF, 2, Zero, 17 },
				Package () { 0x000FFFFF, 3, Zero, 18 },
				Package () { 0x0010FFFF, 0, Zero, 16 },
				Package () { 0x0010FFFF, 1, Zero, 17 },
				Package () { 0x0010FFFF, 2, Zero, 18 },
				Package () { 0x0010FFFF, 3, Zero, 19 },
				Package () { 0x0011FFFF, 0, Zero, 17 },
				Package () { 0x0011FFFF, 1, Zero, 18 },
				Package () { 0x0011FFFF, 2, Zero, 19 },
				Package () { 0x0011FFFF, 3, Zero, 16 },
				Package () { 0x0012FFFF, 0, Zero, 18 },
				Package () { 0x0012FFFF, 1, Zero, 19 },
				Package () { 0x0012FFFF, 2, Zero, 16 },
				Package () { 0x0012FFFF, 3, Zero, 17 },
				Package () { 0x0013FFFF, 0, Zero, 19 },
				Package () { 0x0013FFFF, 1, Zero, 16 },
				Package () { 0x0013FFFF, 2, Zero, 17 },
				Package () { 0x0013FFFF, 3, Zero, 18 },
				Package () { 0x0014FFFF, 0, Zero, 16 },
				Package () { 0x0014FFFF, 1, Zero, 17 },
				Package () { 0x0014FFFF, 2, Zero, 18 },
				Package () { 0x0014FFFF, 3, Zero, 19 },
				Package () { 0x0015FFFF, 0, Zero, 17 },
				Package () { 0x0015FFFF, 1, Zero, 18 },
				Package () { 0x0015FFFF, 2, Zero, 19 },
				Package () { 0x0015FFFF, 3, Zero, 16 },
				Package () { 0x0016FFFF, 0, Zero, 18 },
				Package () { 0x0016FFFF, 1, Zero, 19 },
				Package () { 0x0016FFFF, 2, Zero, 16 },
				Package () { 0x0016FFFF, 3, Zero, 17 },
				Package () { 0x0017FFFF, 0, Zero, 19 },
				Package () { 0x0017FFFF, 1, Zero, 16 },
				Package () { 0x0017FFFF, 2, Zero, 17 },
				Package () { 0x0017FFFF, 3, Zero, 18 },
				Package () { 0x0018FFFF, 0, Zero, 16 },
				Package () { 0x0018FFFF, 1, Zero, 17 },
				Package () { 0x0018FFFF, 2, Zero, 18 },
				Package () { 0x0018FFFF, 3, Zero, 19 },
				Package () { 0x0019FFFF, 0, Zero, 17 },
				Package () { 0x0019FFFF, 1, Zero, 18 },
				Package () { 0x0019FFFF, 2, Zero, 19 },
				Package () { 0x0019FFFF, 3, Zero, 16 },
				Package () { 0x001AFFFF, 0, Zero, 18 },
				Package () { 0x001AFFFF, 1, Zero, 19 },
				Package () { 0x001AFFFF, 2, Zero, 16 },
				Package () { 0x001AFFFF, 3, Zero, 17 },
				Package () { 0x001BFFFF, 0, Zero, 19 },
				Package () { 0x001BFFFF, 1, Zero, 16 },
				Package () { 0x001BFFFF, 2, Zero, 17 },
				Package () { 0x001BFFFF, 3, Zero, 18 },
				Package () { 0x001CFFFF, 0, Zero, 16 },
				Package () { 0x001CFFFF, 1, Zero, 17 },
				Package () { 0x001CFFFF, 2, Zero, 18 },
				Package () { 0x001CFFFF, 3, Zero, 19 },
				Package () { 0x001DFFFF, 0, Zero, 17 },
				Package () { 0x001DFFFF, 1, Zero, 18 },
				Package () { 0x001DFFFF, 2, Zero, 19 },
				Package () { 0x001DFFFF, 3, Zero, 16 },
				Package () { 0x001EFFFF, 0, Zero, 18 },
				Package () { 0x001EFFFF, 1, Zero, 19 },
				Package () { 0x001EFFFF, 2, Zero, 16 },
				Package () { 0x001EFFFF, 3, Zero, 17 },
				Package () { 0x001FFFFF, 0, Zero, 19 },
				Package () { 0x001FFFFF, 1, Zero, 16 },
				Package () { 0x001FFFFF, 2, Zero, 17 },
				Package () { 0x001FFFFF, 3, Zero, 18 }
			})

			/* PCI-to-ISA bridge at 00:01.0 and the legacy devices it decodes. */
			Device (ISA)
			{
				Name (_ADR, 0x00010000)

				/* Keyboard controller (Intel 8042); the mouse port is absent. */
				Device (KBD)
				{
					Name (_HID, EisaId ("PNP0303"))
					Name (_CRS, ResourceTemplate ()
					{
						IO (Decode16, 0x0060, 0x0060, 0x01, 0x01)
						IO (Decode16, 0x0064, 0x0064, 0x01, 0x01)
						IRQNoFlags () {1}
					})
				}

				/* Real-time clock (MC146818). */
				Device (RTC)
				{
					Name (_HID, EisaId ("PNP0B00"))
					Name (_CRS, ResourceTemplate ()
					{
						IO (Decode16, 0x0070, 0x0070, 0x01, 0x02)
						IRQNoFlags () {8}
					})
				}

				/* Interval timer (8254). */
				Device (TMR)
				{
					Name (_HID, EisaId ("PNP0100"))
					Name (_CRS, ResourceTemplate ()
					{
						IO (Decode16, 0x0040, 0x0040, 0x01, 0x04)
						IRQNoFlags () {0}
					})
				}

				/* Cascaded interrupt controllers (8259A pair). */
				Device (PIC)
				{
					Name (_HID, EisaId ("PNP0000"))
					Name (_CRS, ResourceTemplate ()
					{
						IO (Decode16, 0x0020, 0x0020, 0x01, 0x02)
						IO (Decode16, 0x00A0, 0x00A0, 0x01, 0x02)
						IRQNoFlags () {2}
					})
				}

				/* Speaker (port B of the PC). */
				Device (SPKR)
				{
					Name (_HID, EisaId ("PNP0800"))
					Name (_CRS, ResourceTemplate ()
					{
						IO (Decode16, 0x0061, 0x0061, 0x01, 0x01)
					})
				}

				/* The four 16550A serial ports at their standard PC addresses. */
				Device (COM1)
				{
					Name (_HID, EisaId ("PNP0501"))
					Name (_UID, One)
					Name (_CRS, ResourceTemplate ()
					{
						IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08)
						IRQNoFlags () {4}
					})
				}

				Device (COM2)
				{
					Name (_HID, EisaId ("PNP0501"))
					Name (_UID, 0x02)
					Name (_CRS, ResourceTemplate ()
					{
						IO (Decode16, 0x02F8, 0x02F8, 0x01, 0x08)
						IRQNoFlags () {3}
					})
				}

				Device (COM3)
				{
					Name (_HID, EisaId ("PNP0501"))
					Name (_UID, 0x03)
					Name (_CRS, ResourceTemplate ()
					{
						IO (Decode16, 0x03E8, 0x03E8, 0x01, 0x08)
						IRQNoFlags () {4}
					})
				}

				Device (COM4)
				{
					Name (_HID, EisaId ("PNP0501"))
					Name (_UID, 0x04)
					Name (_CRS, ResourceTemplate ()
					{
						IO (Decode16, 0x02E8, 0x02E8, 0x01, 0x08)
						IRQNoFlags () {3}
					})
				}

				/*
				 * Motherboard resources (section 6.1.2 note on PNP0C02): ports that belong to
				 * no PNP device but must not be handed out: the ACPI PM and GPE blocks
				 * (include/hostvisor/acpi_pm.h), the POST diagnostic port and the 8259
				 * edge/level control registers. The reset control register 0xcf9 is not
				 * listed: it lies inside 0xcf8-0xcff, which the PCI root bridge claims.
				 */
				Device (MBRS)
				{
					Name (_HID, EisaId ("PNP0C02"))
					Name (_UID, One)
					Name (_CRS, ResourceTemplate ()
					{
						IO (Decode16, 0x0600, 0x0600, 0x01, 0x40)
						IO (Decode16, 0x0080, 0x0080, 0x01, 0x01)
						IO (Decode16, 0x04D0, 0x04D0, 0x01, 0x02)
					})
				}
			}
		}
	}
}
