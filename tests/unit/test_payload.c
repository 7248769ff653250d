// SPDX-License-Identifier: MIT
/*
 * Payload loader: the sample payload (tests/unit/payload_sample.c, a real
 * static-pie built by gcc) loads, lays out, relocates and even runs on the host;
 * damaged copies of it are refused with an error, never a crash.
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <gears/gears.h>
#include <gears/payload.h>

#include "payload_sample.h"
#include "testlib.h"

#define BASE 0x7f0000000000ull
#define PAGE 4096ull
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* A private, exact-size copy of the sample to damage. */
static uint8_t *sample_copy(void)
{
	uint8_t *b = malloc(payload_sample_len);

	memcpy(b, payload_sample, payload_sample_len);
	return b;
}

static Elf64_Ehdr *ehdr(uint8_t *b)
{
	return (Elf64_Ehdr *)b;
}

static Elf64_Phdr *phdr(uint8_t *b, int i)
{
	return (Elf64_Phdr *)(b + ehdr(b)->e_phoff) + i;
}

/* First program header of `type` whose flags include `flags`. */
static Elf64_Phdr *find_ph(uint8_t *b, uint32_t type, uint32_t flags)
{
	for (int i = 0; i < ehdr(b)->e_phnum; i++)
		if (phdr(b, i)->p_type == type && (phdr(b, i)->p_flags & flags) == flags)
			return phdr(b, i);
	return NULL;
}

/* File offset of a link-time address (the sample's segments all have files bytes there). */
static uint64_t va_to_off(uint8_t *b, uint64_t va)
{
	for (int i = 0; i < ehdr(b)->e_phnum; i++) {
		Elf64_Phdr *ph = phdr(b, i);

		if (ph->p_type == PT_LOAD && va >= ph->p_vaddr && va < ph->p_vaddr + ph->p_filesz)
			return ph->p_offset + (va - ph->p_vaddr);
	}
	abort();
}

static Elf64_Dyn *find_dyn(uint8_t *b, int64_t tag)
{
	Elf64_Phdr *ph = find_ph(b, PT_DYNAMIC, 0);

	for (Elf64_Dyn *d = (Elf64_Dyn *)(b + ph->p_offset); d->d_tag != DT_NULL; d++)
		if (d->d_tag == tag)
			return d;
	return NULL;
}

/* The sample's first RELA entry. */
static Elf64_Rela *first_rela(uint8_t *b)
{
	return (Elf64_Rela *)(b + va_to_off(b, find_dyn(b, DT_RELA)->d_un.d_ptr));
}

/* Load from a buffer and expect failure with one of the loader's errnos. */
static void expect_refused(const uint8_t *b, size_t len, const char *why)
{
	struct gears_payload *p = gears_payload__from_memory(b, len);

	if (p) {
		fprintf(stderr, "  accepted: %s\n", why);
		gears_payload__free(p);
		CHECK(0);
		return;
	}
	CHECK(errno == ENOEXEC || errno == EINVAL || errno == EFBIG);
	CHECK(strncmp(gears_last_error(), "payload: ", 9) == 0);
	if (getenv("V"))	/* V=1: show each reason, to see that it is the intended one */
		printf("  %-32s %s\n", why, gears_last_error());
}

/* Apply `damage` to a fresh copy of the sample and expect it refused. */
#define REFUSED(why, damage)                                                   \
	do {                                                                   \
		uint8_t *b = sample_copy();                                    \
		damage;                                                        \
		expect_refused(b, payload_sample_len, why);                    \
		free(b);                                                       \
	} while (0)

TEST(sample_loads)
{
	struct gears_payload *p = gears_payload__from_memory(payload_sample, payload_sample_len);
	Elf64_Phdr *x;
	uint8_t *b = sample_copy();

	CHECK(p);
	if (!p)
		return;
	x = find_ph(b, PT_LOAD, PF_X);
	CHECK(gears_payload__size(p) > 0);
	CHECK_EQ(gears_payload__size(p) % PAGE, 0);
	CHECK(gears_payload__size(p) <= GEARS_PAYLOAD_MAX_SIZE);
	/* linked at 0: the entry offset is e_entry, inside the text segment */
	CHECK_EQ(gears_payload__entry(p), ehdr(b)->e_entry);
	CHECK(gears_payload__entry(p) >= x->p_vaddr && gears_payload__entry(p) < x->p_vaddr + x->p_memsz);
	gears_payload__free(p);
	gears_payload__free(NULL);
	free(b);
}

