/* xensim xenstore: nodes and the hash table that holds them (the live tree,
 * and each transaction's private copies). */
#ifndef XENSIM_XS_STORE_H
#define XENSIM_XS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Access bits, as in xenstore_lib.h. */
#define XS_ACC_READ  1u
#define XS_ACC_WRITE 2u
#define XS_ACC_OWNER 8u
#define XS_ACC_ALL   (XS_ACC_READ | XS_ACC_WRITE | XS_ACC_OWNER)

/* Generation of a node changed inside a transaction, not yet committed:
 * permission rules then only ask whether a domain exists. */
#define XS_GEN_PENDING UINT64_MAX

struct xs_perm {
    uint32_t domid;
    uint8_t access;  /* XS_ACC_READ | XS_ACC_WRITE */
    bool ignore;     /* names a domain that did not exist when set */
};

struct xs_event;

struct xs_node {
    struct xs_node *hnext;
    char *path;
    char *value;
    uint32_t len;
    struct xs_perm *perms;   /* perms[0]: owner + everybody else */
    unsigned nperms;
    char **children;         /* base names, in creation order */
    unsigned nchildren, capchildren;
    uint64_t gen;            /* generation of the last change */
    /* Transaction copies only. */
    uint64_t base_gen;       /* live generation when first seen; 0: absent */
    bool absent;             /* tombstone: absent or removed in the txn */
    bool dirty;              /* changed by the txn */
    struct xs_event *event;  /* the txn's queued event for it, or NULL */
};

struct xs_store {
    struct xs_node **buckets;
    size_t nbuckets;
    size_t count;
};

int xs_store_init(struct xs_store *st);
/* Free every node. */
void xs_store_clear(struct xs_store *st);
struct xs_node *xs_store_get(const struct xs_store *st, const char *path);
/* Insert, replacing (and freeing) a node of the same path. */
int xs_store_put(struct xs_store *st, struct xs_node *n);
/* Unlink and return (NULL if absent). */
struct xs_node *xs_store_take(struct xs_store *st, const char *path);
/* Iterate: start with *bucket = 0 and n = NULL. */
struct xs_node *xs_store_next(const struct xs_store *st, size_t *bucket,
                              struct xs_node *n);

struct xs_node *xs_node_new(const char *path);
struct xs_node *xs_node_copy(const struct xs_node *n);
void xs_node_free(struct xs_node *n);
int xs_node_set_value(struct xs_node *n, const void *v, uint32_t len);
int xs_node_set_perms(struct xs_node *n, const struct xs_perm *p, unsigned np);
int xs_node_add_child(struct xs_node *n, const char *base);
void xs_node_remove_child(struct xs_node *n, const char *base);
/* Bytes of "a\0b\0..." for the children list. */
size_t xs_node_children_bytes(const struct xs_node *n);

#endif
