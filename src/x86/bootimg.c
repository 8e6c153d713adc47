#include "x86/bootimg.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hw/mem.h"
#include "x86/boot.h"

#define set_err(...) snprintf(err, errlen, __VA_ARGS__)

#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* One program header, whichever the class, widened to 64 bits. */
static void get_phdr(const uint8_t *img, bool is32, uint64_t phoff, unsigned i,
		     Elf64_Phdr *out)
{
	if (is32) {
		Elf32_Phdr p;

		memcpy(&p, img + phoff + (uint64_t)i * sizeof(p), sizeof(p));
		*out = (Elf64_Phdr){
			.p_type = p.p_type, .p_offset = p.p_offset, .p_paddr = p.p_paddr,
			.p_filesz = p.p_filesz, .p_memsz = p.p_memsz,
		};
	} else {
		memcpy(out, img + phoff + (uint64_t)i * sizeof(*out), sizeof(*out));
	}
}

/* The class and program-header table of an x86 ELF image, checked. */
static int elf_table(const uint8_t *img, size_t len, bool *is32, uint64_t *phoff,
		     unsigned *phnum, uint64_t *entry, char *err, size_t errlen)
{
	size_t entsz;

	if (len < EI_NIDENT || memcmp(img, ELFMAG, SELFMAG) != 0) {
		set_err("not an ELF file");
		return -ENOEXEC;
	}
	if (img[EI_CLASS] == ELFCLASS32) {
		Elf32_Ehdr eh;

		if (len < sizeof(eh)) {
			set_err("truncated ELF header");
			return -ENOEXEC;
		}
		memcpy(&eh, img, sizeof(eh));
		if (eh.e_machine != EM_386 || eh.e_phentsize != sizeof(Elf32_Phdr)) {
			set_err("not an i386 ELF32 image");
			return -ENOEXEC;
		}
		*is32 = true;
		*phoff = eh.e_phoff;
		*phnum = eh.e_phnum;
		*entry = eh.e_entry;
		entsz = sizeof(Elf32_Phdr);
	} else if (img[EI_CLASS] == ELFCLASS64) {
		Elf64_Ehdr eh;

		if (len < sizeof(eh)) {
			set_err("truncated ELF header");
			return -ENOEXEC;
		}
		memcpy(&eh, img, sizeof(eh));
		if (eh.e_machine != EM_X86_64 || eh.e_phentsize != sizeof(Elf64_Phdr)) {
			set_err("not an x86-64 ELF64 image");
			return -ENOEXEC;
		}
		*is32 = false;
		*phoff = eh.e_phoff;
		*phnum = eh.e_phnum;
		*entry = eh.e_entry;
		entsz = sizeof(Elf64_Phdr);
	} else {
		set_err("unknown ELF class %u", img[EI_CLASS]);
		return -ENOEXEC;
	}
	if (*phoff > len || *phnum > (len - *phoff) / entsz) {
		set_err("truncated program header table");
		return -ENOEXEC;
	}
	return 0;
}

int elfimg_parse(const uint8_t *img, size_t len, struct img_layout *out,
		 char *err, size_t errlen)
{
	uint64_t phoff;
	unsigned phnum;
	bool is32;
	int r;

	memset(out, 0, sizeof(*out));
	r = elf_table(img, len, &is32, &phoff, &phnum, &out->entry, err, errlen);
	if (r)
		return r;
	out->elf32 = is32;
	for (unsigned i = 0; i < phnum; i++) {
		Elf64_Phdr ph;
		struct img_seg *s;

		get_phdr(img, is32, phoff, i, &ph);
		if (ph.p_type != PT_LOAD || !ph.p_memsz)
			continue;
		if (ph.p_filesz > ph.p_memsz || ph.p_offset > len ||
		    ph.p_filesz > len - ph.p_offset) {
			set_err("segment %u is truncated (the file ends before it does)", i);
			return -ENOEXEC;
		}
		if (ph.p_paddr + ph.p_memsz < ph.p_paddr) {
			set_err("segment %u wraps around the address space", i);
			return -ENOEXEC;
		}
		if (out->nr == IMG_MAX_SEGS) {
			set_err("more than %d loadable segments", IMG_MAX_SEGS);
			return -ENOEXEC;
		}
		for (unsigned j = 0; j < out->nr; j++) {
			const struct img_seg *o = &out->seg[j];

			if (ph.p_paddr < o->paddr + o->memsz && o->paddr < ph.p_paddr + ph.p_memsz) {
				set_err("segments overlap at %#llx",
					(unsigned long long)(ph.p_paddr > o->paddr ? ph.p_paddr : o->paddr));
				return -ENOEXEC;
			}
		}
		s = &out->seg[out->nr++];
		*s = (struct img_seg){ ph.p_paddr, ph.p_offset, ph.p_filesz, ph.p_memsz };
		if (s->paddr + s->memsz > out->end)
			out->end = s->paddr + s->memsz;
	}
	if (!out->nr) {
		set_err("no loadable segment");
		return -ENOEXEC;
	}
	return 0;
}

