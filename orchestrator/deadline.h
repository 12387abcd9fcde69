/* SPDX-License-Identifier: Apache-2.0 */
/* deadline: CLOCK_MONOTONIC time in nanoseconds, and poll timeouts from it. */
#ifndef VMRUN_DEADLINE_H
#define VMRUN_DEADLINE_H

#include <stdint.h>

#define DEADLINE_NS_PER_MS 1000000LL
#define DEADLINE_NS_PER_S 1000000000LL

int64_t deadline_now(void);
/* Milliseconds until deadline for poll(2), rounded up, 0 when passed. */
int deadline_poll_ms(int64_t deadline);
int64_t deadline_after_s(double seconds);
double deadline_ms_between(int64_t from, int64_t to);

#endif
