/* xensim daemon: the monotonic clock in ns, and a rate limit for log lines
 * a guest can provoke at will (one per interval at most). */
#ifndef XENSIM_RATELIMIT_H
#define XENSIM_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* The interval of the daemon's rate-limited log lines. */
#define LOG_INTERVAL_NS (5ull * 1000000000ull)

static inline uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Time for another line? *last is when the last one went (0: never). */
static inline bool log_due(uint64_t *last)
{
    uint64_t now = mono_ns();
    if (*last && now - *last < LOG_INTERVAL_NS)
        return false;
    *last = now ? now : 1;
    return true;
}

#endif
