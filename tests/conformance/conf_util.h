/* Conformance suite: markers, timing and xenstore helpers shared by the
 * conf-* programs. Each program runs inside one domain (on xensim or on real
 * Xen) and reports with one line per check:
 *   CONF-PASS <test>            the check held
 *   CONF-FAIL <test>: <why>     the check failed (or could not be run)
 *   CONF-INFO <text>            context only, never a verdict
 *   CONF-READY <what>           orchestration: dom0 may take the next step
 *   CONF-DONE <prog> failures=N the program finished its checks
 * Coordination goes through xenstore: dom0 writes under the domain's own
 * data/conf/ (peer ids, "finish"), programs publish under their data/conf/. */
#ifndef CONF_UTIL_H
#define CONF_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <xenstore.h>

/* Default wait for a peer or for dom0, in ms: generous, because real Xen under
 * QEMU emulation is two orders of magnitude slower than xensim. Overridable
 * with CONF_TIMEOUT_MS in the environment or a "timeout-ms" node written by
 * dom0 under data/conf/ (scenarios write it from CONF_WAIT_S). */
#define CONF_DEFAULT_TIMEOUT_MS 60000

void conf_init(const char *prog);
void conf_pass(const char *test);
void conf_fail(const char *test, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void conf_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void conf_ready(const char *what);
/* A check: pass if ok, else fail with the message. Returns ok. */
bool conf_check(bool ok, const char *test, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Setup could not be done: report it as a failure of "<prog>-setup", exit 2. */
void conf_die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
/* Print CONF-DONE and return the exit status (0 only without failures). */
int conf_done(void);

uint64_t conf_now_ms(void);
void conf_sleep_ms(unsigned ms);
int conf_timeout_ms(void);

struct xs_handle *conf_xs_open(void);
/* This domain's id, from the store ("domid" under its home). Dies on error. */
unsigned conf_my_domid(struct xs_handle *xs);
/* Wait until path is readable; returns the value (malloc'd) or NULL on
 * timeout with errno of the last attempt. */
char *conf_xs_wait(struct xs_handle *xs, const char *path, int timeout_ms);
/* Same, parsing an unsigned number; dies on timeout or a bad number. */
unsigned conf_xs_wait_uint(struct xs_handle *xs, const char *path, int timeout_ms);
/* body(xs, t, arg) in a transaction, run again on a conflict (EAGAIN), up
 * to 20 times: true if it committed, else false with errno (a body that
 * fails sets errno; the transaction is then abandoned). */
bool conf_xs_txn(struct xs_handle *xs,
                 bool (*body)(struct xs_handle *, xs_transaction_t, void *),
                 void *arg);
/* Write value and set perms in one transaction (retried on EAGAIN), so that
 * no reader ever sees the node with other permissions. */
bool conf_xs_publish(struct xs_handle *xs, const char *path, const char *value,
                     struct xs_permissions *perms, unsigned nperms);
/* Wait (up to timeout) for dom0's go-ahead to tear down: data/conf/finish. */
void conf_wait_finish(struct xs_handle *xs);
/* The peer domain id dom0 wrote to data/conf/<name> ("peer", "target"...);
 * waits five timeouts, then also takes data/conf/timeout-ms if dom0 set it. */
unsigned conf_peer(struct xs_handle *xs, const char *name);

/* Memory probes: 0 if the access went through, else the signal that stopped
 * it (SIGSEGV, SIGBUS; SIGALRM after 5 s of a kernel re-faulting silently). */
int conf_probe_write(volatile unsigned char *p, unsigned char v);
int conf_probe_read(const volatile unsigned char *p, unsigned char *out);

/* Deterministic pseudo-random bytes (xorshift64*): both ends of a transfer
 * can generate the stream the other must have received. */
struct conf_prng {
    uint64_t s;
    uint64_t buf;
    unsigned avail;
};
void conf_prng_seed(struct conf_prng *p, uint64_t seed);
void conf_prng_fill(struct conf_prng *p, void *dst, size_t n);
/* FNV-1a, 64 bit, incremental: h = conf_hash(h, data, n), start with
 * CONF_HASH_INIT. */
#define CONF_HASH_INIT 0xcbf29ce484222325ULL
uint64_t conf_hash(uint64_t h, const void *data, size_t n);

#endif
