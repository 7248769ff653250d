// SPDX-License-Identifier: MIT
/*
 * Host-side loader for injected payloads: static-pie ELF files turned into a
 * flat image ready to run at a chosen guest address.
 *
 * Everything is decided by open/from_memory: the file is validated once and
 * reduced to a list of segments and a list of RELATIVE relocations, both
 * bounds-checked against the file and the image. gears_payload__image() then
 * only copies and patches, with no failure mode left but the caller's buffer
 * and base address. libelf reads the headers and tables (it handles alignment
 * and bounds of the raw chunks); the checks on what they say are ours, since a
 * well-formed ELF can still describe segments and relocations that would
 * write outside the image.
 */
#include <endian.h>
#include <fcntl.h>
#include <inttypes.h>
#include <gelf.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#include <gears/payload.h>

#define PL_PAGE		4096ull
#define PL_MAX_PHDRS	64	/* a real payload has 5-8 */

#ifndef DT_RELR
#define DT_RELR		36	/* glibc < 2.36 */
#endif

struct pl_seg {
	uint64_t off;		/* from the image start */
	uint64_t memsz;
	uint64_t foff;		/* in the file */
	uint64_t filesz;
	uint32_t flags;		/* PF_* */
};

struct pl_rel {
	uint64_t off;		/* of the 8-byte slot, from the image start */
	uint64_t addend;	/* link-time address the slot points to */
};

struct gears_payload {
	uint8_t *file;		/* the ELF file, ours */
	size_t file_len;
	uint64_t start;		/* link-time address of the image start */
	size_t size;
	uint64_t entry;		/* from the image start */
	struct pl_seg *seg;
	int nseg;
	struct pl_rel *rel;
	size_t nrel;
};

static uint64_t page_down(uint64_t v)
{
	return v & ~(PL_PAGE - 1);
}

/* Only for values far below 2^64 (offsets within an image). */
static uint64_t page_up(uint64_t v)
{
	return (v + PL_PAGE - 1) & ~(PL_PAGE - 1);
}

