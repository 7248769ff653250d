// SPDX-License-Identifier: MIT
/* Memory: protections, mapping types and flags, advice, remapping. */
#include "decode_int.h"

void p_prot(struct dec_ctx *c, int i) { out_flags(c->o, &xl_prot, (unsigned)c->a[i], "PROT_NONE"); }

/* MAP_PRIVATE|MAP_ANONYMOUS: the type (low bits), then the flags. */
void p_mflags(struct dec_ctx *c, int i)
{
	unsigned long long v = c->a[i], type_mask = 0;

	for (size_t k = 0; k < xl_map_type.n; k++)
		type_mask |= xl_map_type.e[k].v;
	out_value(c->o, &xl_map_type, v & type_mask, "%#llx /* MAP_??? */");
	if (v & ~type_mask) {
		out_str(c->o, "|");
		out_flags(c->o, &xl_map_flags, v & ~type_mask, NULL);
	}
}

void p_madvise(struct dec_ctx *c, int i) { out_value(c->o, &xl_madvise, (unsigned)c->a[i], "%#llx /* MADV_??? */"); }
void p_mremap(struct dec_ctx *c, int i) { out_flags(c->o, &xl_mremap_flags, (unsigned)c->a[i], "0"); }
void p_msync(struct dec_ctx *c, int i) { out_flags(c->o, &xl_msync_flags, (unsigned)c->a[i], "0"); }
void p_mlock(struct dec_ctx *c, int i) { out_flags(c->o, &xl_mlock_flags, (unsigned)c->a[i], "0"); }
