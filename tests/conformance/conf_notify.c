/* conf-notify: what the other end of a shared page sees when its peer goes
 * away in the middle of a transfer.
 *
 *   conf-notify survivor grant|map [notify|death]
 *       the end that stays. "grant": it shares the page (the victim maps it
 *       with unmap-notify); "map": the victim shares it (with unmap-notify)
 *       and the survivor maps it. Either way the survivor allocates the event
 *       channel the victim binds and names in its notify request.
 *       "notify" (default): the victim's process dies in a living domain,
 *       and its kernel fires the unmap-notify: an event whose arrival finds
 *       the live byte cleared.
 *       "fork": the victim's process dies while a child it forked after
 *       mapping or sharing still holds the device's descriptor (Linux PV).
 *       A gntdev mapping's live byte is cleared at the death, with no
 *       event while the child holds on; a gntalloc share's byte stays 1,
 *       with no event. Once dom0 writes data/conf/release in the victim's
 *       home, the child exits and the event comes (the byte then 0).
 *       "death": the victim's whole domain is destroyed. As on Xen, no
 *       unmap-notify fires (no kernel of the dead domain runs again); the
 *       survivor learns of the death through @releaseDomain, which dom0 must
 *       have opened to it (read permission on the special node), and then
 *       finds the node the victim had published for it gone.
 *   conf-notify victim map|grant domain|proc|fork|exec
 *       the end that goes away: publishes data/conf/alive for its peer, sets
 *       the live byte (offset 0) to 1 and keeps incrementing a counter
 *       (offset 8) in the page, never notifying. "domain": until dom0
 *       destroys its domain. "proc": in a child process that it SIGKILLs
 *       itself when dom0 writes data/conf/kill (the domain lives on).
 *       "fork": as proc, but the streaming child first forks a holder
 *       that keeps every inherited descriptor until data/conf/release; the
 *       holder checks what it inherited of the page: nothing of a gntdev
 *       mapping (VM_DONTCOPY in PV), the whole gntalloc mapping.
 *       "exec": as fork, but the holder then execs a shell that waits for
 *       the release on its stdin: it keeps the descriptors not marked
 *       close-on-exec (Xen 4.17's library opens gntalloc so, gntdev not),
 *       but no mapping.  A share lives as long as a mapping of it, not as
 *       long as its descriptor: the survivor sees what "notify" sees.
 *   conf-notify outsider
 *       a domain dom0 did not open @releaseDomain to, watching it while the
 *       victims die (until dom0 writes data/conf/finish): Xen 4.17 accepts
 *       its watch and sends the event every new watch gets at once, but
 *       never a @releaseDomain event; IS_DOMAIN_INTRODUCED and SET_PERMS on
 *       the special node are refused with EACCES.
 *
 * Either survivor reports CONF-READY notify-streaming once the counter moves;
 * then each reports its checks and CONF-READY notify-checked ("notify") or
 * CONF-READY death-checked ("death"), and waits for data/conf/finish.
 * "fork" reports CONF-READY fork-held-checked before the release and
 * CONF-READY notify-checked after it. */
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
#define RELEASE_TOKEN "conf-release"
/* How long a dead peer's unmap-notify may still come late: a few seconds
 * (the notify, when there is one, is immediate). */
#define DEATH_QUIET_MS 3000

static volatile uint64_t *counter(void *page)
{
    return (volatile uint64_t *)((char *)page + COUNT_OFF);
}

static volatile unsigned char *live(void *page)
{
    return (volatile unsigned char *)page + LIVE_OFF;
}

struct survivor {
    struct xs_handle *xs;
    unsigned me, peer;
    bool grant;
    xenevtchn_handle *xce;
    xenevtchn_port_or_error_t port;
    xengntshr_handle *xgs;
    xengnttab_handle *xgt;
    void *page;
    char alive_path[96]; /* the node the victim publishes for us */
};

/* Watch @releaseDomain and take the event every new watch gets at once.
 * test_prefix names the two checks ("death" or "outsider"). */
