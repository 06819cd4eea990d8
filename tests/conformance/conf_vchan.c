/* conf-vchan: moves a seeded pseudo-random stream each way through Debian's
 * unmodified vchan-socket-proxy (libxenvchan) and checks it arrived intact.
 *
 *   conf-vchan server PROXY MIB   runs "PROXY -m server <peer> <path> <fd>"
 *   conf-vchan client PROXY MIB   runs "PROXY -m client <peer> <path> -"
 *
 * The peer is data/conf/peer; path is /local/domain/<server>/data/vchan-conf.
 * The client starts its proxy only once the server's proxy has published
 * (event-channel readable), since a client that finds nothing gives up.
 * Both send MIB MiB of the stream seeded by their domid, and each checks
 * what it receives against the stream seeded by the peer's domid. Close
 * order, so that nothing in flight is lost: the server sends 'K' once it has
 * all the client's bytes; the client closes once it has the server's bytes
 * and the 'K'; the server then expects its proxy to see the vchan close.
 * Each side prints CONF-HASH sent=<fnv64> recv=<fnv64> for dom0 to compare. */
#include "conf_util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHUNK 65536
#define ACK 'K'

struct mover {
    int fd;
    uint64_t total;
    /* sending */
    struct conf_prng tx;
    uint64_t sent;
    unsigned char txbuf[CHUNK];
    size_t txoff, txlen;
    bool ack_queued, ack_sent;
    /* receiving */
    struct conf_prng rx;
    uint64_t got;
    bool got_ack;
    uint64_t bad, first_bad;
    uint64_t hash_tx, hash_rx;
};

static uint64_t stream_seed(unsigned domid)
{
    return 0x76636861006e0000ULL ^ ((uint64_t)domid * 0x9e3779b97f4a7c15ULL);
}

/* Refill the send buffer: stream bytes first, then the optional ack. */
static void refill(struct mover *m)
{
    if (m->txoff < m->txlen)
        return;
    m->txoff = m->txlen = 0;
    if (m->sent < m->total) {
        uint64_t left = m->total - m->sent;

        m->txlen = left < CHUNK ? (size_t)left : CHUNK;
        conf_prng_fill(&m->tx, m->txbuf, m->txlen);
        m->hash_tx = conf_hash(m->hash_tx, m->txbuf, m->txlen);
        m->sent += m->txlen;
    } else if (m->ack_queued && !m->ack_sent) {
        m->txbuf[0] = ACK;
        m->txlen = 1;
        m->ack_sent = true;
    }
}

static void take(struct mover *m, const unsigned char *buf, size_t n)
{
    unsigned char want[CHUNK];
    size_t data = n;

    if (m->got + data > m->total)
        data = (size_t)(m->total - m->got);
    conf_prng_fill(&m->rx, want, data);
    m->hash_rx = conf_hash(m->hash_rx, buf, data);
    for (size_t i = 0; i < data; i++) {
        if (buf[i] != want[i]) {
            if (!m->bad)
                m->first_bad = m->got + i;
            m->bad++;
        }
    }
    m->got += data;
    if (n > data) {
        /* Past the stream: exactly one ack byte may follow. */
        if (m->got_ack || n - data != 1 || buf[data] != ACK) {
            if (!m->bad)
                m->first_bad = m->got;
            m->bad += n - data;
        }
        m->got_ack = true;
    }
}

/* Move data until done(m) or no progress for the timeout; false on error. */
static bool run(struct mover *m, bool server, bool *eof)
{
    uint64_t idle_end = conf_now_ms() + (uint64_t)conf_timeout_ms();
    unsigned char rxbuf[CHUNK];

    *eof = false;
    for (;;) {
        struct pollfd pfd = { .fd = m->fd, .events = POLLIN };
        bool done;

        if (server && m->got == m->total)
            m->ack_queued = true;
        refill(m);
        done = m->txoff == m->txlen && m->sent == m->total &&
               (server ? m->ack_sent && m->got == m->total : m->got_ack);
        if (done)
            return true;
        if (m->txoff < m->txlen)
            pfd.events |= POLLOUT;
        if (poll(&pfd, 1, 200) < 0 && errno != EINTR)
            return false;
        if (pfd.revents & POLLOUT) {
            ssize_t w = write(m->fd, m->txbuf + m->txoff, m->txlen - m->txoff);

            if (w > 0) {
                m->txoff += (size_t)w;
                idle_end = conf_now_ms() + (uint64_t)conf_timeout_ms();
            } else if (w < 0 && errno != EAGAIN && errno != EINTR) {
                conf_info("write to the proxy: %s", strerror(errno));
                return false;
            }
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(m->fd, rxbuf, sizeof(rxbuf));

            if (r > 0) {
                take(m, rxbuf, (size_t)r);
                idle_end = conf_now_ms() + (uint64_t)conf_timeout_ms();
            } else if (r == 0) {
                *eof = true;
                return false;
            } else if (errno != EAGAIN && errno != EINTR) {
                conf_info("read from the proxy: %s", strerror(errno));
                return false;
            }
        }
        if (conf_now_ms() > idle_end) {
            conf_info("no progress for %d ms", conf_timeout_ms());
            return false;
        }
    }
}