/* Walk the notes in [off, off + size) of the file for the PVH entry. */
static int find_note(const uint8_t *img, uint64_t off, uint64_t size,
		     uint32_t *entry, char *err, size_t errlen)
{
	uint64_t end = off + size;

	while (off + 12 <= end) {
		uint32_t namesz, descsz, type;
		uint64_t name, desc, next;

		memcpy(&namesz, img + off, 4);
		memcpy(&descsz, img + off + 4, 4);
		memcpy(&type, img + off + 8, 4);
		name = off + 12;
		desc = name + ((namesz + 3ULL) & ~3ULL);
		next = desc + ((descsz + 3ULL) & ~3ULL);
		if (next > end) {
			set_err("truncated ELF note");
			return -ENOEXEC;
		}
		if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 &&
		    memcmp(img + name, "Xen", 4) == 0) {
			uint64_t v = 0;

			if (descsz != 4 && descsz != 8) {
				set_err("PVH entry note has %u bytes, not 4 or 8", descsz);
				return -ENOEXEC;
			}
			memcpy(&v, img + desc, descsz);
			if (v > 0xffffffffULL) {
				set_err("PVH entry point %#llx is above 4 GiB",
					(unsigned long long)v);
				return -ENOEXEC;
			}
			*entry = (uint32_t)v;
			return 1;
		}
		off = next;
	}
	return 0;
}

int elfimg_pvh_entry(const uint8_t *img, size_t len, uint32_t *entry,
		     char *err, size_t errlen)
{
	uint64_t phoff, e;
	unsigned phnum;
	bool is32;
	int r = elf_table(img, len, &is32, &phoff, &phnum, &e, err, errlen);

	if (r)
		return r;
	for (unsigned i = 0; i < phnum; i++) {
		Elf64_Phdr ph;

		get_phdr(img, is32, phoff, i, &ph);
		if (ph.p_type != PT_NOTE)
			continue;
		if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset) {
			set_err("note segment %u is truncated", i);
			return -ENOEXEC;
		}
		r = find_note(img, ph.p_offset, ph.p_filesz, entry, err, errlen);
		if (r)
			return r;
	}
	return 0;
}

int img_check_ram(const struct img_layout *l, uint64_t low_size, char *err,
		  size_t errlen)
{
	for (unsigned i = 0; i < l->nr; i++) {
		const struct img_seg *s = &l->seg[i];

		if (s->paddr < 0x100000) {
			set_err("segment at %#llx is below 1 MiB (amalgam's tables live there)",
				(unsigned long long)s->paddr);
			return -EFBIG;
		}
		if (s->paddr >= low_size || s->memsz > low_size - s->paddr) {
			set_err("segment at %#llx (%llu bytes) is outside guest RAM below %llu MiB: give more --memory or fix the image",
				(unsigned long long)s->paddr, (unsigned long long)s->memsz,
				(unsigned long long)(low_size >> 20));
			return -EFBIG;
		}
	}
	return 0;
}

void img_copy(struct guest_mem *mem, const struct img_layout *l,
	      const uint8_t *img)
{
	for (unsigned i = 0; i < l->nr; i++) {
		const struct img_seg *s = &l->seg[i];
		uint8_t *dst = guest_mem_hva(mem, s->paddr, s->memsz);

		memcpy(dst, img + s->offset, s->filesz);
		memset(dst + s->filesz, 0, s->memsz - s->filesz);
	}
}

unsigned boot_ram_map(const struct guest_mem *mem, struct boot_map_entry *e)
{
	unsigned n = 0;

	e[n++] = (struct boot_map_entry){ 0, BOOT_EBDA_ADDR, BOOT_MAP_RAM };
	e[n++] = (struct boot_map_entry){ BOOT_EBDA_ADDR, 0x100000 - BOOT_EBDA_ADDR,
					  BOOT_MAP_RESERVED };
	e[n++] = (struct boot_map_entry){ 0x100000, mem->low_size - 0x100000, BOOT_MAP_RAM };
	if (mem->size > mem->low_size)
		e[n++] = (struct boot_map_entry){ MEM_HIGH_BASE, mem->size - mem->low_size,
						  BOOT_MAP_RAM };
	return n;
}

int img_read_file(const char *path, uint8_t **buf, size_t *len, char *err,
		  size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t off = 0;
	ssize_t n;

	if (fd < 0) {
		int e = errno;
		set_err("cannot open '%s': %s", path, strerror(e));
		return -e;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		set_err("'%s' is not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	*buf = malloc(st.st_size ? st.st_size : 1);
	if (!*buf) {
		close(fd);
		return -ENOMEM;
	}
	while (off < (size_t)st.st_size) {
		n = read(fd, *buf + off, st.st_size - off);
		if (n <= 0) {
			int e = n < 0 ? errno : EIO;
			set_err("cannot read '%s': %s", path, strerror(e));
			free(*buf);
			close(fd);
			return -e;
		}
		off += n;
	}
	close(fd);
	*len = off;
	return 0;
}

int img_load_modules(struct guest_mem *mem, const struct boot_module *mods,
		     unsigned n, uint64_t start, struct img_module *out,
		     char *err, size_t errlen)
{
	uint64_t addr = (start + 0xfff) & ~0xfffULL;

	for (unsigned i = 0; i < n; i++) {
		uint8_t *buf;
		size_t len;
		int r = img_read_file(mods[i].path, &buf, &len, err, errlen);

		if (r) {
			char why[256];

			snprintf(why, sizeof(why), "%s", err);
			set_err("module %u: %s", i, why);
			return r;
		}
		if (addr >= mem->low_size || len > mem->low_size - addr) {
			set_err("module '%s' (%zu bytes) does not fit in guest RAM below %llu MiB after the kernel: give more --memory",
				mods[i].path, len, (unsigned long long)(mem->low_size >> 20));
			free(buf);
			return -EFBIG;
		}
		memcpy(guest_mem_hva(mem, addr, len ? len : 1), buf, len);
		free(buf);
		out[i] = (struct img_module){ addr, len, mods[i].cmdline };
		addr = (addr + len + 0xfff) & ~0xfffULL;
	}
	return 0;
}
