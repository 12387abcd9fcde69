/* SPDX-License-Identifier: Apache-2.0 */
#include "deadline.h"

#include <time.h>

int64_t
deadline_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * DEADLINE_NS_PER_S + ts.tv_nsec;
}

int
deadline_poll_ms(int64_t deadline)
{
    int64_t left = deadline - deadline_now();

    if (left <= 0)
        return 0;
    left = (left + DEADLINE_NS_PER_MS - 1) / DEADLINE_NS_PER_MS;
    return left > 60000 ? 60000 : (int)left;
}

int64_t
deadline_after_s(double seconds)
{
    return deadline_now() + (int64_t)(seconds * (double)DEADLINE_NS_PER_S);
}

double
deadline_ms_between(int64_t from, int64_t to)
{
    return (double)(to - from) / (double)DEADLINE_NS_PER_MS;
}
