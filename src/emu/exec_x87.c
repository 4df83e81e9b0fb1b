/* Scaffold: the x87 unit is being written. */
#include "exec_internal.h"

int x86_exec_x87(struct x86_exec *x)
{
	(void)x;
	return X86_EXEC_UNHANDLED;
}