static bool watch_release(struct xs_handle *xs, const char *test_prefix)
{
    char test[64];
    uint64_t end;
    bool initial = false;

    snprintf(test, sizeof(test), "%s-release-watch-accepted", test_prefix);
    if (!conf_check(xs_watch(xs, "@releaseDomain", RELEASE_TOKEN), test,
                    "xs_watch(@releaseDomain): %s", strerror(errno)))
        return false;
    if (xs_fileno(xs) < 0)
        conf_die("xs_fileno: %s", strerror(errno));
    end = conf_now_ms() + (uint64_t)conf_timeout_ms();
    while (!initial && conf_now_ms() < end) {
        struct pollfd pfd = { .fd = xs_fileno(xs), .events = POLLIN };
        char **vec;

        if (poll(&pfd, 1, 100) <= 0)
            continue;
        while ((vec = xs_check_watch(xs)) != NULL) {
            if (!strcmp(vec[XS_WATCH_TOKEN], RELEASE_TOKEN))
                initial = true;
            free(vec);
        }
    }
    snprintf(test, sizeof(test), "%s-release-initial-event", test_prefix);
    return conf_check(initial, test, "no event within %d ms of setting the watch",
                      conf_timeout_ms());
}

static void survivor_setup(struct survivor *s, bool grant)
{
    struct xs_permissions perms[2];
    uint32_t ref;
    char val[32], path[96];

    memset(s, 0, sizeof(*s));
    s->grant = grant;
    s->xs = conf_xs_open();
    s->me = conf_my_domid(s->xs);
    s->peer = conf_peer(s->xs, "peer");
    perms[0] = (struct xs_permissions){ .id = s->me, .perms = XS_PERM_NONE };
    perms[1] = (struct xs_permissions){ .id = s->peer, .perms = XS_PERM_READ };
    snprintf(s->alive_path, sizeof(s->alive_path), "/local/domain/%u/data/conf/alive",
             s->peer);
    s->xce = xenevtchn_open(NULL, 0);
    if (!s->xce)
        conf_die("xenevtchn_open: %s", strerror(errno));
    s->port = xenevtchn_bind_unbound_port(s->xce, s->peer);
    if (s->port < 0)
        conf_die("bind_unbound_port(dom%u): %s", s->peer, strerror(errno));
    snprintf(val, sizeof(val), "%d", s->port);
    if (grant) {
        s->xgs = xengntshr_open(NULL, 0);
        if (!s->xgs)
            conf_die("xengntshr_open: %s", strerror(errno));
        s->page = xengntshr_share_pages(s->xgs, s->peer, 1, &ref, 1);
        if (!s->page)
            conf_die("share a page with dom%u: %s", s->peer, strerror(errno));
        memset(s->page, 0, 4096);
        snprintf(val, sizeof(val), "%d %u", s->port, ref);
    }
    if (!conf_xs_publish(s->xs, "data/conf/notify", val, perms, 2))
        conf_die("publish data/conf/notify: %s", strerror(errno));
    if (!grant) {
        s->xgt = xengnttab_open(NULL, 0);
        if (!s->xgt)
            conf_die("xengnttab_open: %s", strerror(errno));
        snprintf(path, sizeof(path), "/local/domain/%u/data/conf/notify-ref", s->peer);
        ref = conf_xs_wait_uint(s->xs, path, conf_timeout_ms());
        s->page = xengnttab_map_grant_ref(s->xgt, s->peer, ref, PROT_READ | PROT_WRITE);
        if (!s->page)
            conf_die("map dom%u's ref %u: %s", s->peer, ref, strerror(errno));
    }
}

/* Mid-transfer: the live byte is up and the counter moves. */
static void survivor_see_streaming(struct survivor *s)
{
    uint64_t c0, end = conf_now_ms() + (uint64_t)conf_timeout_ms();

    while (*live(s->page) != 1 && conf_now_ms() < end)
        conf_sleep_ms(5);
    c0 = *counter(s->page);
    for (int i = 0; i < 100 && *counter(s->page) == c0; i++)
        conf_sleep_ms(20);
    if (!conf_check(*live(s->page) == 1 && *counter(s->page) != c0,
                    "notify-transfer-running", "live byte %u, counter %llu -> %llu",
                    *live(s->page), (unsigned long long)c0,
                    (unsigned long long)*counter(s->page)))
        conf_die("the victim never started");
}

/* The counter no longer moves, and the page still reads. */
static void survivor_check_after(struct survivor *s, const char *stopped_test,
                                 const char *mapped_test)
{
    uint64_t c0 = *counter(s->page);
    unsigned char b;
    int sig;

    conf_sleep_ms(500);
    conf_check(*counter(s->page) == c0, stopped_test,
               "the counter still moves after the peer left (%llu -> %llu)",
               (unsigned long long)c0, (unsigned long long)*counter(s->page));
    /* The page stays valid for the survivor until it unmaps, as on Xen. */
    sig = conf_probe_read(live(s->page), &b);
    conf_check(sig == 0, mapped_test, "reading the page after the peer left: %s",
               strsignal(sig));
}

