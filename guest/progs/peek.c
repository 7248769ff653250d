// SPDX-License-Identifier: MIT
/* peek ADDR: read 8 bytes at ADDR and print them. Used by tests to show that
 * user space cannot read the GEARS region (it dies of SIGSEGV). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: peek ADDR\n");
		return 2;
	}
	volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)strtoull(argv[1], NULL, 0);

	printf("0x%016" PRIx64 "\n", *p);
	return 0;
}