TEST(open_file)
{
	char path[] = "/tmp/gears-test-payload-XXXXXX";
	int fd = mkstemp(path);
	struct gears_payload *p;

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_EQ(write(fd, payload_sample, payload_sample_len), payload_sample_len);
	close(fd);
	p = gears_payload__open(path);
	CHECK(p);
	CHECK_EQ(gears_payload__entry(p), ((const Elf64_Ehdr *)payload_sample)->e_entry);
	gears_payload__free(p);
	/* a file cut short is refused with the path in the reason */
	CHECK_EQ(truncate(path, 100), 0);
	CHECK(!gears_payload__open(path));
	CHECK(strstr(gears_last_error(), path) != NULL);
	unlink(path);
	CHECK(!gears_payload__open(path));
	CHECK_EQ(errno, ENOENT);
	CHECK(!gears_payload__open("/tmp"));
	CHECK_EQ(errno, EINVAL);
	CHECK(!gears_payload__open(NULL));
}

/* Where the string "GEARS payload string N" is in an image. */
static uint64_t string_off(const uint8_t *img, size_t size, int n)
{
	char s[40];
	const uint8_t *at;

	snprintf(s, sizeof(s), "GEARS payload string %d", n);
	at = memmem(img, size, s, strlen(s) + 1);
	return at ? (uint64_t)(at - img) : UINT64_MAX;
}

/* Does an 8-aligned slot of the image hold `v`? */
static bool has_slot(const uint8_t *img, size_t size, uint64_t v)
{
	for (size_t o = 0; o + 8 <= size; o += 8) {
		uint64_t w;

		memcpy(&w, img + o, 8);
		if (w == v)
			return true;
	}
	return false;
}

TEST(image_relocated)
{
	struct gears_payload *p = gears_payload__from_memory(payload_sample, payload_sample_len);
	uint8_t *b = sample_copy(), *img;
	Elf64_Phdr *w = find_ph(b, PT_LOAD, PF_W), *x = find_ph(b, PT_LOAD, PF_X);
	size_t size;
	bool zero = true;

	CHECK(p);
	if (!p)
		return;
	size = gears_payload__size(p);
	img = malloc(size + PAGE);
	memset(img, 0xAA, size + PAGE);
	CHECK_EQ(gears_payload__image(p, BASE, img, size + PAGE), 0);
	/* text copied as is; nothing written past the image */
	CHECK(!memcmp(img + x->p_vaddr, b + x->p_offset, x->p_filesz));
	CHECK(img[size] == 0xAA && img[size + PAGE - 1] == 0xAA);
	/* bss zeroed */
	CHECK(w->p_memsz > w->p_filesz);
	for (uint64_t o = w->p_vaddr + w->p_filesz; o < w->p_vaddr + w->p_memsz; o++)
		zero &= img[o] == 0;
	CHECK(zero);
	/* the pointer table points at the strings, at their load address */
	for (int i = 0; i < 3; i++) {
		uint64_t s = string_off(img, size, i);

		CHECK(s < size);
		CHECK(has_slot(img, size, BASE + s));
	}
	/* same payload elsewhere: only the pointers change */
	CHECK_EQ(gears_payload__image(p, 0x1000, img, size), 0);
	CHECK(has_slot(img, size, 0x1000 + string_off(img, size, 1)));
	/* bad base or buffer */
	CHECK_EQ(gears_payload__image(p, BASE + 8, img, size), -EINVAL);
	CHECK_EQ(gears_payload__image(p, UINT64_MAX & ~(PAGE - 1), img, size), -EINVAL);
	CHECK_EQ(gears_payload__image(p, BASE, img, size - 1), -ENOSPC);
	CHECK_EQ(gears_payload__image(p, BASE, img, 0), -ENOSPC);
	CHECK_EQ(gears_payload__image(p, BASE, NULL, size), -EINVAL);
	free(img);
	free(b);
	gears_payload__free(p);
}

