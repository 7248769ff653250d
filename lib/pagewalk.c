// SPDX-License-Identifier: MIT
/*
 * Guest-virtual memory: a software walk of the guest's x86-64 page tables (4- or
 * 5-level), done the way the MMU does it, and copies built on top of it.
 *
 * The tables are live guest memory, so each entry is loaded once (an 8-byte
 * atomic load: no torn or re-fetched values) and everything derived from it is
 * checked before use. The walk has a fixed depth, so tables that point back at
 * themselves (recursive mappings) are just followed like the hardware does.
 */
#include <inttypes.h>

#include "internal.h"

#define PAGE_SHIFT	12
#define PAGE_SIZE	(1ull << PAGE_SHIFT)
/* Physical-address field of an entry, CR3 included: bits 12..51 (MAXPHYADDR 52). */
#define PT_ADDR_MASK	0x000ffffffffff000ull
/*
 * Bits that must be 0 in a large-page leaf, between PAT (bit 12) and the page
 * address. Bits 52..62 are not here on purpose: they are ignored or protection
 * keys, and guests do store software bits there.
 */
#define PDE_2M_RSVD	0x00000000001fe000ull	/* bits 13..20 */
#define PDPTE_1G_RSVD	0x000000003fffe000ull	/* bits 13..29 */

static const char *const level_name[] = { "?", "PTE", "PDE", "PDPTE", "PML4E", "PML5E" };

/* State of one walk, kept together so error messages can name the entry. */
struct walk {
	const struct gears_mem *m;
	uint64_t va;
	uint64_t table;		/* gpa of the table being indexed */
	unsigned int index;	/* entry index in that table */
	int level;		/* 5..1 */
	int levels;		/* 4 or 5 */
	uint64_t entry;
	uint64_t cr3;
	uint64_t parent_table;	/* where the entry pointing at `table` lives */
	unsigned int parent_index;
};

static bool va_canonical(uint64_t va, int levels)
{
	int unused = 64 - (levels == 5 ? 57 : 48);

	return (uint64_t)((int64_t)(va << unused) >> unused) == va;
}

/* Load entry w->index of table w->table; -EFAULT names the entry that pointed there. */
static int walk_load(struct walk *w)
{
	uint64_t gpa = w->table + w->index * 8ull;
	const uint64_t *p = gears_mem__ptr(w->m, gpa, sizeof(*p));

	if (p) {
		w->entry = __atomic_load_n(p, __ATOMIC_RELAXED);
		return 0;
	}
	if (w->level == w->levels)
		return gears_err(EFAULT, "translating va 0x%" PRIx64 ": CR3 0x%" PRIx64
				 " points outside guest RAM (0x%" PRIx64 ")", w->va, w->cr3,
				 w->table);
	return gears_err(EFAULT, "translating va 0x%" PRIx64 ": %s %u of table at gpa 0x%" PRIx64
			 " points outside guest RAM (0x%" PRIx64 ")", w->va,
			 level_name[w->level + 1], w->parent_index, w->parent_table, w->table);
}

/* Is entry w->entry at level w->level a leaf (2 MiB / 1 GiB page, or a PTE)? */
static int walk_leaf_kind(const struct walk *w, bool *leaf)
{
	uint64_t rsvd;

	*leaf = w->level == 1;
	if (w->level == 1 || !(w->entry & GEARS_PTE_PS))
		return 0;
	if (w->level >= 4)
		return gears_err(EIO, "translating va 0x%" PRIx64 ": %s %u of table at gpa 0x%"
				 PRIx64 " (0x%016" PRIx64 ") has the reserved PS bit set", w->va,
				 level_name[w->level], w->index, w->table, w->entry);
	rsvd = w->level == 3 ? PDPTE_1G_RSVD : PDE_2M_RSVD;
	if (w->entry & rsvd)
		return gears_err(EIO, "translating va 0x%" PRIx64 ": %s %u of table at gpa 0x%"
				 PRIx64 " (0x%016" PRIx64 ") has reserved bits set for a %s page",
				 w->va, level_name[w->level], w->index, w->table, w->entry,
				 w->level == 3 ? "1 GiB" : "2 MiB");
	*leaf = true;
	return 0;
}

