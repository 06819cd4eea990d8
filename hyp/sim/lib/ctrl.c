/* xensim drop-in libxenctrl.so.4.17: the few calls the project and Debian's
 * Xen programs (vchan-socket-proxy) make, answered by the daemon. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xenctrl.h>

#include "proto.h"

struct xc_interface_core {
    int sock;
    /* One round trip at a time: the handle is reentrant (xenctrl.h, unless
     * XC_OPENFLAG_NON_REENTRANT), and the daemon cuts off a connection that
     * sends a request before it has read the last reply. */
    pthread_mutex_t lock;
    xc_error last_error;
};

static int call(xc_interface *xch, uint32_t op, const void *req,
                size_t req_len, void *rep, size_t rep_cap, size_t *got)
{
    unsigned nfds = 0;
    pthread_mutex_lock(&xch->lock);
    int rc = xsp_call(xch->sock, op, req, req_len, NULL, 0, rep, rep_cap, got,
                      NULL, 0, &nfds);
    pthread_mutex_unlock(&xch->lock);
    return rc;
}

static int fail(int err)
{
    errno = err;
    return -1;
}

xc_interface *xc_interface_open(xentoollog_logger *logger,
                                xentoollog_logger *dombuild_logger,
                                unsigned open_flags)
{
    xc_interface *xch = calloc(1, sizeof(*xch));
    if (!xch) {
        errno = ENOMEM;
        return NULL;
    }
    struct xsp_hello_rep rep;
    int s = xsp_connect(XSP_KIND_CTRL, &rep, NULL);
    if (s < 0) {
        free(xch);
        errno = -s;
        return NULL;
    }
    xch->sock = s;
    pthread_mutex_init(&xch->lock, NULL);
    return xch;
}

int xc_interface_close(xc_interface *xch)
{
    if (!xch)
        return 0;
    close(xch->sock);
    pthread_mutex_destroy(&xch->lock);
    free(xch);
    return 0;
}

/* Up to max domains with domid >= first, in domid order; count or -errno. */
static int dominfo(xc_interface *xch, uint32_t first, uint32_t max,
                   struct xsp_dominfo *out)
{
    static const size_t cap = sizeof(struct xsp_ctrl_dominfo_rep) +
                              XSP_DOMINFO_MAX * sizeof(struct xsp_dominfo);
    char *rep = malloc(cap);
    if (!rep)
        return -ENOMEM;
    struct xsp_ctrl_dominfo req = {
        .first_domid = first, .max = max < XSP_DOMINFO_MAX ? max : XSP_DOMINFO_MAX,
    };
    size_t got = 0;
    int rc = call(xch, XSP_OP_CTRL_DOMINFO, &req, sizeof(req), rep, cap, &got);
    struct xsp_ctrl_dominfo_rep hdr;
    if (!rc) {
        memcpy(&hdr, rep, sizeof(hdr));
        if (got < sizeof(hdr) || hdr.count > req.max ||
            got != sizeof(hdr) + hdr.count * sizeof(*out))
            rc = -EPROTO;
    }
    if (!rc) {
        memcpy(out, rep + sizeof(hdr), hdr.count * sizeof(*out));
        rc = (int)hdr.count;
    }
    free(rep);
    return rc;
}

int xc_domain_getinfo(xc_interface *xch, uint32_t first_domid,
                      unsigned int max_doms, xc_dominfo_t *info)
{
    if (max_doms)
        memset(info, 0, max_doms * sizeof(*info));
    struct xsp_dominfo d[16];
    unsigned nr = 0;
    uint32_t next = (domid_t)first_domid; /* as Xen's domctl takes it */
    int rc = 0;
    while (nr < max_doms) {
        unsigned want = max_doms - nr < 16 ? max_doms - nr : 16;
        rc = dominfo(xch, next, want, d);
        if (rc <= 0)
            break;
        for (int i = 0; i < rc; i++, nr++) {
            xc_dominfo_t *o = &info[nr];
            o->domid = d[i].domid;
            o->dying = !!(d[i].flags & XSP_DOMINFO_DYING);
            o->shutdown = !!(d[i].flags & XSP_DOMINFO_SHUTDOWN);
            o->shutdown_reason = d[i].shutdown_reason;
            o->running = !o->dying && !o->shutdown;
            o->nr_online_vcpus = 1;
            o->max_vcpu_id = 0;
            memcpy(o->handle, d[i].uuid, sizeof(o->handle));
            next = d[i].domid + 1;
        }
    }
    /* Asked for none, Xen asks nothing and returns 0. */
    if (nr || !max_doms)
        return (int)nr;
    /* Xen's domctl: no domain at or after first_domid is ESRCH. */
    return fail(rc < 0 ? -rc : ESRCH);
}

