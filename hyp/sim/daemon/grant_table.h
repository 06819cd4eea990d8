/* xensim daemon: grant tables, as Xen's v1 tables with Linux's gntalloc
 * (sharer) and gntdev (mapper) on top.
 *
 * A share is a memfd the sharer's library made and mapped; the daemon gives
 * it grant refs in the sharer's table (up to max_grant_frames x 512) and hands
 * the memfd (read-only grants: a sealed, O_RDONLY reopen) to the grantee that
 * maps the refs. Pages outlive an unshare while someone maps them (the memfd
 * is refcounted by the kernel); a ref is reusable only once unmapped.
 * Functions return 0 or -errno. */
#ifndef XENSIM_GRANT_TABLE_H
#define XENSIM_GRANT_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "proto.h"

struct grant_sharer; /* one xengntshr handle */
struct grant_mapper; /* one xengnttab handle */
struct loop;

/* The loop that watches mappings' owner pipes (grant_map); without one,
 * a map with an owner pipe fails with -EINVAL. */
void grant_table_init(struct loop *l);

int grant_sharer_new(uint32_t domid, struct grant_sharer **out);
/* Revoke every share (unmap-notifies fire), free. */
void grant_sharer_free(struct grant_sharer *s);
/* Grant count pages of memfd to grantee. Takes memfd on success; refs gets
 * count refs. notify_offset (< page size) / notify_port (a bound port of the
 * sharer's domain) as XSP_NO_NOTIFY_* when unused; they apply to page 0. */
int grant_share(struct grant_sharer *s, uint32_t grantee, uint32_t count,
                bool writable, uint32_t notify_offset, uint32_t notify_port,
                int memfd, uint64_t *share_id, uint32_t *refs);
/* The same, with owner_fd (-1: none): the read end of a pipe whose write
 * ends the processes with a copy of the share's mapping hold (gntshr.c).
 * When the last closes, the share is revoked as by a whole unshare, with
 * its notify (gntalloc drops refs with their last mapping).  Taken on
 * success (charged to the sharer's domain), the caller's on failure;
 * -EINVAL for no pipe. */
int grant_share_owned(struct grant_sharer *s, uint32_t grantee,
                      uint32_t count, bool writable, uint32_t notify_offset,
                      uint32_t notify_port, int memfd, int owner_fd,
                      uint64_t *share_id, uint32_t *refs);
/* Revoke pages [first, first+count) of a share. */
int grant_unshare(struct grant_sharer *s, uint64_t share_id, uint32_t first,
                  uint32_t count);
/* The same, held_fd (-1: none; closed in every case) the caller's write
 * end of the share's owner pipe: when the pages are all the share has
 * left and another write end is still open (a forked child's copy of the
 * mapping), nothing is revoked yet; the last end's close does it. */
int grant_unshare_held(struct grant_sharer *s, uint64_t share_id,
                       uint32_t first, uint32_t count, int held_fd);

int grant_mapper_new(uint32_t domid, struct grant_mapper **out);
/* Unmap everything (unmap-notifies fire), free. */
void grant_mapper_free(struct grant_mapper *m);
/* A no-op, as on Linux since 4.x; what bounds mappings is the domain's
 * maptrack table: past it a map fails with -EINVAL. */
int grant_set_max(struct grant_mapper *m, uint32_t count);
/* Map count refs; how: XSP_MAP_* bits (true/false: writable or not).
 * A refused ref is -EINVAL, or with XSP_MAP_WHY its reason (proto.h).
 * pages[i] says which of fds[] backs page i and where;
 * fds are borrowed from the table (send them, do not close); *nfds <= count.
 * owner_fd (-1: none) serves a mapping with a byte to clear: Linux PV's
 * gntdev clears it when the address space of the process that mapped it
 * lets the page go (exit, exec), even while a forked child still holds
 * the descriptor (the mapping itself is not copied into children), and
 * sends the event only when the mapping ends. owner_fd is the read end of
 * a pipe whose write end only that process holds: when it hangs up, the
 * byte is cleared. Taken on success (charged to the mapper's domain), the
 * caller's on failure: -EINVAL also for no byte to clear or no pipe,
 * -EMFILE over the domain's descriptor budget. */
int grant_map(struct grant_mapper *m, uint32_t count,
              const struct xsp_grant_ref *refs, uint32_t how,
              uint32_t notify_offset, uint32_t notify_port, int owner_fd,
              uint64_t *map_id, struct xsp_map_page *pages, int *fds,
              unsigned *nfds);
int grant_unmap(struct grant_mapper *m, uint64_t map_id);
/* Undo a map its library could not use (its own mmap failed, or the reply
 * never reached it): as grant_unmap(), but the unmap-notify does not fire,
 * since libxengnttab sets it up only once its mmap has succeeded. */
int grant_discard(struct grant_mapper *m, uint64_t map_id);

/* For tests and xc: refs in use in domid's table (-ESRCH: no domain). */
int grant_refs_in_use(uint32_t domid);

#endif