TEST(exec_ranges)
{
	struct gears_payload *p = gears_payload__from_memory(payload_sample, payload_sample_len);
	uint8_t *b = sample_copy();
	Elf64_Phdr *x = find_ph(b, PT_LOAD, PF_X);
	uint64_t off[4], len[4];

	CHECK(p);
	if (!p)
		return;
	CHECK_EQ(gears_payload__exec_ranges(p, off, len, 4), 1);
	CHECK_EQ(off[0], x->p_vaddr & ~(PAGE - 1));
	CHECK_EQ(len[0], ((x->p_vaddr + x->p_memsz + PAGE - 1) & ~(PAGE - 1)) - off[0]);
	CHECK(gears_payload__entry(p) - off[0] < len[0]);
	CHECK_EQ(gears_payload__exec_ranges(p, off, len, 0), -E2BIG);
	CHECK_EQ(gears_payload__exec_ranges(p, NULL, len, 1), -EINVAL);
	CHECK_EQ(gears_payload__exec_ranges(p, off, len, -1), -EINVAL);
	free(b);
	gears_payload__free(p);
}

/* The end-to-end proof: map the image on the host, make its code executable
 * as a caller would, and call it. Its pointers must reach its strings, its bss
 * must start at zero. */
struct payload_out {
	unsigned long n;
	const char *msg[3];
};

TEST(image_runs)
{
	struct gears_payload *p = gears_payload__from_memory(payload_sample, payload_sample_len);
	struct payload_out o = { .n = 3 };
	uint64_t off[4], len[4];
	size_t size;
	uint8_t *m;
	int n;

	CHECK(p);
	if (!p)
		return;
	size = gears_payload__size(p);
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(m != MAP_FAILED);
	if (m == MAP_FAILED)
		goto out;
	memset(m, 0xAA, size);
	CHECK_EQ(gears_payload__image(p, (uintptr_t)m, m, size), 0);
	n = gears_payload__exec_ranges(p, off, len, 4);
	CHECK(n >= 1);
	for (int i = 0; i < n; i++)
		if (mprotect(m + off[i], len[i], PROT_READ | PROT_EXEC)) {
			printf("  (skipped running: mprotect PROT_EXEC: %s)\n", strerror(errno));
			goto unmap;
		}
	((void (*)(void *))(m + gears_payload__entry(p)))(&o);
	for (int i = 0; i < 3; i++) {
		char want[40];

		snprintf(want, sizeof(want), "GEARS payload string %d", i);
		CHECK((const uint8_t *)o.msg[i] >= m && (const uint8_t *)o.msg[i] < m + size);
		CHECK_STR(o.msg[i], want);
	}
	CHECK_EQ(o.n, 1);	/* scratch[4000]: 0 (bss) + 1 */
unmap:
	munmap(m, size);
out:
	gears_payload__free(p);
}

/* Every prefix of the file either fails or (once all segments are in) loads
 * the very same image: the section headers at the end are not needed. */
TEST(truncated)
{
	struct gears_payload *ref = gears_payload__from_memory(payload_sample, payload_sample_len);
	uint8_t *b = sample_copy();
	size_t size, need = 0;
	uint8_t *want, *got;

	CHECK(ref);
	if (!ref)
		return;
	for (int i = 0; i < ehdr(b)->e_phnum; i++)
		if (phdr(b, i)->p_type == PT_LOAD || phdr(b, i)->p_type == PT_DYNAMIC)
			need = MAX(need, phdr(b, i)->p_offset + phdr(b, i)->p_filesz);
	size = gears_payload__size(ref);
	want = malloc(size);
	got = malloc(size);
	gears_payload__image(ref, BASE, want, size);
	for (size_t len = 0; len < payload_sample_len; len++) {
		/* exact-size heap copy: ASan sees any read past the end */
		uint8_t *cut = malloc(len ? len : 1);
		struct gears_payload *p;

		memcpy(cut, b, len);
		p = gears_payload__from_memory(cut, len);
		if (len < need && p) {
			fprintf(stderr, "  accepted %zu of %zu bytes\n", len, (size_t)payload_sample_len);
			CHECK(0);
		}
		if (p) {
			CHECK_EQ(gears_payload__image(p, BASE, got, size), 0);
			CHECK(!memcmp(want, got, size));
		}
		gears_payload__free(p);
		free(cut);
	}
	CHECK(!gears_payload__from_memory(NULL, 10));
	CHECK_EQ(errno, EINVAL);
	free(want);
	free(got);
	free(b);
	gears_payload__free(ref);
}

