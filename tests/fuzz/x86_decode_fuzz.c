/*
 * libFuzzer harness for the x86 decoder. Input: one byte selecting the mode, then the bytes to
 * decode, copied into a buffer of exactly that size so that ASan catches any read past avail.
 * Checks: the result is a length 1..15 or one of the three error codes; a decoded length does
 * not exceed avail; decoding exactly len bytes gives the same instruction, and fewer bytes give
 * "need more" (the length never depends on bytes after the instruction).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hostvisor/x86_decode.h"

static void check(int cond)
{
	if (!cond)
		__builtin_trap();
}

static void check_prefix_stable(const uint8_t *data, int len, enum x86_mode mode,
				const struct x86_insn *full)
{
	struct x86_insn again;
	uint8_t *exact = malloc((size_t)len);

	check(exact != NULL);
	memcpy(exact, data, (size_t)len);
	check(x86_decode(exact, (size_t)len, mode, &again) == len);
	check(again.op == full->op && again.imm == full->imm && again.disp == full->disp);
	for (int n = 0; n < len; n++)
		check(x86_decode(exact, (size_t)n, mode, &again) == X86_DECODE_MORE);
	free(exact);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct x86_insn insn;

	if (size < 1)
		return 0;
	enum x86_mode mode = (enum x86_mode)(data[0] & 3);
	size_t n = size - 1;
	uint8_t *buf = malloc(n ? n : 1);

	check(buf != NULL);
	memcpy(buf, data + 1, n);
	int rc = x86_decode(n ? buf : NULL, n, mode, &insn);

	if (rc > 0) {
		check(rc <= X86_MAX_INSN_LEN && (size_t)rc <= n && insn.len == rc);
		check(insn.op > X86_OP_INVALID && insn.op < X86_OP_COUNT);
		check(insn.opsize == 1 || insn.opsize == 2 || insn.opsize == 4 || insn.opsize == 8);
		check(x86_op_name(insn.op)[0] != '?');
		check_prefix_stable(buf, rc, mode, &insn);
	} else {
		check(rc == X86_DECODE_MORE || rc == X86_DECODE_UD || rc == X86_DECODE_GP);
		check(rc != X86_DECODE_MORE || n < X86_MAX_INSN_LEN);
	}
	free(buf);
	return 0;
}
