/* A guest that uses up its descriptor budget in xensim's daemon (hog), and
 * one that must keep working meanwhile (use); fd-budget-sim.sh drives them.
 *
 *   hog RELEASE_FILE: bind ports until refused, try one more connection,
 *       then share pages until refused and try a store connection; print
 *       what it got, hold everything until RELEASE_FILE exists, release,
 *       and check there is room again.
 *   use: a connection, a port, a share, four more connections and a store
 *       connection that answers.
 * Exits 0 when every step went as expected; each line says what happened. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>

#define MAX_TRIES 4096

/* Does a new store connection answer?  (Over budget, the daemon closes it
 * unanswered: the read fails.) */
static bool store_answers(void)
{
    struct xs_handle *xs = xs_open(0);
    char *v = xs ? xs_read(xs, XBT_NULL, "domid", NULL) : NULL;
    bool ok = v != NULL;
    free(v);
    if (xs)
        xs_close(xs);
    return ok;
}

static int bind_until_refused(xenevtchn_handle *xce, int *err)
{
    int n = 0;
    while (n < MAX_TRIES && xenevtchn_bind_unbound_port(xce, 0) >= 0)
        n++;
    *err = errno;
    return n;
}

/* A closed handle's descriptors go back once the daemon reads the EOF of
 * its connection, a moment later: retry for up to 3 s. */
static xengntshr_handle *gntshr_open_retry(void)
{
    xengntshr_handle *h = NULL;
    for (int i = 0; i < 30 && !(h = xengntshr_open(NULL, 0)); i++)
        usleep(100000);
    return h;
}

static int ports_again(int want)
{
    int got = -1, err;
    for (int i = 0; i < 30 && got != want; i++) {
        xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
        got = xce ? bind_until_refused(xce, &err) : -1;
        if (xce)
            xenevtchn_close(xce);
        if (got != want)
            usleep(100000);
    }
    return got;
}

static int hog(const char *release)
{
    int ok = 1, err;
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    if (!xce) {
        printf("hog: xenevtchn_open: %s\n", strerror(errno));
        return 1;
    }
    int ports = bind_until_refused(xce, &err);
    printf("ports %d refused %s\n", ports, strerror(err));
    ok &= err == EMFILE && ports > 0;
    /* Full: a new connection is closed unanswered. */
    xenevtchn_handle *more = xenevtchn_open(NULL, 0);
    printf("connection %s\n", more ? "accepted" : "refused");
    ok &= !more;
    xenevtchn_close(xce);

    xengntshr_handle *shr = gntshr_open_retry();
    if (!shr) {
        printf("hog: xengntshr_open after closing the ports: %s\n",
               strerror(errno));
        return 1;
    }
    void *pages[MAX_TRIES];
    int shares = 0;
    uint32_t ref;
    while (shares < MAX_TRIES &&
           (pages[shares] = xengntshr_share_pages(shr, 0, 1, &ref, 1)))
        shares++;
    err = errno;
    printf("shares %d refused %s\n", shares, strerror(err));
    ok &= err == EMFILE && shares > 0;
    bool store = store_answers();
    printf("store connection %s\n", store ? "accepted" : "refused");
    ok &= !store;
    printf("holding\n");
    fflush(stdout);
    for (int i = 0; i < 600 && access(release, F_OK); i++)
        usleep(100000);

    for (int i = 0; i < shares; i++)
        xengntshr_unshare(shr, pages[i], 1);
    xengntshr_close(shr);
    int again = ports_again(ports);
    printf("released, ports again %d\n", again);
    ok &= again == ports;
    printf("hog %s\n", ok ? "ok" : "FAILED");
    return !ok;
}

static int use(void)
{
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    int port = xce ? xenevtchn_bind_unbound_port(xce, 0) : -1;
    xengntshr_handle *shr = xengntshr_open(NULL, 0);
    uint32_t ref;
    void *page = shr ? xengntshr_share_pages(shr, 0, 1, &ref, 1) : NULL;
    int conns = 0;
    xenevtchn_handle *more[4];
    for (int i = 0; i < 4; i++)
        if ((more[i] = xenevtchn_open(NULL, 0)))
            conns++;
    bool store = store_answers();
    printf("use: handle %s, port %d, share %s, %d of 4 connections, store %s\n",
           xce ? "ok" : strerror(errno), port, page ? "ok" : "refused", conns,
           store ? "ok" : "refused");
    int ok = xce && port > 0 && page && conns == 4 && store;
    for (int i = 0; i < 4; i++)
        if (more[i])
            xenevtchn_close(more[i]);
    if (page)
        xengntshr_unshare(shr, page, 1);
    if (shr)
        xengntshr_close(shr);
    if (xce)
        xenevtchn_close(xce);
    return !ok;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN); /* a store connection closed under us */
    if (argc == 3 && !strcmp(argv[1], "hog"))
        return hog(argv[2]);
    if (argc == 2 && !strcmp(argv[1], "use"))
        return use();
    fprintf(stderr, "usage: fd-budget-sim hog RELEASE_FILE | use\n");
    return 2;
}