static int survivor_teardown(struct survivor *s)
{
    conf_wait_finish(s->xs);
    if (s->grant) {
        xengntshr_unshare(s->xgs, s->page, 1);
        xengntshr_close(s->xgs);
    } else {
        xengnttab_unmap(s->xgt, s->page, 1);
        xengnttab_close(s->xgt);
    }
    xenevtchn_close(s->xce);
    xs_close(s->xs);
    return conf_done();
}

/* Take the next event on the notify port, waiting up to ms; the live byte
 * at its arrival goes to *live_at. */
static bool survivor_event(struct survivor *s, int ms, unsigned char *live_at)
{
    struct pollfd pfd = { .fd = xenevtchn_fd(s->xce), .events = POLLIN };
    uint64_t end = conf_now_ms() + (uint64_t)ms;

    while (conf_now_ms() < end) {
        xenevtchn_port_or_error_t p;

        if (poll(&pfd, 1, 20) <= 0)
            continue;
        p = xenevtchn_pending(s->xce);
        if (p < 0)
            continue;
        xenevtchn_unmask(s->xce, (evtchn_port_t)p);
        if (p != s->port) {
            conf_info("event on unexpected port %d", p);
            continue;
        }
        *live_at = *live(s->page);
        return true;
    }
    return false;
}

/* Process death in a living domain: its kernel fires the unmap-notify. */
static int survivor_notify(bool grant)
{
    struct survivor s;
    uint64_t t_ready, t_event;
    unsigned char seen = 1;
    bool event;

    survivor_setup(&s, grant);
    survivor_see_streaming(&s);
    t_ready = conf_now_ms();
    conf_ready("notify-streaming");

    /* The victim never notifies: the next event is the unmap-notify. */
    event = survivor_event(&s, conf_timeout_ms(), &seen);
    t_event = conf_now_ms();
    if (conf_check(event, "notify-event", "no event within %d ms (live byte now %u)",
                   conf_timeout_ms(), *live(s.page))) {
        conf_info("event %llu ms after the transfer was seen running",
                  (unsigned long long)(t_event - t_ready));
        conf_check(seen == 0, "notify-live-cleared",
                   "the live byte was %u when the event arrived", seen);
    } else {
        conf_check(*live(s.page) == 0, "notify-live-cleared",
                   "the live byte is still %u", *live(s.page));
    }
    survivor_check_after(&s, "notify-transfer-stopped", "notify-page-still-mapped");
    conf_ready("notify-checked");
    return survivor_teardown(&s);
}

/* The victim's process dies while a child of it holds the descriptor. */
static int survivor_fork(bool grant)
{
    struct survivor s;
    uint64_t c0, t_stop, t_clear = 0, end;
    unsigned char at = 1;
    bool mapper = grant; /* we share, so the victim maps: gntdev */
    bool ev;

    survivor_setup(&s, grant);
    survivor_see_streaming(&s);
    conf_ready("notify-streaming");

    /* The death: the counter stands still for 300 ms. */
    end = conf_now_ms() + (uint64_t)conf_timeout_ms();
    c0 = *counter(s.page);
    t_stop = conf_now_ms();
    while (conf_now_ms() < end && conf_now_ms() - t_stop < 300) {
        conf_sleep_ms(10);
        if (*counter(s.page) != c0) {
            c0 = *counter(s.page);
            t_stop = conf_now_ms();
        }
    }
    if (!conf_check(conf_now_ms() - t_stop >= 300, "fork-transfer-stopped",
                    "the counter still moves %d ms after the transfer ran",
                    conf_timeout_ms()))
        conf_die("the victim never died");
    if (mapper) {
        /* gntdev: the byte goes with the dead process's address space. */
        while (*live(s.page) != 0 && conf_now_ms() < end)
            conf_sleep_ms(5);
        t_clear = conf_now_ms();
        if (conf_check(*live(s.page) == 0, "fork-live-cleared-at-death",
                       "the live byte is still %u %d ms after the death",
                       *live(s.page), conf_timeout_ms()))
            conf_info("live byte 0 at most %lld ms after the counter stopped",
                      (long long)t_clear - (long long)t_stop);
    }
    /* Nobody sends the event while the child holds the descriptor. */
    ev = survivor_event(&s, DEATH_QUIET_MS, &at);
    conf_check(!ev, "fork-no-event-while-held",
               "an event on the notify port (live byte %u) while the victim's "
               "child still holds the descriptor", at);
    if (!mapper)
        conf_check(*live(s.page) == 1, "fork-live-kept-while-held",
                   "the live byte is %u: a gntalloc share lives while any "
                   "holder of its descriptor does", *live(s.page));
    conf_ready("fork-held-checked");

    /* dom0 lets the child go: now the event. */
    if (!ev)
        ev = survivor_event(&s, conf_timeout_ms(), &at);
    if (conf_check(ev, "fork-event-at-release",
                   "no event within %d ms of the release (live byte %u)",
                   conf_timeout_ms(), *live(s.page)))
        conf_check(at == 0, "fork-live-cleared-at-release",
                   "the live byte was %u when the event arrived", at);
    survivor_check_after(&s, "notify-transfer-stopped", "notify-page-still-mapped");
    conf_ready("notify-checked");
    return survivor_teardown(&s);
}

