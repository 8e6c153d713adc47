/* The few libc string functions the kit and GCC need (GCC may emit calls to
 * memset/memcpy/memmove/memcmp even with -ffreestanding). */
#ifndef GUEST_KSTRING_H
#define GUEST_KSTRING_H

#include <stddef.h>

void *memset(void *s, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

#endif
