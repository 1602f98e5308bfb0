/* SHA-256 cores and the batched double-SHA-256 used for txids, wtxids and merkle trees. */
#ifndef BP_SHA256_H
#define BP_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* Implementation selection: picked once from CPUID, can be forced to the portable core. */
const char *bp_sha256_impl(void);
void bp_sha256_force_portable(int on);

void bp_sha256(const uint8_t *data, size_t len, uint8_t out[32]);
void bp_sha256d(const uint8_t *data, size_t len, uint8_t out[32]);

/*
 * Item i is sha256d of the concatenation of counts[i] consecutive (offset, length) pairs from
 * segs (offsets relative to data). Bounds must be checked by the caller.
 */
void bp_sha256d_batch(const uint8_t *data, const uint32_t *segs, const uint32_t *counts, size_t nitems,
                      uint8_t *out);

/* Bitcoin merkle root of n 32-byte hashes (last one duplicated on odd levels); n >= 1. */
int bp_merkle_root(const uint8_t *hashes, size_t n, uint8_t out[32]);

#endif
