/* Scaffold: segment loading is being written. */
#include "exec_internal.h"

void x86_seg_load_real(struct x86_segment *s, uint16_t selector)
{
	s->selector = selector;
	s->base = (uint64_t)selector << 4;
}

void x86_seg_from_descriptor(struct x86_segment *s, uint16_t selector, uint64_t desc)
{
	(void)s;
	(void)selector;
	(void)desc;
}

int x86_read_descriptor(struct x86_exec *x, uint16_t selector, uint64_t *desc)
{
	(void)x;
	(void)selector;
	(void)desc;
	return X86_EXC_GP;
}

int x86_load_data_seg(struct x86_exec *x, enum x86_seg seg, uint16_t selector)
{
	(void)x;
	(void)seg;
	(void)selector;
	return X86_EXC_GP;
}
