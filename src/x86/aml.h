/* A small AML writer (ACPI 6.x, chapter 20) for the few objects our DSDT
 * needs: scopes, devices, names, integers, EISA ids, packages and resource
 * template buffers. Opened objects (scope, device, package, buffer) nest
 * and are closed in order; their PkgLength is written minimal on close.
 * Errors (no room, too deep, unbalanced) stick in the writer and
 * aml_finish reports them. Pure: writes into a caller's buffer. */
#ifndef AMALGAM_X86_AML_H
#define AMALGAM_X86_AML_H

#include <stddef.h>
#include <stdint.h>

#define AML_MAX_DEPTH 8

struct aml {
	uint8_t *buf;
	size_t size, used;
	size_t open[AML_MAX_DEPTH];	/* where each open object's content starts */
	uint8_t is_buffer[AML_MAX_DEPTH];
	unsigned depth;
	int err;
};

void aml_init(struct aml *a, void *buf, size_t size);
/* Bytes written, or -ENOSPC / -EINVAL (unbalanced or bad input). */
int aml_finish(struct aml *a);

void aml_bytes(struct aml *a, const void *p, size_t len);
/* Name(SEG, ...): the value follows (aml_int, aml_eisaid, a package...). */
void aml_name(struct aml *a, const char *seg);
void aml_int(struct aml *a, uint64_t v);	/* smallest encoding */
void aml_eisaid(struct aml *a, const char *id);	/* "PNP0A08" */

/* Scope(\_SB) style path ("\\_SB_") or a 4-char NameSeg. */
void aml_scope_open(struct aml *a, const char *path);
void aml_device_open(struct aml *a, const char *seg);
void aml_package_open(struct aml *a, uint8_t nr_elements);
/* Buffer of the bytes written until its close (a resource template ends
 * with aml_end_tag first). */
void aml_buffer_open(struct aml *a);
void aml_close(struct aml *a);

/* Resource descriptors (6.4), for a _CRS buffer. */
void aml_res_bus(struct aml *a, uint16_t min, uint16_t max);
void aml_res_io(struct aml *a, uint16_t port, uint8_t len);	/* IO(Decode16) */
void aml_res_word_io(struct aml *a, uint16_t min, uint16_t max);
void aml_res_dword_mem(struct aml *a, uint32_t min, uint32_t max);
void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len);
void aml_end_tag(struct aml *a);

#endif