/* Is the peer's node gone? A guest cannot ask xenstored whether a domain
 * exists (IS_DOMAIN_INTRODUCED is for privileged callers), but the node the
 * peer published for it goes with the peer's domain: the read then fails,
 * with EACCES rather than ENOENT since the nearest node left
 * (/local/domain) is not the guest's to read. */
static bool peer_gone(struct survivor *s, int *err)
{
    char *v = xs_read(s->xs, XBT_NULL, s->alive_path, NULL);

    if (v) {
        free(v);
        return false;
    }
    *err = errno;
    return *err == EACCES || *err == ENOENT;
}

/* Domain death: no unmap-notify, but @releaseDomain (dom0 allowed it). */
static int survivor_death(bool grant)
{
    struct survivor s;
    struct pollfd pfd[2];
    uint64_t end, now, t_ready, t_release = 0, t_gone = 0, quiet_end = 0;
    unsigned releases = 0, notifies = 0;
    unsigned char live_at_event = 1;
    int gone_err = 0, last_err = 0;
    bool gone = false;
    char *v;

    survivor_setup(&s, grant);
    watch_release(s.xs, "death");
    v = conf_xs_wait(s.xs, s.alive_path, conf_timeout_ms());
    conf_check(v != NULL, "death-peer-node-readable", "%s: %s", s.alive_path,
               strerror(errno));
    free(v);
    survivor_see_streaming(&s);
    t_ready = conf_now_ms();
    conf_ready("notify-streaming");

    /* Until the peer is gone (or the timeout), then a few seconds more in
     * case an unmap-notify comes late. */
    pfd[0] = (struct pollfd){ .fd = xenevtchn_fd(s.xce), .events = POLLIN };
    pfd[1] = (struct pollfd){ .fd = xs_fileno(s.xs), .events = POLLIN };
    end = t_ready + (uint64_t)conf_timeout_ms();
    for (now = conf_now_ms(); gone ? now < quiet_end : now < end; now = conf_now_ms()) {
        char **vec;

        if (poll(pfd, 2, 100) > 0 && (pfd[0].revents & POLLIN)) {
            xenevtchn_port_or_error_t p = xenevtchn_pending(s.xce);

            if (p >= 0) {
                xenevtchn_unmask(s.xce, (evtchn_port_t)p);
                if (p == s.port) {
                    if (!notifies++)
                        live_at_event = *live(s.page);
                } else {
                    conf_info("event on unexpected port %d", p);
                }
            }
        }
        while ((vec = xs_check_watch(s.xs)) != NULL) {
            if (!strcmp(vec[XS_WATCH_TOKEN], RELEASE_TOKEN) && !releases++)
                t_release = conf_now_ms();
            free(vec);
        }
        /* Only what follows a @releaseDomain event counts. */
        if (releases && !gone) {
            gone = peer_gone(&s, &gone_err);
            last_err = gone_err;
            if (gone) {
                t_gone = conf_now_ms();
                quiet_end = t_gone + DEATH_QUIET_MS;
            }
        }
    }
    if (conf_check(releases > 0, "death-release-event",
                   "no @releaseDomain event within %d ms of the transfer running",
                   conf_timeout_ms()))
        conf_info("%u @releaseDomain event(s), the first %llu ms after the transfer "
                  "was seen running", releases, (unsigned long long)(t_release - t_ready));
    if (conf_check(gone, "death-peer-gone", "after @releaseDomain, %s %s", s.alive_path,
                   releases ? (last_err ? strerror(last_err) : "is still readable")
                            : "was never checked"))
        conf_info("%s unreadable (%s) %llu ms after the first @releaseDomain",
                  s.alive_path, strerror(gone_err),
                  (unsigned long long)(t_gone - t_release));
    conf_check(notifies == 0, "death-no-notify-event",
               "%u event(s) on the notify port (live byte %u at the first): a destroyed "
               "domain fires no unmap-notify on Xen", notifies, live_at_event);
    conf_check(*live(s.page) == 1, "death-live-byte-kept",
               "the live byte is %u: nothing may clear it when the whole domain dies",
               *live(s.page));
    survivor_check_after(&s, "death-transfer-stopped", "death-page-still-mapped");
    conf_ready("death-checked");
    return survivor_teardown(&s);
}