/* Is [off, off + len) inside a buffer of `size` bytes? Overflow-safe. */
static bool in_bounds(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/* File offset of the link-time range [va, va + len), which must lie in the
 * file-backed part of one PT_LOAD segment (tables read from the file, not bss). */
static int va_to_file(const struct gears_payload *p, uint64_t va, uint64_t len, uint64_t *foff)
{
	for (int i = 0; i < p->nseg; i++) {
		const struct pl_seg *s = &p->seg[i];
		uint64_t seg_va = p->start + s->off;

		if (va >= seg_va && in_bounds(va - seg_va, len, s->filesz)) {
			*foff = s->foff + (va - seg_va);
			return 0;
		}
	}
	return -1;
}

/* One PT_LOAD: checked against the file, the previous segments and the size limit. */
static int add_load(struct gears_payload *p, int i, const GElf_Phdr *ph)
{
	struct pl_seg *s;
	uint64_t end;

	if (ph->p_filesz > ph->p_memsz)
		return gears_err(EINVAL, "segment %d: p_filesz %#" PRIx64 " > p_memsz %#" PRIx64,
				 i, (uint64_t)ph->p_filesz, (uint64_t)ph->p_memsz);
	if (!in_bounds(ph->p_offset, ph->p_filesz, p->file_len))
		return gears_err(EINVAL, "segment %d: file bytes %#" PRIx64 "+%#" PRIx64
				 " past the end of the %zu-byte file", i, (uint64_t)ph->p_offset,
				 (uint64_t)ph->p_filesz, p->file_len);
	if (ph->p_vaddr > UINT64_MAX - ph->p_memsz)
		return gears_err(EINVAL, "segment %d: p_vaddr + p_memsz overflows", i);
	if (!ph->p_memsz)
		return 0;	/* occupies nothing */
	if (ph->p_flags & PF_W && ph->p_flags & PF_X)
		return gears_err(ENOEXEC, "segment %d is both writable and executable", i);
	if (!p->nseg) {
		p->start = page_down(ph->p_vaddr);
	} else {
		const struct pl_seg *prev = &p->seg[p->nseg - 1];

		/* The ELF spec orders PT_LOAD by address; overlap would let one
		 * segment's bss wipe another's bytes. */
		if (ph->p_vaddr < p->start + prev->off + prev->memsz)
			return gears_err(EINVAL, "segment %d: p_vaddr %#" PRIx64
					 " overlaps or precedes the previous segment", i,
					 (uint64_t)ph->p_vaddr);
	}
	end = ph->p_vaddr + ph->p_memsz - p->start;
	if (end > GEARS_PAYLOAD_MAX_SIZE || page_up(end) > GEARS_PAYLOAD_MAX_SIZE)
		return gears_err(EFBIG, "segment %d: image would span %#" PRIx64 " bytes, limit %#x",
				 i, end, GEARS_PAYLOAD_MAX_SIZE);
	s = &p->seg[p->nseg++];
	*s = (struct pl_seg){
		.off = ph->p_vaddr - p->start,
		.memsz = ph->p_memsz,
		.foff = ph->p_offset,
		.filesz = ph->p_filesz,
		.flags = ph->p_flags,
	};
	p->size = page_up(end);
	return 0;
}

/* mprotect works on pages: an executable page holding writable data would
 * make the payload fault on its first store. */
static int check_wx_pages(const struct gears_payload *p)
{
	for (int i = 0; i < p->nseg; i++) {
		const struct pl_seg *x = &p->seg[i];

		if (!(x->flags & PF_X))
			continue;
		for (int j = 0; j < p->nseg; j++) {
			const struct pl_seg *w = &p->seg[j];

			if (!(w->flags & PF_W))
				continue;
			if (page_down(w->off) < page_up(x->off + x->memsz) &&
			    page_down(x->off) < page_up(w->off + w->memsz))
				return gears_err(ENOEXEC, "writable segment shares a page with executable"
						 " code (link with -z separate-code)");
		}
	}
	return 0;
}

/* Check and record the RELA table at link-time address va, sz bytes. */
static int add_relas(struct gears_payload *p, Elf *elf, uint64_t va, uint64_t sz, uint64_t ent,
		     const char *what)
{
	Elf_Data *d;
	uint64_t foff, n;

	if (!sz)
		return 0;
	if (ent != sizeof(Elf64_Rela))
		return gears_err(EINVAL, "%s: entry size %" PRIu64 ", expected %zu", what, ent,
				 sizeof(Elf64_Rela));
	if (sz % sizeof(Elf64_Rela))
		return gears_err(EINVAL, "%s: size %#" PRIx64 " not a multiple of %zu", what, sz,
				 sizeof(Elf64_Rela));
	if (va_to_file(p, va, sz, &foff))
		return gears_err(EINVAL, "%s: table at %#" PRIx64 "+%#" PRIx64
				 " is not in the file part of a PT_LOAD segment", what, va, sz);
	d = elf_getdata_rawchunk(elf, (int64_t)foff, sz, ELF_T_RELA);
	if (!d)
		return gears_err(EINVAL, "%s: %s", what, elf_errmsg(-1));
	n = sz / sizeof(Elf64_Rela);
	for (uint64_t i = 0; i < n; i++) {
		GElf_Rela r;
		uint32_t type;

		if (!gelf_getrela(d, (int)i, &r))
			return gears_err(EINVAL, "%s: entry %" PRIu64 ": %s", what, i, elf_errmsg(-1));
		type = GELF_R_TYPE(r.r_info);
		if (type == R_X86_64_NONE)
			continue;
		if (type != R_X86_64_RELATIVE)
			return gears_err(ENOEXEC, "%s: entry %" PRIu64 ": unsupported relocation type %u"
					 " (only R_X86_64_RELATIVE: no symbols to bind)", what, i, type);
		if (r.r_offset < p->start || !in_bounds(r.r_offset - p->start, 8, p->size))
			return gears_err(EINVAL, "%s: entry %" PRIu64 ": r_offset %#" PRIx64
					 " outside the image", what, i, (uint64_t)r.r_offset);
		p->rel[p->nrel++] = (struct pl_rel){ r.r_offset - p->start, (uint64_t)r.r_addend };
	}
	return 0;
}

/* The dynamic section: no libraries, RELA relocations only. */
static int parse_dynamic(struct gears_payload *p, Elf *elf, const GElf_Phdr *dyn)
{
	uint64_t rela = 0, relasz = 0, relaent = 0, jmprel = 0, pltrelsz = 0, pltrel = DT_RELA;
	bool has_rela = false;
	Elf_Data *d;
	size_t n, cap;
	int err;

	if (!in_bounds(dyn->p_offset, dyn->p_filesz, p->file_len))
		return gears_err(EINVAL, "PT_DYNAMIC %#" PRIx64 "+%#" PRIx64 " past the end of the file",
				 (uint64_t)dyn->p_offset, (uint64_t)dyn->p_filesz);
	n = dyn->p_filesz / sizeof(Elf64_Dyn);
	if (!n)
		return 0;
	d = elf_getdata_rawchunk(elf, (int64_t)dyn->p_offset, n * sizeof(Elf64_Dyn), ELF_T_DYN);
	if (!d)
		return gears_err(EINVAL, "PT_DYNAMIC: %s", elf_errmsg(-1));
	for (size_t i = 0; i < n; i++) {
		GElf_Dyn e;

		if (!gelf_getdyn(d, (int)i, &e))
			return gears_err(EINVAL, "PT_DYNAMIC entry %zu: %s", i, elf_errmsg(-1));
		if (e.d_tag == DT_NULL)
			break;
		switch (e.d_tag) {
		case DT_NEEDED:
			return gears_err(ENOEXEC, "needs shared libraries (DT_NEEDED): link it with"
					 " -static-pie -nostdlib");
		case DT_REL:
		case DT_RELSZ:
			return gears_err(ENOEXEC, "has REL relocations (DT_REL): only RELA is supported");
		case DT_RELR:
			return gears_err(ENOEXEC, "has packed relocations (DT_RELR): link without"
					 " -z pack-relative-relocs");
		case DT_RELA:
			rela = e.d_un.d_ptr;
			has_rela = true;
			break;
		case DT_RELASZ:
			relasz = e.d_un.d_val;
			break;
		case DT_RELAENT:
			relaent = e.d_un.d_val;
			break;
		case DT_JMPREL:
			jmprel = e.d_un.d_ptr;
			break;
		case DT_PLTRELSZ:
			pltrelsz = e.d_un.d_val;
			break;
		case DT_PLTREL:
			pltrel = e.d_un.d_val;
			break;
		}
	}
	if (relasz && !has_rela)
		return gears_err(EINVAL, "DT_RELASZ without DT_RELA");
	if (pltrelsz && pltrel != DT_RELA)
		return gears_err(ENOEXEC, "PLT relocations are not RELA");
	/* Both tables lie in the file, so this bounds the allocation by its size. */
	if (!in_bounds(0, relasz, p->file_len) || !in_bounds(0, pltrelsz, p->file_len))
		return gears_err(EINVAL, "relocation tables larger than the file");
	cap = relasz / sizeof(Elf64_Rela) + pltrelsz / sizeof(Elf64_Rela);
	p->rel = gears_calloc(cap, sizeof(*p->rel));
	if (!p->rel)
		return gears_err(ENOMEM, "out of memory for %zu relocations", cap);
	err = add_relas(p, elf, rela, relasz, relaent ? relaent : sizeof(Elf64_Rela), "DT_RELA");
	if (!err)
		err = add_relas(p, elf, jmprel, pltrelsz, sizeof(Elf64_Rela), "DT_JMPREL");
	return err;
}

static int parse(struct gears_payload *p)
{
	const unsigned char *id = p->file;
	GElf_Phdr dyn = { 0 };
	bool has_dyn = false, entry_ok = false;
	GElf_Ehdr eh;
	size_t phnum;
	Elf *elf;
	int err = 0;

	/* What libelf would accept but we cannot load, with a precise reason. */
	if (p->file_len < sizeof(Elf64_Ehdr) || memcmp(id, ELFMAG, SELFMAG))
		return gears_err(ENOEXEC, "not an ELF file");
	if (id[EI_CLASS] != ELFCLASS64 || id[EI_DATA] != ELFDATA2LSB)
		return gears_err(ENOEXEC, "not a little-endian ELF64 file");
	if (elf_version(EV_CURRENT) == EV_NONE)
		return gears_err(ENOSYS, "libelf: %s", elf_errmsg(-1));
	elf = elf_memory((char *)p->file, p->file_len);
	if (!elf)
		return gears_err(ENOEXEC, "libelf: %s", elf_errmsg(-1));
	if (elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh)) {
		err = gears_err(ENOEXEC, "libelf: not a readable ELF file");
		goto out;
	}
	if (eh.e_machine != EM_X86_64) {
		err = gears_err(ENOEXEC, "machine %u is not x86-64", eh.e_machine);
		goto out;
	}
	if (eh.e_type != ET_DYN) {
		err = gears_err(ENOEXEC, "ELF type %u is not ET_DYN: link it with -static-pie",
				eh.e_type);
		goto out;
	}
	/* Our own limits first, so libelf never sees an absurd table. */
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || !eh.e_phnum || eh.e_phnum > PL_MAX_PHDRS ||
	    !in_bounds(eh.e_phoff, (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr), p->file_len)) {
		err = gears_err(EINVAL, "bad program header table: %u entries of %u bytes at %#" PRIx64,
				eh.e_phnum, eh.e_phentsize, (uint64_t)eh.e_phoff);
		goto out;
	}
	if (elf_getphdrnum(elf, &phnum) || phnum != eh.e_phnum) {
		err = gears_err(EINVAL, "program headers: %s", elf_errmsg(-1));
		goto out;
	}
	p->seg = gears_calloc(phnum, sizeof(*p->seg));
	if (!p->seg) {
		err = gears_err(ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < phnum && !err; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph)) {
			err = gears_err(EINVAL, "program header %zu: %s", i, elf_errmsg(-1));
			break;
		}
		switch (ph.p_type) {
		case PT_LOAD:
			err = add_load(p, (int)i, &ph);
			break;
		case PT_INTERP:
			err = gears_err(ENOEXEC, "has an interpreter (PT_INTERP): link it with"
					" -static-pie -Wl,--no-dynamic-linker");
			break;
		case PT_TLS:
			err = gears_err(ENOEXEC, "uses thread-local storage (PT_TLS), which nothing"
					" sets up in the guest");
			break;
		case PT_DYNAMIC:
			if (has_dyn)
				err = gears_err(EINVAL, "more than one PT_DYNAMIC");
			dyn = ph;
			has_dyn = true;
			break;
		}
	}
	if (err)
		goto out;
	if (!p->nseg) {
		err = gears_err(ENOEXEC, "no PT_LOAD segment");
		goto out;
	}
	err = check_wx_pages(p);
	if (err)
		goto out;
	/* The caller jumps to the entry: it must be code of this image. */
	for (int i = 0; i < p->nseg && !entry_ok; i++) {
		const struct pl_seg *s = &p->seg[i];
		uint64_t e = eh.e_entry - p->start;	/* wraps when below: then fails */

		if (s->flags & PF_X && eh.e_entry >= p->start && e - s->off < s->memsz && e >= s->off) {
			p->entry = e;
			entry_ok = true;
		}
	}
	if (!entry_ok) {
		err = gears_err(ENOEXEC, "entry point %#" PRIx64 " is not in an executable segment",
				(uint64_t)eh.e_entry);
		goto out;
	}
	if (has_dyn)
		err = parse_dynamic(p, elf, &dyn);