/* Wait for the proxy to exit within ms; kill it if it does not. */
static bool reap(pid_t pid, unsigned ms, int *status)
{
    uint64_t end = conf_now_ms() + ms;

    while (conf_now_ms() < end) {
        if (waitpid(pid, status, WNOHANG) == pid)
            return true;
        conf_sleep_ms(20);
    }
    kill(pid, SIGTERM);
    waitpid(pid, status, 0);
    return false;
}

int main(int argc, char **argv)
{
    struct xs_handle *xs;
    struct mover *m;
    unsigned me, peer, server_id;
    bool server, ok, eof;
    char path[96], fdarg[16], *v;
    const char *proxy;
    int sv[2], status;
    pid_t pid;
    uint64_t t0, ms;

    conf_init(argv[0]);
    if (argc != 4 || (strcmp(argv[1], "server") && strcmp(argv[1], "client")) ||
        atoi(argv[3]) <= 0) {
        fprintf(stderr, "usage: %s server|client PROXY MIB\n", argv[0]);
        return 2;
    }
    server = !strcmp(argv[1], "server");
    proxy = argv[2];
    signal(SIGPIPE, SIG_IGN);
    m = calloc(1, sizeof(*m));
    if (!m)
        conf_die("out of memory");
    m->total = (uint64_t)atoi(argv[3]) << 20;

    xs = conf_xs_open();
    me = conf_my_domid(xs);
    peer = conf_peer(xs, "peer");
    server_id = server ? me : peer;
    snprintf(path, sizeof(path), "/local/domain/%u/data/vchan-conf", server_id);
    if (!server) {
        char ev[128];

        snprintf(ev, sizeof(ev), "%s/event-channel", path);
        v = conf_xs_wait(xs, ev, conf_timeout_ms());
        if (!v)
            conf_die("the server never published %s: %s", ev, strerror(errno));
        free(v);
    }

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
        conf_die("socketpair: %s", strerror(errno));
    pid = fork();
    if (pid < 0)
        conf_die("fork: %s", strerror(errno));
    if (pid == 0) {
        char peerarg[16];

        close(sv[0]);
        snprintf(peerarg, sizeof(peerarg), "%u", peer);
        if (server) {
            snprintf(fdarg, sizeof(fdarg), "%d", sv[1]);
            execl(proxy, proxy, "-m", "server", peerarg, path, fdarg, (char *)NULL);
        } else {
            dup2(sv[1], 0);
            dup2(sv[1], 1);
            close(sv[1]);
            execl(proxy, proxy, "-m", "client", peerarg, path, "-", (char *)NULL);
        }
        fprintf(stderr, "exec %s: %s\n", proxy, strerror(errno));
        _exit(127);
    }
    close(sv[1]);
    m->fd = sv[0];
    fcntl(m->fd, F_SETFL, fcntl(m->fd, F_GETFL) | O_NONBLOCK);
    conf_prng_seed(&m->tx, stream_seed(me));
    conf_prng_seed(&m->rx, stream_seed(peer));
    m->hash_tx = m->hash_rx = CONF_HASH_INIT;
    conf_info("%s: proxy %s pid %d, peer dom%u, %s, %llu bytes each way",
              argv[1], proxy, (int)pid, peer, path, (unsigned long long)m->total);
    conf_ready(server ? "vchan-server-started" : "vchan-client-started");

    t0 = conf_now_ms();
    ok = run(m, server, &eof);
    ms = conf_now_ms() - t0;
    conf_info("sent %llu, received %llu bytes in %llu ms (%.1f MiB/s each way)%s",
              (unsigned long long)m->sent, (unsigned long long)m->got,
              (unsigned long long)ms, ms ? (double)m->got / 1048576.0 * 1000.0 / (double)ms : 0.0,
              eof ? ", then end of stream" : "");
    printf("CONF-HASH sent=%016llx recv=%016llx\n", (unsigned long long)m->hash_tx,
           (unsigned long long)m->hash_rx);
    conf_check(m->got == m->total, "vchan-recv-complete", "received %llu of %llu bytes",
               (unsigned long long)m->got, (unsigned long long)m->total);
    conf_check(m->bad == 0, "vchan-recv-intact", "%llu bytes differ, first at offset %llu",
               (unsigned long long)m->bad, (unsigned long long)m->first_bad);
    conf_check(ok, "vchan-exchange", "the exchange did not finish (%s)",
               eof ? "the proxy closed early" : "see above");

    if (server) {
        /* The client has closed its end: our proxy must see the vchan go. */
        unsigned char b;
        struct pollfd pfd = { .fd = m->fd, .events = POLLIN };
        ssize_t r = -1;

        if (ok) {
            while (poll(&pfd, 1, conf_timeout_ms()) > 0) {
                r = read(m->fd, &b, 1);
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
                    break;
            }
            conf_check(r == 0, "vchan-close-seen",
                       "the server proxy did not close after the client left");
        }
        close(m->fd);
        reap(pid, 5000, &status);
    } else {
        close(m->fd);
        if (!reap(pid, 10000, &status))
            conf_info("the client proxy did not exit after its input closed; killed it");
    }
    if (WIFEXITED(status))
        conf_info("proxy exit status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        conf_info("proxy killed by %s", strsignal(WTERMSIG(status)));
    xs_close(xs);
    return conf_done();
}