/* A domain dom0 did not open @releaseDomain to. */
static int outsider(void)
{
    struct xs_handle *xs = conf_xs_open();
    unsigned me = conf_my_domid(xs);
    unsigned peer = conf_peer(xs, "peer");
    struct xs_permissions perms[2] = {
        { .id = 0, .perms = XS_PERM_NONE }, { .id = me, .perms = XS_PERM_READ } };
    uint64_t end;
    unsigned releases = 0;
    bool introduced, finished = false, watching;
    int err;

    errno = 0;
    introduced = xs_is_domain_introduced(xs, peer);
    err = errno;
    conf_check(!introduced && err == EACCES, "outsider-is-introduced-refused",
               "IS_DOMAIN_INTRODUCED(%u) from a guest: %s (%s); Xen 4.17 refuses it "
               "with EACCES", peer, introduced ? "T" : "F", strerror(err));
    /* Result and errno taken before conf_check: its arguments are
     * evaluated in no fixed order. Xen 4.17 refuses a guest here, but the
     * code it answers with is whatever errno xenstored last had (its
     * do_set_perms returns errno, not set_perms_special's EACCES): EINVAL
     * and ENOENT seen on Debian's 4.17.7. Any refusal counts. */
    errno = 0;
    bool set_ok = xs_set_permissions(xs, XBT_NULL, "@releaseDomain", perms, 2);
    int set_err = errno;
    conf_check(!set_ok, "outsider-release-perms-refused",
               "SET_PERMS @releaseDomain from a guest: accepted");
    if (!set_ok)
        conf_info("SET_PERMS @releaseDomain from a guest refused with %s", strerror(set_err));
    watching = watch_release(xs, "outsider");
    conf_ready("outsider-watching");

    /* dom0 says finish once the survivors have seen their @releaseDomain
     * events: any event the outsider were sent for the same deaths is on
     * its connection before the reply to that read. */
    end = conf_now_ms() + 5 * (uint64_t)conf_timeout_ms();
    while (!finished && conf_now_ms() < end) {
        char **vec, *v;

        v = xs_read(xs, XBT_NULL, "data/conf/finish", NULL);
        finished = v != NULL;
        free(v);
        while ((vec = xs_check_watch(xs)) != NULL) {
            if (!strcmp(vec[XS_WATCH_TOKEN], RELEASE_TOKEN))
                releases++;
            free(vec);
        }
        if (!finished)
            conf_sleep_ms(100);
    }
    if (!finished)
        conf_info("no finish from dom0 within %d ms", 5 * conf_timeout_ms());
    conf_check(watching && finished && releases == 0, "outsider-no-release-event",
               "%s%u @releaseDomain event(s) without read permission on it",
               !watching ? "no watch; " : !finished ? "no finish from dom0; " : "",
               releases);
    xs_close(xs);
    return conf_done();
}

/* The holder: a child of the streaming process that keeps every inherited
 * descriptor (gntdev or gntalloc among them) until hold_rd says go. */
