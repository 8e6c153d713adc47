/* kvm-unit-tests style results: each report() prints "PASS: ..." or
 * "FAIL: ...", and report_summary() prints
 * "SUMMARY: N tests, M failures[, K skipped]" and returns the exit status
 * (0 all passed, 1 otherwise) for the exit device. Any CPU may report. */
#ifndef GUEST_REPORT_H
#define GUEST_REPORT_H

#include <stdbool.h>

void report(bool pass, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void report_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A line of information: "INFO: ...". */
void report_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int report_summary(void);

#endif
