/* Unit tests of the xensim tables: a tiny domain table standing in for
 * domain.c, and hypsock_domain_gone() standing in for hypsock.c. */
#ifndef TABLES_STUB_H
#define TABLES_STUB_H

#include <stdint.h>

#include "domain.h"

/* Create domain domid with the given limits (0: Xen's defaults). */
struct sim_domain *stub_domain_add(uint32_t domid, uint32_t grant_frames,
                                   uint32_t event_channels);
/* Run the destroy hooks and forget every domain. */
void stub_domains_reset(void);
/* How many times hypsock_domain_gone() ran. */
extern unsigned stub_domain_gone_calls;

#endif
