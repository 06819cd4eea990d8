/* xensim xenstore: node permissions with Xen 4.17's semantics.
 *
 * perms[0] names the owner and what every other domain may do; further
 * entries grant a domain its own access. Dom0 and the owner may do
 * anything. An entry only holds for a domain that existed when the node
 * last changed (domain generation <= node generation): a domain created
 * later with the same domid, or a domain not yet created when the perms
 * were set, gets nothing from it (XSA-322). */
#include "xs_core.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool xs_perm_entry_valid(struct xs_server *s, uint32_t domid, uint64_t gen)
{
    if (domid == 0)
        return true;
    struct xs_dom *d = xs_dom_find(s, domid);
    return d && d->gen <= gen;
}

uint32_t xs_perm_owner(struct xs_server *s, const struct xs_perm *p,
                       uint64_t gen)
{
    /* A node whose owner is gone belongs to dom0, as in xenstored. */
    return xs_perm_entry_valid(s, p[0].domid, gen) ? p[0].domid : 0;
}

unsigned xs_perm_access(struct xs_server *s, uint32_t domid,
                        const struct xs_perm *p, unsigned np, uint64_t gen)
{
    if (domid == 0)
        return XS_ACC_ALL;
    if (np == 0)
        return 0;
    struct xs_dom *me = xs_dom_find(s, domid);
    bool has_target = me && me->has_target;
    uint32_t target = has_target ? me->target : 0;
    uint32_t owner = xs_perm_owner(s, p, gen);
    if (owner == domid || (has_target && owner == target))
        return XS_ACC_ALL;
    for (unsigned i = 1; i < np; i++) {
        if (p[i].ignore || !xs_perm_entry_valid(s, p[i].domid, gen))
            continue;
        if (p[i].domid == domid || (has_target && p[i].domid == target))
            return p[i].access & (XS_ACC_READ | XS_ACC_WRITE);
    }
    return p[0].access & (XS_ACC_READ | XS_ACC_WRITE);
}

unsigned xs_node_access(struct xs_server *s, uint32_t domid,
                        const struct xs_node *n)
{
    return xs_perm_access(s, domid, n->perms, n->nperms, n->gen);
}

void xs_perm_settle(struct xs_server *s, struct xs_node *n)
{
    if (!n->nperms)
        return;
    n->perms[0].domid = xs_perm_owner(s, n->perms, n->gen);
    for (unsigned i = 1; i < n->nperms; i++)
        if (!xs_perm_entry_valid(s, n->perms[i].domid, n->gen))
            n->perms[i].ignore = true;
}

int xs_perm_parse(const char *strings, unsigned count, struct xs_perm *out)
{
    const char *p = strings;
    for (unsigned i = 0; i < count; i++) {
        uint8_t acc;
        switch (p[0]) {
        case 'n': acc = 0; break;
        case 'r': acc = XS_ACC_READ; break;
        case 'w': acc = XS_ACC_WRITE; break;
        case 'b': acc = XS_ACC_READ | XS_ACC_WRITE; break;
        default: return -EINVAL;
        }
        const char *d = p + 1;
        if (!*d)
            return -EINVAL;
        unsigned long v = 0;
        for (; *d; d++) {
            if (*d < '0' || *d > '9')
                return -EINVAL;
            v = v * 10 + (unsigned long)(*d - '0');
            if (v > 0xffff) /* domid_t */
                return -EINVAL;
        }
        out[i].domid = (uint32_t)v;
        out[i].access = acc;
        out[i].ignore = false;
        p = d + 1;
    }
    return 0;
}

int xs_perm_format(const struct xs_perm *p, unsigned np, char *out,
                   size_t outsz)
{
    static const char letter[4] = {'n', 'r', 'w', 'b'};
    size_t used = 0;
    for (unsigned i = 0; i < np; i++) {
        int n = snprintf(out + used, outsz - used, "%c%u",
                         letter[p[i].access & 3], p[i].domid);
        if (n < 0 || (size_t)n + 1 > outsz - used)
            return -E2BIG;
        used += (size_t)n + 1; /* keep the NUL */
    }
    return (int)used;
}