TEST(hostile_headers)
{
	REFUSED("not ELF", b[1] = 'X');
	REFUSED("ELF32", b[EI_CLASS] = ELFCLASS32);
	REFUSED("big-endian", b[EI_DATA] = ELFDATA2MSB);
	REFUSED("ET_EXEC", ehdr(b)->e_type = ET_EXEC);
	REFUSED("ET_REL", ehdr(b)->e_type = ET_REL);
	REFUSED("i386", ehdr(b)->e_machine = EM_386);
	REFUSED("aarch64", ehdr(b)->e_machine = EM_AARCH64);
	REFUSED("e_phoff huge", ehdr(b)->e_phoff = 0xfffffffffffff000ull);
	REFUSED("e_phoff past EOF", ehdr(b)->e_phoff = payload_sample_len - 8);
	REFUSED("e_phnum huge", ehdr(b)->e_phnum = 0xffff);
	REFUSED("e_phnum 1000", ehdr(b)->e_phnum = 1000);
	REFUSED("e_phnum 0", ehdr(b)->e_phnum = 0);
	REFUSED("e_phentsize", ehdr(b)->e_phentsize = 32);
	REFUSED("entry in data", ehdr(b)->e_entry = find_ph(b, PT_LOAD, PF_W)->p_vaddr);
	REFUSED("entry past the end", ehdr(b)->e_entry = 0xfffffffffffffff0ull);
}

TEST(hostile_segments)
{
	REFUSED("p_filesz > p_memsz", {
		Elf64_Phdr *w = find_ph(b, PT_LOAD, PF_W);
		w->p_filesz = w->p_memsz + 1;
	});
	REFUSED("p_offset past EOF", find_ph(b, PT_LOAD, PF_X)->p_offset = payload_sample_len);
	REFUSED("p_offset huge", find_ph(b, PT_LOAD, PF_X)->p_offset = 0xffffffffffffff00ull);
	REFUSED("p_filesz past EOF", {
		Elf64_Phdr *x = find_ph(b, PT_LOAD, PF_X);
		x->p_filesz = x->p_memsz = payload_sample_len;
	});
	REFUSED("p_memsz 1 TiB", find_ph(b, PT_LOAD, PF_W)->p_memsz = 1ull << 40);
	REFUSED("p_memsz just over 16 MiB", {
		Elf64_Phdr *w = find_ph(b, PT_LOAD, PF_W);
		w->p_memsz = GEARS_PAYLOAD_MAX_SIZE - w->p_vaddr + 1;
	});
	REFUSED("p_vaddr + p_memsz wraps", {
		Elf64_Phdr *w = find_ph(b, PT_LOAD, PF_W);
		w->p_vaddr = 0xfffffffffffff000ull;
		w->p_memsz = 0x2000;
	});
	REFUSED("segments out of order", find_ph(b, PT_LOAD, PF_W)->p_vaddr = 0);
	REFUSED("writable code", find_ph(b, PT_LOAD, PF_X)->p_flags |= PF_W);
	REFUSED("writable data in a code page", {
		Elf64_Phdr *r = find_ph(b, PT_LOAD, PF_X) + 1;	/* .rodata, after .text */
		r->p_vaddr = r->p_vaddr - PAGE + 0x800;
		r->p_flags |= PF_W;
	});
	CHECK(strstr(gears_last_error(), "shares a page"));
	REFUSED("no PT_LOAD", {
		for (int i = 0; i < ehdr(b)->e_phnum; i++)
			if (phdr(b, i)->p_type == PT_LOAD)
				phdr(b, i)->p_type = PT_NULL;
	});
	REFUSED("PT_INTERP", find_ph(b, PT_NOTE, 0)->p_type = PT_INTERP);
	CHECK(strstr(gears_last_error(), "PT_INTERP"));
	REFUSED("PT_TLS", find_ph(b, PT_NOTE, 0)->p_type = PT_TLS);
	REFUSED("two PT_DYNAMIC", find_ph(b, PT_NOTE, 0)->p_type = PT_DYNAMIC);
	REFUSED("PT_DYNAMIC past EOF", find_ph(b, PT_DYNAMIC, 0)->p_offset = payload_sample_len);
}