int xc_domain_getinfolist(xc_interface *xch, uint32_t first_domain,
                          unsigned int max_domains, xc_domaininfo_t *info)
{
    struct xsp_dominfo d[16];
    unsigned nr = 0;
    uint32_t next = (domid_t)first_domain; /* Xen's sysctl field is one */
    while (nr < max_domains) {
        unsigned want = max_domains - nr < 16 ? max_domains - nr : 16;
        int rc = dominfo(xch, next, want, d);
        if (rc < 0)
            return fail(-rc);
        if (rc == 0)
            break;
        for (int i = 0; i < rc; i++, nr++) {
            xc_domaininfo_t *o = &info[nr];
            memset(o, 0, sizeof(*o));
            o->domain = (domid_t)d[i].domid;
            if (d[i].flags & XSP_DOMINFO_DYING)
                o->flags |= XEN_DOMINF_dying;
            if (d[i].flags & XSP_DOMINFO_SHUTDOWN)
                o->flags |= XEN_DOMINF_shutdown;
            else if (!(d[i].flags & XSP_DOMINFO_DYING))
                o->flags |= XEN_DOMINF_running;
            o->nr_online_vcpus = 1;
            memcpy(o->handle, d[i].uuid, sizeof(o->handle));
            next = d[i].domid + 1;
        }
    }
    return (int)nr;
}

int xc_evtchn_status(xc_interface *xch, xc_evtchn_status_t *status)
{
    struct xsp_ctrl_evtchn_status req = { .domid = status->dom,
                                          .port = status->port };
    struct xsp_ctrl_evtchn_status_rep rep;
    size_t got = 0;
    int rc = call(xch, XSP_OP_CTRL_EVTCHN_STATUS, &req, sizeof(req), &rep,
                  sizeof(rep), &got);
    if (!rc && got != sizeof(rep))
        rc = -EPROTO;
    if (rc)
        return fail(-rc);
    status->status = rep.status;
    status->vcpu = rep.vcpu;
    memset(&status->u, 0, sizeof(status->u));
    switch (rep.status) {
    case EVTCHNSTAT_unbound:
        status->u.unbound.dom = (domid_t)rep.dom;
        break;
    case EVTCHNSTAT_interdomain:
        status->u.interdomain.dom = (domid_t)rep.dom;
        status->u.interdomain.port = rep.port;
        break;
    case EVTCHNSTAT_virq:
        status->u.virq = rep.virq;
        break;
    }
    return 0;
}

const xc_error *xc_get_last_error(xc_interface *xch)
{
    return &xch->last_error;
}

void xc_clear_last_error(xc_interface *xch)
{
    memset(&xch->last_error, 0, sizeof(xch->last_error));
}

const char *xc_error_code_to_desc(int code)
{
    switch (code) {
    case XC_ERROR_NONE:
        return "No error details";
    case XC_INTERNAL_ERROR:
        return "Internal error";
    case XC_INVALID_KERNEL:
        return "Invalid kernel";
    case XC_INVALID_PARAM:
        return "Invalid configuration";
    case XC_OUT_OF_MEMORY:
        return "Out of memory";
    }
    return "Unknown error code";
}

const char *xc_strerror(xc_interface *xch, int errcode)
{
    return strerror(errcode);
}