out:
	elf_end(elf);
	return err;
}

/* Takes ownership of `file` (malloc'd), success or not. */
static struct gears_payload *load(uint8_t *file, size_t len)
{
	struct gears_payload *p = calloc(1, sizeof(*p));
	int err;

	if (!p) {
		free(file);
		return gears_err_ptr(ENOMEM, "out of memory");
	}
	p->file = file;
	p->file_len = len;
	err = parse(p);
	if (err) {
		gears_payload__free(p);
		errno = -err;
		return NULL;
	}
	return p;
}

struct gears_payload *gears_payload__from_memory(const void *buf, size_t len)
{
	struct gears_payload *p;
	uint8_t *copy;

	if (!buf && len)
		return gears_err_ptr(EINVAL, "payload: no buffer");
	if (len > GEARS_PAYLOAD_MAX_FILE)
		return gears_err_ptr(EFBIG, "payload: %zu bytes, limit %u", len, GEARS_PAYLOAD_MAX_FILE);
	copy = malloc(len ? len : 1);
	if (!copy)
		return gears_err_ptr(ENOMEM, "payload: out of memory for %zu bytes", len);
	if (len)
		memcpy(copy, buf, len);
	p = load(copy, len);
	if (!p) {
		int e = errno;

		gears_err_prefix("payload");
		errno = e;
	}
	return p;
}