TEST(hostile_dynamic)
{
	REFUSED("DT_NEEDED", find_dyn(b, DT_DEBUG)->d_tag = DT_NEEDED);
	CHECK(strstr(gears_last_error(), "DT_NEEDED"));
	REFUSED("DT_REL", find_dyn(b, DT_RELA)->d_tag = DT_REL);
	CHECK(strstr(gears_last_error(), "DT_REL"));
	REFUSED("DT_RELA outside the file", find_dyn(b, DT_RELA)->d_un.d_ptr = 0x7fff0000);
	REFUSED("DT_RELA in bss", {
		Elf64_Phdr *w = find_ph(b, PT_LOAD, PF_W);
		find_dyn(b, DT_RELA)->d_un.d_ptr = w->p_vaddr + w->p_filesz;
	});
	REFUSED("DT_RELASZ huge", find_dyn(b, DT_RELASZ)->d_un.d_val = 0xffffffffffffffe8ull);
	REFUSED("DT_RELASZ odd", find_dyn(b, DT_RELASZ)->d_un.d_val += 1);
	REFUSED("DT_RELAENT", find_dyn(b, DT_RELAENT)->d_un.d_val = 16);
	REFUSED("relocation outside the image", first_rela(b)->r_offset = 0x10000000);
	REFUSED("relocation below the image", first_rela(b)->r_offset = (uint64_t)-8);
	REFUSED("relocation straddling the end", {
		struct gears_payload *ok = gears_payload__from_memory(payload_sample, payload_sample_len);
		first_rela(b)->r_offset = gears_payload__size(ok) - 4;
		gears_payload__free(ok);
	});
	REFUSED("R_X86_64_64", first_rela(b)->r_info = ELF64_R_INFO(0, R_X86_64_64));
	CHECK(strstr(gears_last_error(), "unsupported relocation type 1"));
	REFUSED("R_X86_64_IRELATIVE", first_rela(b)->r_info = ELF64_R_INFO(0, R_X86_64_IRELATIVE));
	CHECK(strstr(gears_last_error(), "unsupported relocation type 37"));
}

/* R_X86_64_NONE is skipped: that slot keeps its link-time bytes. */
TEST(reloc_none)
{
	uint8_t *b = sample_copy(), *img;
	Elf64_Rela *r = first_rela(b);
	struct gears_payload *p;
	uint64_t slot = r->r_offset, v;

	r->r_info = ELF64_R_INFO(0, R_X86_64_NONE);
	p = gears_payload__from_memory(b, payload_sample_len);
	CHECK(p);
	if (p) {
		img = malloc(gears_payload__size(p));
		CHECK_EQ(gears_payload__image(p, BASE, img, gears_payload__size(p)), 0);
		memcpy(&v, img + slot, 8);
		CHECK(v < BASE);
		free(img);
	}
	gears_payload__free(p);
	free(b);
}

/* Random damage, deterministic: whatever loads must lay out without a fault. */
TEST(random_damage)
{
	uint32_t seed = 12345;
	int loaded = 0;

	for (int round = 0; round < 3000; round++) {
		uint8_t *b = sample_copy();
		struct gears_payload *p;
		int flips;

		seed = seed * 1103515245u + 12345u;
		flips = 1 + (seed >> 16) % 8;
		for (int i = 0; i < flips; i++) {
			seed = seed * 1103515245u + 12345u;
			/* mostly in the headers and tables, where it matters */
			size_t at = (seed >> 8) % (i % 2 ? payload_sample_len : 0x300);

			seed = seed * 1103515245u + 12345u;
			b[at] ^= (uint8_t)(1u << ((seed >> 16) % 8));
		}
		p = gears_payload__from_memory(b, payload_sample_len);
		if (p) {
			size_t size = gears_payload__size(p);
			uint8_t *img = malloc(size);
			uint64_t off[8], len[8];
			int n = gears_payload__exec_ranges(p, off, len, 8);

			CHECK(size && size <= GEARS_PAYLOAD_MAX_SIZE && gears_payload__entry(p) < size);
			CHECK_EQ(gears_payload__image(p, BASE, img, size), 0);
			CHECK(n >= 1);
			for (int i = 0; i < n && i < 8; i++)
				CHECK(off[i] + len[i] <= size);
			free(img);
			loaded++;
		} else {
			CHECK(errno == ENOEXEC || errno == EINVAL || errno == EFBIG);
		}
		gears_payload__free(p);
		free(b);
	}
	printf("  %d of 3000 damaged copies still loaded\n", loaded);
}
