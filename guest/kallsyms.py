#!/usr/bin/env python3
"""Writes a System.map for a kernel ELF whose symbol table was stripped, from its kallsyms tables.

Debian's kernel package ships a placeholder System.map (the real one is in the 850 MB -dbg
package), but the kernel carries every symbol itself for /proc/kallsyms. scripts/kallsyms.c of
Linux 6.1 emits, in .rodata, each table aligned to 8 bytes:

  kallsyms_offsets        s32 per symbol (CONFIG_KALLSYMS_BASE_RELATIVE)
  kallsyms_relative_base  u64
  kallsyms_num_syms       u32
  kallsyms_names          per symbol: length (1 byte, or 2 when the first has bit 7 set),
                          then that many token indices; the expansion's first char is the type
  kallsyms_markers        u32 per 256 symbols: offset of symbol 256*i in kallsyms_names
  kallsyms_seqs_of_names  3 bytes per symbol (6.1+; absent in older kernels)
  kallsyms_token_table    256 NUL-terminated strings
  kallsyms_token_index    u16 per token: its offset in the token table

The token table is found by its run of one-character tokens "0".."9"; the other tables are found
by their sizes and checked against each other (token index against token table, markers against
decoded names, "_text" against the ELF's text segment). Nothing is guessed silently: any mismatch is
an error.

usage: kallsyms.py VMLINUX > System.map
"""

import struct
import sys

DIGIT_TOKENS = b"".join(bytes([c, 0]) for c in b"0123456789")
MIN_SYMS, MAX_SYMS = 1000, 4_000_000


def align8(x):
    return (x + 7) & ~7


class Kallsyms:
    def __init__(self, data):
        self.d = data

    def u32(self, off):
        return struct.unpack_from("<I", self.d, off)[0]

    def find_token_table(self):
        """Returns (start, tokens) of the token table whose token index checks out."""
        d = self.d
        hit = d.find(DIGIT_TOKENS)
        while hit != -1:
            found = self._token_table_at(hit)
            if found:
                return found
            hit = d.find(DIGIT_TOKENS, hit + 1)
        raise SystemExit("kallsyms: no token table found")

    def _token_table_at(self, digit0):
        d = self.d
        # Walk back over the 0x30 tokens before "0".
        start = digit0
        for _ in range(0x30):
            prev = d.rfind(b"\0", 0, start - 1)
            if prev < 0:
                return None
            start = prev + 1
        tokens, pos = [], start
        for _ in range(256):
            end = d.find(b"\0", pos)
            if end < 0 or end - pos > 64:
                return None
            tokens.append(d[pos:end])
            pos = end + 1
        index = struct.unpack_from("<256H", d, align8(pos))
        offset = 0
        for tok, idx in zip(tokens, index):
            if idx != offset:
                return None
            offset += len(tok) + 1
        self.token_table, self.tokens = start, tokens
        return start, tokens

    def _names_end(self, names, count):
        """Decodes the lengths of count names from offset names; returns the end or None."""
        d, pos, limit = self.d, names, len(self.d)
        for _ in range(count):
            if pos >= limit:
                return None
            n = d[pos]
            pos += 1
            if n & 0x80:
                n = (n & 0x7F) | (d[pos] << 7)
                pos += 1
            if n == 0:
                return None
            pos += n
        return pos

    def find_tables(self):
        """Finds num_syms, names and markers below the token table."""
        tt = self.token_table
        for with_seqs in (True, False):
            for pos in range(tt - 8, max(0, tt - (64 << 20)), -8):
                num = self.u32(pos)
                if not MIN_SYMS <= num <= MAX_SYMS:
                    continue
                if self._check_layout(pos, num, with_seqs):
                    return
        raise SystemExit("kallsyms: kallsyms_num_syms/names/markers not found")

    def _check_layout(self, pos, num, with_seqs):
        tt = self.token_table
        seqs = tt - align8(3 * num) if with_seqs else tt
        nmarkers = (num + 255) // 256
        markers = seqs - align8(4 * nmarkers)
        names = pos + 8
        if markers <= names:
            return False
        marks = struct.unpack_from("<%dI" % nmarkers, self.d, markers)
        if marks[0] != 0 or any(b <= a for a, b in zip(marks, marks[1:])):
            return False
        end = self._names_end(names, num)
        if end is None or align8(end) != markers:
            return False
        # Every 256th name starts where its marker says.
        pos256 = names
        for i in range(1, nmarkers):
            pos256 = self._names_end(pos256, 256)
            if pos256 - names != marks[i]:
                return False
        self.num, self.names = num, names
        self.relative_base = struct.unpack_from("<Q", self.d, pos - 8)[0]
        self.offsets = pos - 8 - align8(4 * num)
        return True

    def symbols(self):
        d, tokens = self.d, self.tokens
        offs = struct.unpack_from("<%di" % self.num, d, self.offsets)
        pos = self.names
        for i in range(self.num):
            n = d[pos]
            pos += 1
            if n & 0x80:
                n = (n & 0x7F) | (d[pos] << 7)
                pos += 1
            name = b"".join(tokens[t] for t in d[pos : pos + n]).decode("ascii", "replace")
            pos += n
            # x86-64 uses KALLSYMS_ABSOLUTE_PERCPU: non-negative offsets are absolute (per-cpu
            # symbols), negative ones count down from relative_base.
            off = offs[i]
            addr = off if off >= 0 else self.relative_base - 1 - off
            yield addr, name[0], name[1:]


def text_start(data):
    """Virtual address of the first executable PT_LOAD of an ELF64 image."""
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise SystemExit("kallsyms: not an ELF64 file")
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        p_type, p_flags, _, p_vaddr = struct.unpack_from("<IIQQ", data, phoff + i * phentsize)
        if p_type == 1 and p_flags & 1:
            return p_vaddr
    raise SystemExit("kallsyms: no executable segment")


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__.strip().splitlines()[-1])
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    ks = Kallsyms(data)
    ks.find_token_table()
    ks.find_tables()
    syms = list(ks.symbols())
    text = dict((name, addr) for addr, _, name in syms).get("_text")
    if text != text_start(data):
        raise SystemExit("kallsyms: _text is %s, the ELF text starts at %#x"
                         % (hex(text) if text else "missing", text_start(data)))
    out = sys.stdout
    for addr, kind, name in sorted(syms, key=lambda s: s[0]):
        out.write("%016x %s %s\n" % (addr, kind, name))


if __name__ == "__main__":
    main()
