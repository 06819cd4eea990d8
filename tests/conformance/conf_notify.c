/* conf-notify: unmap-notify when the other end of a shared page goes away
 * in the middle of a transfer.
 *
 *   conf-notify survivor grant|map
 *       the end that stays. "grant": it shares the page (the victim maps it
 *       with unmap-notify); "map": the victim shares it (with unmap-notify)
 *       and the survivor maps it. Either way the survivor allocates the event
 *       channel the victim binds and names in its notify request.
 *   conf-notify victim map|grant domain|proc
 *       the end that goes away: sets the live byte (offset 0) to 1 and keeps
 *       incrementing a counter (offset 8) in the page, never notifying.
 *       "domain": until dom0 destroys its domain. "proc": in a child process
 *       that it SIGKILLs itself when dom0 writes data/conf/kill (the domain
 *       lives on).
 *
 * The survivor reports CONF-READY notify-streaming once the counter moves,
 * then expects, within the timeout, an event whose arrival finds the live
 * byte cleared; then that the counter stopped and its page is still readable. */
#include "conf_util.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#define LIVE_OFF 0
#define COUNT_OFF 8

static volatile uint64_t *counter(void *page)
{
    return (volatile uint64_t *)((char *)page + COUNT_OFF);
}

static volatile unsigned char *live(void *page)
{
    return (volatile unsigned char *)page + LIVE_OFF;
}

static int survivor(bool grant)
{
    struct xs_handle *xs = conf_xs_open();
    unsigned me = conf_my_domid(xs);
    unsigned peer = conf_peer(xs, "peer");
    struct xs_permissions perms[2] = {
        { .id = me, .perms = XS_PERM_NONE }, { .id = peer, .perms = XS_PERM_READ } };
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    xengntshr_handle *xgs = NULL;
    xengnttab_handle *xgt = NULL;
    xenevtchn_port_or_error_t port;
    struct pollfd pfd;
    void *page;
    uint32_t ref;
    char val[32], path[96];
    uint64_t c0, end, t_ready, t_event = 0;
    unsigned char seen = 1, b;
    int sig;
    bool event = false;

    if (!xce)
        conf_die("xenevtchn_open: %s", strerror(errno));
    port = xenevtchn_bind_unbound_port(xce, peer);
    if (port < 0)
        conf_die("bind_unbound_port(dom%u): %s", peer, strerror(errno));
    snprintf(val, sizeof(val), "%d", port);
    if (grant) {
        xgs = xengntshr_open(NULL, 0);
        if (!xgs)
            conf_die("xengntshr_open: %s", strerror(errno));
        page = xengntshr_share_pages(xgs, peer, 1, &ref, 1);
        if (!page)
            conf_die("share a page with dom%u: %s", peer, strerror(errno));
        memset(page, 0, 4096);
        snprintf(val, sizeof(val), "%d %u", port, ref);
    }
    if (!conf_xs_publish(xs, "data/conf/notify", val, perms, 2))
        conf_die("publish data/conf/notify: %s", strerror(errno));
    if (!grant) {
        xgt = xengnttab_open(NULL, 0);
        if (!xgt)
            conf_die("xengnttab_open: %s", strerror(errno));
        snprintf(path, sizeof(path), "/local/domain/%u/data/conf/notify-ref", peer);
        ref = conf_xs_wait_uint(xs, path, conf_timeout_ms());
        page = xengnttab_map_grant_ref(xgt, peer, ref, PROT_READ | PROT_WRITE);
        if (!page)
            conf_die("map dom%u's ref %u: %s", peer, ref, strerror(errno));
    }

    /* Mid-transfer: the live byte is up and the counter moves. */
    end = conf_now_ms() + (uint64_t)conf_timeout_ms();
    while (*live(page) != 1 && conf_now_ms() < end)
        conf_sleep_ms(5);
    c0 = *counter(page);
    for (int i = 0; i < 100 && *counter(page) == c0; i++)
        conf_sleep_ms(20);
    if (!conf_check(*live(page) == 1 && *counter(page) != c0, "notify-transfer-running",
                    "live byte %u, counter %llu -> %llu", *live(page),
                    (unsigned long long)c0, (unsigned long long)*counter(page)))
        conf_die("the victim never started");
    t_ready = conf_now_ms();
    conf_ready("notify-streaming");

    /* The victim never notifies: the next event is the unmap-notify. */
    pfd.fd = xenevtchn_fd(xce);
    pfd.events = POLLIN;
    end = conf_now_ms() + (uint64_t)conf_timeout_ms();
    while (!event && conf_now_ms() < end) {
        xenevtchn_port_or_error_t p;

        if (poll(&pfd, 1, 100) <= 0)
            continue;
        p = xenevtchn_pending(xce);
        if (p < 0)
            continue;
        xenevtchn_unmask(xce, (evtchn_port_t)p);
        if (p != port) {
            conf_info("event on unexpected port %d", p);
            continue;
        }
        seen = *live(page);
        event = true;
        t_event = conf_now_ms();
    }
    if (conf_check(event, "notify-event", "no event within %d ms (live byte now %u)",
                   conf_timeout_ms(), *live(page))) {
        conf_info("event %llu ms after the transfer was seen running",
                  (unsigned long long)(t_event - t_ready));
        conf_check(seen == 0, "notify-live-cleared",
                   "the live byte was %u when the event arrived", seen);
    } else {
        conf_check(*live(page) == 0, "notify-live-cleared",
                   "the live byte is still %u", *live(page));
    }
    c0 = *counter(page);
    conf_sleep_ms(500);
    conf_check(*counter(page) == c0, "notify-transfer-stopped",
               "the counter still moves after the notify (%llu -> %llu)",
               (unsigned long long)c0, (unsigned long long)*counter(page));
    /* The page stays valid for the survivor until it unmaps, as on Xen. */
    sig = conf_probe_read(live(page), &b);
    conf_check(sig == 0, "notify-page-still-mapped", "reading the page after the peer left: %s",
               strsignal(sig));
    conf_ready("notify-checked");

    conf_wait_finish(xs);
    if (grant) {
        xengntshr_unshare(xgs, page, 1);
        xengntshr_close(xgs);
    } else {
        xengnttab_unmap(xgt, page, 1);
        xengnttab_close(xgt);
    }
    xenevtchn_close(xce);
    xs_close(xs);
    return conf_done();
}