struct gears_payload *gears_payload__open(const char *path)
{
	struct gears_payload *p;
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd, e;

	if (!path)
		return gears_err_ptr(EINVAL, "payload: no path");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return gears_err_ptr(errno, "payload %s: %s", path, strerror(errno));
	e = fstat(fd, &st) ? errno : !S_ISREG(st.st_mode) ? EINVAL :
	    st.st_size > GEARS_PAYLOAD_MAX_FILE ? EFBIG : 0;
	if (e) {
		close(fd);
		return gears_err_ptr(e, "payload %s: %s", path,
				     e == EINVAL ? "not a regular file" :
				     e == EFBIG ? "larger than the 64 MiB limit" : strerror(e));
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		close(fd);
		return gears_err_ptr(ENOMEM, "payload %s: out of memory", path);
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			free(buf);
			close(fd);
			return gears_err_ptr(e, "payload %s: read: %s", path, strerror(e));
		}
		if (!n)
			break;	/* shrank under us: parse what is there */
		got += (size_t)n;
	}
	close(fd);
	p = load(buf, got);
	if (!p) {
		e = errno;
		gears_err_prefix("payload %s", path);
		errno = e;
	}
	return p;
}

void gears_payload__free(struct gears_payload *p)
{
	if (!p)
		return;
	free(p->file);
	free(p->seg);
	free(p->rel);
	free(p);
}