static void victim_holder(bool map, void *page, int hold_rd, bool do_exec)
{
    unsigned char vec;
    char c;
    bool mapped = mincore(page, 4096, &vec) == 0;

    if (do_exec) {
        /* Its stdin the hold pipe: the shell's read ends at the release. */
        if (dup2(hold_rd, 0) < 0)
            conf_die("holder: dup2: %s", strerror(errno));
        execl("/bin/sh", "sh", "-c", "read x; exit 0", (char *)NULL);
        conf_die("holder: exec /bin/sh: %s", strerror(errno));
    }

    /* gntdev's mapping is VM_DONTCOPY (PV); gntalloc's is copied. */
    if (map)
        conf_check(!mapped, "notify-holder-map-not-inherited",
                   "the gntdev mapping is in the forked child");
    else
        conf_check(mapped, "notify-holder-share-inherited",
                   "the gntalloc mapping is not in the forked child: %s",
                   strerror(errno));
    fflush(stdout);
    if (read(hold_rd, &c, 1) < 0)
        conf_info("holder: read: %s", strerror(errno));
    conf_info("holder lets go");
    fflush(stdout);
    _exit(0);
}

/* Set up the victim's end and stream; returns only on a setup failure.
 * With hold_rd >= 0, fork a holder first (victim_holder). */
static void victim_stream(bool map, int ready_fd, int hold_rd, bool do_exec)
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
    /* Something the peer can read while this domain lives. */
    if (!conf_xs_publish(xs, "data/conf/alive", "1", perms, 2))
        conf_die("publish data/conf/alive: %s", strerror(errno));
    conf_pass("notify-victim-setup");
    if (hold_rd >= 0) {
        pid_t h;

        fflush(NULL); /* nothing buffered twice */
        h = fork();
        if (h < 0)
            conf_die("fork the holder: %s", strerror(errno));
        if (h == 0)
            victim_holder(map, page, hold_rd, do_exec);
        close(hold_rd);
    }
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

static int victim(bool map, bool proc, bool holder, bool do_exec)
{
    struct xs_handle *xs;
    int fds[2], hold[2] = { -1, -1 }, status;
    char *v;
    pid_t child;
    char c;

    if (!proc) {
        victim_stream(map, -1, -1, false);
        return conf_done();
    }
    if (pipe(fds) || (holder && pipe(hold)))
        conf_die("pipe: %s", strerror(errno));
    child = fork();
    if (child < 0)
        conf_die("fork: %s", strerror(errno));
    if (child == 0) {
        close(fds[0]);
        if (holder)
            close(hold[1]);
        victim_stream(map, fds[1], hold[0], do_exec);
        _exit(2);
    }
    close(fds[1]);
    if (holder)
        close(hold[0]);
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
    if (holder) {
        v = conf_xs_wait(xs, "data/conf/release", 5 * conf_timeout_ms());
        if (!v)
            conf_info("no release from dom0; releasing anyway");
        free(v);
        close(hold[1]); /* the holder's read returns: it exits */
    }
    conf_wait_finish(xs);
    xs_close(xs);
    return conf_done();
}

int main(int argc, char **argv)
{
    conf_init(argv[0]);
    if ((argc == 3 || argc == 4) && !strcmp(argv[1], "survivor") &&
        (!strcmp(argv[2], "grant") || !strcmp(argv[2], "map")) &&
        (argc == 3 || !strcmp(argv[3], "notify") || !strcmp(argv[3], "death") ||
         !strcmp(argv[3], "fork"))) {
        bool grant = !strcmp(argv[2], "grant");
        const char *how = argc == 4 ? argv[3] : "notify";

        return !strcmp(how, "death") ? survivor_death(grant)
               : !strcmp(how, "fork") ? survivor_fork(grant)
                                      : survivor_notify(grant);
    }
    if (argc == 4 && !strcmp(argv[1], "victim") &&
        (!strcmp(argv[2], "map") || !strcmp(argv[2], "grant")) &&
        (!strcmp(argv[3], "domain") || !strcmp(argv[3], "proc") ||
         !strcmp(argv[3], "fork") || !strcmp(argv[3], "exec")))
        return victim(!strcmp(argv[2], "map"), strcmp(argv[3], "domain") != 0,
                      !strcmp(argv[3], "fork") || !strcmp(argv[3], "exec"),
                      !strcmp(argv[3], "exec"));
    if (argc == 2 && !strcmp(argv[1], "outsider"))
        return outsider();
    fprintf(stderr, "usage: %s survivor grant|map [notify|death|fork] | "
            "victim map|grant domain|proc|fork|exec | outsider\n", argv[0]);
    return 2;
}