/* Set up the victim's end and stream; returns only on a setup failure. */
static void victim_stream(bool map, int ready_fd)
{
    struct xs_handle *xs = conf_xs_open();
    unsigned me = conf_my_domid(xs);
    unsigned peer = conf_peer(xs, "peer");
    struct xs_permissions perms[2] = {
        { .id = me, .perms = XS_PERM_NONE }, { .id = peer, .perms = XS_PERM_READ } };
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    xenevtchn_port_or_error_t local;
    char path[96], *v;
    unsigned port, ref = 0;
    void *page;

    if (!xce)
        conf_die("xenevtchn_open: %s", strerror(errno));
    snprintf(path, sizeof(path), "/local/domain/%u/data/conf/notify", peer);
    v = conf_xs_wait(xs, path, conf_timeout_ms());
    if (!v || sscanf(v, "%u %u", &port, &ref) < (map ? 2 : 1))
        conf_die("read %s: %s", path, v ? v : strerror(errno));
    free(v);
    local = xenevtchn_bind_interdomain(xce, peer, port);
    if (local < 0)
        conf_die("bind dom%u port %u: %s", peer, port, strerror(errno));
    if (map) {
        xengnttab_handle *xgt = xengnttab_open(NULL, 0);

        if (!xgt)
            conf_die("xengnttab_open: %s", strerror(errno));
        page = xengnttab_map_grant_ref_notify(xgt, peer, ref, PROT_READ | PROT_WRITE,
                                              LIVE_OFF, (evtchn_port_t)local);
        if (!page)
            conf_die("map dom%u ref %u with notify: %s", peer, ref, strerror(errno));
    } else {
        xengntshr_handle *xgs = xengntshr_open(NULL, 0);
        char val[16];

        if (!xgs)
            conf_die("xengntshr_open: %s", strerror(errno));
        page = xengntshr_share_page_notify(xgs, peer, &ref, 1, LIVE_OFF, (evtchn_port_t)local);
        if (!page)
            conf_die("share a page with dom%u with notify: %s", peer, strerror(errno));
        memset(page, 0, 4096);
        snprintf(val, sizeof(val), "%u", ref);
        if (!conf_xs_publish(xs, "data/conf/notify-ref", val, perms, 2))
            conf_die("publish data/conf/notify-ref: %s", strerror(errno));
    }
    conf_pass("notify-victim-setup");
    *live(page) = 1;
    __sync_synchronize();
    conf_ready("notify-victim-streaming");
    if (ready_fd >= 0) {
        if (write(ready_fd, "r", 1) != 1)
            conf_die("tell the parent: %s", strerror(errno));
        close(ready_fd);
    }
    /* Gentle: a spinning guest would starve dom0 on an emulated host. */
    for (;;) {
        (*counter(page))++;
        usleep(2000);
    }
}

static int victim(bool map, bool proc)
{
    struct xs_handle *xs;
    int fds[2], status;
    char *v;
    pid_t child;
    char c;

    if (!proc) {
        victim_stream(map, -1);
        return conf_done();
    }
    if (pipe(fds))
        conf_die("pipe: %s", strerror(errno));
    child = fork();
    if (child < 0)
        conf_die("fork: %s", strerror(errno));
    if (child == 0) {
        close(fds[0]);
        victim_stream(map, fds[1]);
        _exit(2);
    }
    close(fds[1]);
    if (read(fds[0], &c, 1) != 1) {
        waitpid(child, &status, 0);
        conf_die("the streaming child died before it streamed");
    }
    /* Kill only once dom0 says the survivor saw the transfer running: a
     * share whose owner is gone cannot be mapped any more. */
    xs = conf_xs_open();
    v = conf_xs_wait(xs, "data/conf/kill", conf_timeout_ms());
    if (!v)
        conf_info("no kill from dom0 within %d ms; killing anyway", conf_timeout_ms());
    free(v);
    kill(child, SIGKILL);
    waitpid(child, &status, 0);
    conf_info("streaming child killed (%s)",
              WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exited");
    conf_wait_finish(xs);
    xs_close(xs);
    return conf_done();
}

int main(int argc, char **argv)
{
    conf_init(argv[0]);
    if (argc == 3 && !strcmp(argv[1], "survivor") &&
        (!strcmp(argv[2], "grant") || !strcmp(argv[2], "map")))
        return survivor(!strcmp(argv[2], "grant"));
    if (argc == 4 && !strcmp(argv[1], "victim") &&
        (!strcmp(argv[2], "map") || !strcmp(argv[2], "grant")) &&
        (!strcmp(argv[3], "domain") || !strcmp(argv[3], "proc")))
        return victim(!strcmp(argv[2], "map"), !strcmp(argv[3], "proc"));
    fprintf(stderr, "usage: %s survivor grant|map | victim map|grant domain|proc\n", argv[0]);
    return 2;
}
