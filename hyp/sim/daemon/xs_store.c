/* xensim xenstore: nodes and a chained hash table of them by full path.
 * The live tree and each transaction's private copies are both stores. */
#include "xs_store.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_path(const char *p)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    while (*p) {
        h ^= (unsigned char)*p++;
        h *= 1099511628211ull;
    }
    return h;
}

int xs_store_init(struct xs_store *st)
{
    st->nbuckets = 64;
    st->count = 0;
    st->buckets = calloc(st->nbuckets, sizeof(*st->buckets));
    return st->buckets ? 0 : -ENOMEM;
}

void xs_store_clear(struct xs_store *st)
{
    for (size_t i = 0; i < st->nbuckets; i++) {
        struct xs_node *n = st->buckets[i];
        while (n) {
            struct xs_node *next = n->hnext;
            xs_node_free(n);
            n = next;
        }
    }
    free(st->buckets);
    st->buckets = NULL;
    st->nbuckets = st->count = 0;
}

struct xs_node *xs_store_get(const struct xs_store *st, const char *path)
{
    if (!st->nbuckets)
        return NULL;
    struct xs_node *n = st->buckets[hash_path(path) % st->nbuckets];
    for (; n; n = n->hnext)
        if (strcmp(n->path, path) == 0)
            return n;
    return NULL;
}

/* Keep chains short as the tree grows; failure to grow is harmless. */
static void maybe_grow(struct xs_store *st)
{
    if (st->count < st->nbuckets * 2)
        return;
    size_t nb = st->nbuckets * 4;
    struct xs_node **b = calloc(nb, sizeof(*b));
    if (!b)
        return;
    for (size_t i = 0; i < st->nbuckets; i++) {
        struct xs_node *n = st->buckets[i];
        while (n) {
            struct xs_node *next = n->hnext;
            size_t k = hash_path(n->path) % nb;
            n->hnext = b[k];
            b[k] = n;
            n = next;
        }
    }
    free(st->buckets);
    st->buckets = b;
    st->nbuckets = nb;
}

int xs_store_put(struct xs_store *st, struct xs_node *n)
{
    struct xs_node *old = xs_store_take(st, n->path);
    if (old)
        xs_node_free(old);
    maybe_grow(st);
    size_t k = hash_path(n->path) % st->nbuckets;
    n->hnext = st->buckets[k];
    st->buckets[k] = n;
    st->count++;
    return 0;
}

struct xs_node *xs_store_take(struct xs_store *st, const char *path)
{
    if (!st->nbuckets)
        return NULL;
    struct xs_node **pp = &st->buckets[hash_path(path) % st->nbuckets];
    for (; *pp; pp = &(*pp)->hnext) {
        if (strcmp((*pp)->path, path) == 0) {
            struct xs_node *n = *pp;
            *pp = n->hnext;
            n->hnext = NULL;
            st->count--;
            return n;
        }
    }
    return NULL;
}

struct xs_node *xs_store_next(const struct xs_store *st, size_t *bucket,
                              struct xs_node *n)
{
    if (n && n->hnext)
        return n->hnext;
    size_t i = n ? *bucket + 1 : *bucket;
    for (; i < st->nbuckets; i++) {
        if (st->buckets[i]) {
            *bucket = i;
            return st->buckets[i];
        }
    }
    *bucket = st->nbuckets;
    return NULL;
}

struct xs_node *xs_node_new(const char *path)
{
    struct xs_node *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->path = strdup(path);
    if (!n->path) {
        free(n);
        return NULL;
    }
    return n;
}

void xs_node_free(struct xs_node *n)
{
    if (!n)
        return;
    for (unsigned i = 0; i < n->nchildren; i++)
        free(n->children[i]);
    free(n->children);
    free(n->perms);
    free(n->value);
    free(n->path);
    free(n);
}

struct xs_node *xs_node_copy(const struct xs_node *src)
{
    struct xs_node *n = xs_node_new(src->path);
    if (!n)
        return NULL;
    if (xs_node_set_value(n, src->value, src->len) < 0 ||
        xs_node_set_perms(n, src->perms, src->nperms) < 0)
        goto fail;
    for (unsigned i = 0; i < src->nchildren; i++)
        if (xs_node_add_child(n, src->children[i]) < 0)
            goto fail;
    n->gen = src->gen;
    n->base_gen = src->base_gen;
    n->absent = src->absent;
    n->dirty = src->dirty;
    return n;
fail:
    xs_node_free(n);
    return NULL;
}

int xs_node_set_value(struct xs_node *n, const void *v, uint32_t len)
{
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return -ENOMEM;
    if (len)
        memcpy(copy, v, len);
    free(n->value);
    n->value = copy;
    n->len = len;
    return 0;
}

int xs_node_set_perms(struct xs_node *n, const struct xs_perm *p, unsigned np)
{
    struct xs_perm *copy = NULL;
    if (np) {
        copy = malloc(np * sizeof(*copy));
        if (!copy)
            return -ENOMEM;
        memcpy(copy, p, np * sizeof(*copy));
    }
    free(n->perms);
    n->perms = copy;
    n->nperms = np;
    return 0;
}

int xs_node_add_child(struct xs_node *n, const char *base)
{
    if (n->nchildren == n->capchildren) {
        unsigned cap = n->capchildren ? n->capchildren * 2 : 4;
        char **c = realloc(n->children, cap * sizeof(*c));
        if (!c)
            return -ENOMEM;
        n->children = c;
        n->capchildren = cap;
    }
    char *copy = strdup(base);
    if (!copy)
        return -ENOMEM;
    n->children[n->nchildren++] = copy;
    return 0;
}

void xs_node_remove_child(struct xs_node *n, const char *base)
{
    for (unsigned i = 0; i < n->nchildren; i++) {
        if (strcmp(n->children[i], base) == 0) {
            free(n->children[i]);
            memmove(&n->children[i], &n->children[i + 1],
                    (n->nchildren - i - 1) * sizeof(*n->children));
            n->nchildren--;
            return;
        }
    }
}

size_t xs_node_children_bytes(const struct xs_node *n)
{
    size_t total = 0;
    for (unsigned i = 0; i < n->nchildren; i++)
        total += strlen(n->children[i]) + 1;
    return total;
}