/* Fill in x for the leaf entry the walk stopped at. */
static int walk_finish(const struct walk *w, struct gears_xlate *x)
{
	uint64_t size = 1ull << (PAGE_SHIFT + 9 * (w->level - 1));

	x->level = w->level;
	x->page_size = size;
	x->pte = w->entry;
	x->pte_gpa = w->table + w->index * 8ull;
	x->gpa = (w->entry & PT_ADDR_MASK & ~(size - 1)) | (w->va & (size - 1));
	/* The translation is still reported: the caller may want the MMIO address. */
	if (!gears_mem__valid(w->m, x->gpa, 1))
		return gears_err(EFAULT, "translating va 0x%" PRIx64 ": %s %u of table at gpa 0x%"
				 PRIx64 " maps it to gpa 0x%" PRIx64 ", outside guest RAM", w->va,
				 level_name[w->level], w->index, w->table, x->gpa);
	return 0;
}

int gears_pt__xlate(const struct gears_mem *m, uint64_t cr3, int levels, uint64_t va,
		    struct gears_xlate *x)
{
	struct gears_xlate tmp;
	struct walk w = { .m = m, .va = va, .cr3 = cr3, .levels = levels,
			  .table = cr3 & PT_ADDR_MASK };
	bool leaf = false;
	int err;

	if (!x)
		x = &tmp;
	memset(x, 0, sizeof(*x));
	if (levels != 4 && levels != 5)
		return gears_err(EINVAL, "translating va 0x%" PRIx64 ": %d paging levels (4 or 5)",
				 va, levels);
	if (!va_canonical(va, levels))
		return gears_err(EINVAL, "va 0x%" PRIx64 " is not canonical for %d-level paging",
				 va, levels);
	x->writable = x->user = true;
	for (w.level = levels; w.level >= 1; w.level--) {
		w.index = (va >> (PAGE_SHIFT + 9 * (w.level - 1))) & 511;
		err = walk_load(&w);
		if (err)
			return err;
		if (!(w.entry & GEARS_PTE_P)) {
			x->level = w.level;
			return gears_err(ENOENT, "va 0x%" PRIx64 " not mapped: %s %u of table"
					 " at gpa 0x%" PRIx64 " not present (0x%" PRIx64 ")", va,
					 level_name[w.level], w.index, w.table, w.entry);
		}
		x->writable &= !!(w.entry & GEARS_PTE_RW);
		x->user &= !!(w.entry & GEARS_PTE_US);
		x->nx |= !!(w.entry & GEARS_PTE_NX);
		err = walk_leaf_kind(&w, &leaf);
		if (err)
			return err;
		if (leaf)
			return walk_finish(&w, x);
		w.parent_table = w.table;
		w.parent_index = w.index;
		w.table = w.entry & PT_ADDR_MASK;
	}
	return gears_err(EIO, "translating va 0x%" PRIx64 ": walk ran out of levels", va);
}

/* Common argument checks for the copy helpers. */
static int vmem_check(uint64_t va, size_t len, const char *what)
{
	if (len > GEARS_MEM_MAX_XFER)
		return gears_err(E2BIG, "%s 0x%zx bytes at va 0x%" PRIx64 ": more than the 0x%x"
				 " allowed", what, len, va, GEARS_MEM_MAX_XFER);
	/* Linear addresses do not wrap from the top of the address space to 0. */
	if (len && va + len - 1 < va)
		return gears_err(EFAULT, "%s 0x%zx bytes at va 0x%" PRIx64 ": wraps around the"
				 " address space", what, len, va);
	return 0;
}

/* Bytes from va to the end of its page (of x->page_size), capped at len. */
static size_t chunk_len(uint64_t va, const struct gears_xlate *x, size_t len)
{
	uint64_t left = x->page_size - (va & (x->page_size - 1));

	return left < len ? (size_t)left : len;
}

int gears_vmem__read(const struct gears_mem *m, uint64_t cr3, int levels, uint64_t va,
		     void *buf, size_t len)
{
	struct gears_xlate x;
	size_t done = 0, n;
	int err;

	err = vmem_check(va, len, "reading");
	while (!err && done < len) {
		err = gears_pt__xlate(m, cr3, levels, va + done, &x);
		if (err)
			break;
		n = chunk_len(va + done, &x, len - done);
		err = gears_mem__read(m, x.gpa, (uint8_t *)buf + done, n);
		done += n;
	}
	return err;
}

/* One piece of a guest-virtual write: where it goes and which leaf maps it. */
struct wchunk {
	uint64_t gpa;
	uint64_t pte_gpa;
	size_t len;
};