size_t gears_payload__size(const struct gears_payload *p)
{
	return p ? p->size : 0;
}

uint64_t gears_payload__entry(const struct gears_payload *p)
{
	return p ? p->entry : 0;
}

int gears_payload__image(const struct gears_payload *p, uint64_t base, void *out, size_t out_size)
{
	uint8_t *o = out;

	if (!p || !out)
		return gears_err(EINVAL, "payload image: no payload or buffer");
	if (base & (PL_PAGE - 1) || base > UINT64_MAX - p->size)
		return gears_err(EINVAL, "payload image: base %#" PRIx64 " not page aligned or too high",
				 base);
	if (out_size < p->size)
		return gears_err(ENOSPC, "payload image: needs %zu bytes, buffer has %zu", p->size,
				 out_size);
	memset(o, 0, p->size);	/* bss and the gaps between segments */
	for (int i = 0; i < p->nseg; i++)
		memcpy(o + p->seg[i].off, p->file + p->seg[i].foff, p->seg[i].filesz);
	/* The image moves by (base - start): unsigned wrap-around is the intent. */
	for (size_t i = 0; i < p->nrel; i++) {
		uint64_t v = htole64(base - p->start + p->rel[i].addend);

		memcpy(o + p->rel[i].off, &v, sizeof(v));
	}
	return 0;
}

int gears_payload__exec_ranges(const struct gears_payload *p, uint64_t off[], uint64_t len[], int max)
{
	int n = 0;

	if (!p || max < 0 || (max && (!off || !len)))
		return gears_err(EINVAL, "payload exec ranges: bad arguments");
	for (int i = 0; i < p->nseg; i++) {
		const struct pl_seg *s = &p->seg[i];
		uint64_t lo = page_down(s->off), hi = page_up(s->off + s->memsz);

		if (!(s->flags & PF_X))
			continue;
		/* Segments are sorted: one sharing a page with the last range extends it. */
		if (n && lo <= off[n - 1] + len[n - 1]) {
			len[n - 1] = hi - off[n - 1];
			continue;
		}
		if (n == max)
			return gears_err(E2BIG, "payload exec ranges: more than %d", max);
		off[n] = lo;
		len[n] = hi - lo;
		n++;
	}
	return n;
}