/* Translate and check one chunk of a write at va; nothing is modified here. */
static int write_plan_one(const struct gears_mem *m, uint64_t cr3, int levels, uint64_t va,
			  size_t len, bool require_user_writable, struct wchunk *c)
{
	struct gears_xlate x;
	int err;

	err = gears_pt__xlate(m, cr3, levels, va, &x);
	if (err)
		return err;
	if (require_user_writable && !(x.user && x.writable))
		return gears_err(EACCES, "writing va 0x%" PRIx64 ": page is not user-writable"
				 " (user %d, writable %d; %s 0x%016" PRIx64 " at gpa 0x%"
				 PRIx64 ")",
				 va, x.user, x.writable, level_name[x.level], x.pte, x.pte_gpa);
	c->gpa = x.gpa;
	c->pte_gpa = x.pte_gpa;
	c->len = chunk_len(va, &x, len);
	if (!gears_mem__valid(m, c->gpa, c->len))
		return gears_err(EFAULT, "writing va 0x%" PRIx64 ": page at gpa 0x%" PRIx64
				 " runs out of guest RAM", va, c->gpa);
	return 0;
}

/*
 * Translate the whole range first, so that nothing is written unless every page
 * qualifies; then write to exactly the addresses that were checked.
 */
static int write_plan(const struct gears_mem *m, uint64_t cr3, int levels, uint64_t va,
		      size_t len, bool require_user_writable, struct wchunk *c, size_t *count)
{
	size_t done = 0;
	int err;

	for (*count = 0; done < len; (*count)++) {
		err = write_plan_one(m, cr3, levels, va + done, len - done,
				     require_user_writable, &c[*count]);
		if (err)
			return err;
		done += c[*count].len;
	}
	return 0;
}

/* Set A and D in a leaf the way the MMU does: atomically, the guest may be running. */
static void set_accessed_dirty(struct gears_mem *m, uint64_t pte_gpa)
{
	uint64_t *p = gears_mem__ptr(m, pte_gpa, sizeof(*p));
	const uint64_t ad = GEARS_PTE_A | GEARS_PTE_D;

	if (p && (__atomic_load_n(p, __ATOMIC_RELAXED) & ad) != ad)
		__atomic_fetch_or(p, ad, __ATOMIC_SEQ_CST);
}

int gears_vmem__write(struct gears_mem *m, uint64_t cr3, int levels, uint64_t va,
		      const void *buf, size_t len, bool require_user_writable)
{
	struct wchunk *c;
	size_t count, done = 0;
	int err;

	err = vmem_check(va, len, "writing");
	if (err || !len)
		return err;
	if (!gears_mem_writable(m))
		return gears_err(EROFS, "writing va 0x%" PRIx64 ": guest memory is read-only", va);
	/* A chunk per page touched: at most one more than the number of whole pages. */
	c = gears_calloc(len / PAGE_SIZE + 2, sizeof(*c));
	if (!c)
		return gears_err(ENOMEM, "writing 0x%zx bytes at va 0x%" PRIx64, len, va);
	err = write_plan(m, cr3, levels, va, len, require_user_writable, c, &count);
	for (size_t i = 0; !err && i < count; i++) {
		/* Dirty before the data lands, as the MMU does. */
		set_accessed_dirty(m, c[i].pte_gpa);
		err = gears_mem__write(m, c[i].gpa, (const uint8_t *)buf + done, c[i].len);
		done += c[i].len;
	}
	free(c);
	return err;
}

int gears_vmem__read_str(const struct gears_mem *m, uint64_t cr3, int levels, uint64_t va,
			 char *buf, size_t max)
{
	struct gears_xlate x;
	size_t done = 0, n;
	const char *nul;
	int err;

	if (!max)
		return gears_err(EINVAL, "reading string at va 0x%" PRIx64 ": no room for the NUL",
				 va);
	/* Only the length limit: the bytes after the NUL need not exist, nor wrap. */
	err = max > GEARS_MEM_MAX_XFER ? vmem_check(va, max, "reading string of up to") : 0;
	while (!err && done < max) {
		if (done && va + done == 0) {
			err = gears_err(EFAULT, "string at va 0x%" PRIx64 " runs past the top"
					" of the address space", va);
			break;
		}
		err = gears_pt__xlate(m, cr3, levels, va + done, &x);
		if (err)
			break;
		n = chunk_len(va + done, &x, max - done);
		err = gears_mem__read(m, x.gpa, buf + done, n);
		if (err)
			break;
		/* Search our copy, not guest memory: the guest may change it meanwhile. */
		nul = memchr(buf + done, '\0', n);
		if (nul)
			return (int)(nul - buf);
		done += n;
	}
	if (!err) {
		buf[max - 1] = '\0';
		return gears_err(ENAMETOOLONG, "string at va 0x%" PRIx64 " has no NUL in 0x%zx"
				 " bytes", va, max);
	}
	buf[done] = '\0';	/* done < max here */
	return err;
}
