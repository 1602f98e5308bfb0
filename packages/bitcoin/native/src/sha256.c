/*
 * SHA-256 (FIPS 180-4) with two compression cores: x86 SHA-NI (picked at run time from CPUID)
 * and portable C. The batch hasher runs two messages side by side ("lanes") so the SHA-NI
 * core can interleave two independent dependency chains: sha256rnds2 has a latency several
 * times its reciprocal throughput, so one chain leaves the unit mostly idle.
 */
#include "sha256.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define BP_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint32_t IV[8] = {
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
};

static inline uint32_t load_be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline void store_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* ---------------------------------------------------------------- portable core */

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void transform_portable(uint32_t s[8], const uint8_t *p) {
  uint32_t w[64];
  for (int i = 0; i < 16; i++) w[i] = load_be32(p + 4 * i);
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = ROTR(w[i - 15], 7) ^ ROTR(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ROTR(w[i - 2], 17) ^ ROTR(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5], g = s[6], h = s[7];
  for (int i = 0; i < 64; i++) {
    uint32_t t1 = h + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
    uint32_t t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    h = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  s[0] += a;
  s[1] += b;
  s[2] += c;
  s[3] += d;
  s[4] += e;
  s[5] += f;
  s[6] += g;
  s[7] += h;
}

static void transform2_portable(uint32_t sa[8], const uint8_t *pa, uint32_t sb[8], const uint8_t *pb) {
  transform_portable(sa, pa);
  transform_portable(sb, pb);
}

/* ---------------------------------------------------------------- SHA-NI core */

#ifdef BP_X86
#define SHANI __attribute__((target("sha,sse4.1,ssse3")))

/*
 * Message group g (words 4g..4g+3) from the four previous groups held in w[0..3] (ring):
 * W_g = msg2(msg1(W_{g-4}, W_{g-3}) + alignr(W_{g-1}, W_{g-2}, 4), W_{g-1}).
 */
#define SCHED(w, g)                                                                               \
  w[(g) & 3] = _mm_sha256msg2_epu32(                                                              \
      _mm_add_epi32(_mm_sha256msg1_epu32(w[(g) & 3], w[((g) + 1) & 3]),                           \
                    _mm_alignr_epi8(w[((g) + 3) & 3], w[((g) + 2) & 3], 4)),                      \
      w[((g) + 3) & 3])

/* Four rounds: sha256rnds2 does two, taking the low two words of the message+constant. */
#define QROUND(s0, s1, w, g)                                                                      \
  do {                                                                                            \
    __m128i m_ = _mm_add_epi32(w[(g) & 3], _mm_loadu_si128((const __m128i *)&K[4 * (g)]));         \
    s1 = _mm_sha256rnds2_epu32(s1, s0, m_);                                                       \
    s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(m_, 0x0E));                              \
  } while (0)

/* state (a..h) <-> the ABEF / CDGH register layout sha256rnds2 works on. */
#define LOAD_STATE(st, s0, s1)                                                                    \
  do {                                                                                            \
    __m128i t_ = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&(st)[0]), 0xB1);             \
    s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&(st)[4]), 0x1B);                     \
    s0 = _mm_alignr_epi8(t_, s1, 8);                                                              \
    s1 = _mm_blend_epi16(s1, t_, 0xF0);                                                           \
  } while (0)

#define STORE_STATE(st, s0, s1)                                                                   \
  do {                                                                                            \
    __m128i t_ = _mm_shuffle_epi32(s0, 0x1B);                                                     \
    __m128i u_ = _mm_shuffle_epi32(s1, 0xB1);                                                     \
    _mm_storeu_si128((__m128i *)&(st)[0], _mm_blend_epi16(t_, u_, 0xF0));                         \
    _mm_storeu_si128((__m128i *)&(st)[4], _mm_alignr_epi8(u_, t_, 8));                            \
  } while (0)

#define BSWAP_MASK _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL)

SHANI static void transform_shani(uint32_t st[8], const uint8_t *p) {
  const __m128i mask = BSWAP_MASK;
  __m128i s0, s1, w[4];
  LOAD_STATE(st, s0, s1);
  const __m128i a0 = s0, a1 = s1;
  for (int g = 0; g < 4; g++) w[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)), mask);
#pragma GCC unroll 16
  for (int g = 0; g < 16; g++) {
    if (g >= 4) SCHED(w, g);
    QROUND(s0, s1, w, g);
  }
  s0 = _mm_add_epi32(s0, a0);
  s1 = _mm_add_epi32(s1, a1);
  STORE_STATE(st, s0, s1);
}

SHANI static void transform2_shani(uint32_t sta[8], const uint8_t *pa, uint32_t stb[8], const uint8_t *pb) {
  const __m128i mask = BSWAP_MASK;
  __m128i x0, x1, y0, y1, wx[4], wy[4];
  LOAD_STATE(sta, x0, x1);
  LOAD_STATE(stb, y0, y1);
  const __m128i xa0 = x0, xa1 = x1, ya0 = y0, ya1 = y1;
  for (int g = 0; g < 4; g++) {
    wx[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(pa + 16 * g)), mask);
    wy[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(pb + 16 * g)), mask);
  }
#pragma GCC unroll 16
  for (int g = 0; g < 16; g++) {
    if (g >= 4) {
      SCHED(wx, g);
      SCHED(wy, g);
    }
    QROUND(x0, x1, wx, g);
    QROUND(y0, y1, wy, g);
  }
  x0 = _mm_add_epi32(x0, xa0);
  x1 = _mm_add_epi32(x1, xa1);
  y0 = _mm_add_epi32(y0, ya0);
  y1 = _mm_add_epi32(y1, ya1);
  STORE_STATE(sta, x0, x1);
  STORE_STATE(stb, y0, y1);
}

static int cpu_has_shani(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  int ssse3 = (c >> 9) & 1, sse41 = (c >> 19) & 1;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
  int sha = (b >> 29) & 1;
  return ssse3 && sse41 && sha;
}
#else
static int cpu_has_shani(void) { return 0; }
#endif

/* ---------------------------------------------------------------- dispatch */

typedef void (*transform_fn)(uint32_t *, const uint8_t *);
typedef void (*transform2_fn)(uint32_t *, const uint8_t *, uint32_t *, const uint8_t *);

static transform_fn transform1;
static transform2_fn transform2;
static const char *impl_name;
static int detected = -1;

static void select_impl(int portable) {
  if (detected < 0) detected = cpu_has_shani();
#ifdef BP_X86
  if (detected && !portable) {
    transform1 = transform_shani;
    transform2 = transform2_shani;
    impl_name = "sha-ni";
    return;
  }
#endif
  transform1 = transform_portable;
  transform2 = transform2_portable;
  impl_name = "portable";
}

static inline void ensure_impl(void) {
  if (transform1 == NULL) select_impl(0);
}

const char *bp_sha256_impl(void) {
  ensure_impl();
  return impl_name;
}

void bp_sha256_force_portable(int on) { select_impl(on); }

/* ---------------------------------------------------------------- message blocks */

/*
 * Yields the 64-byte blocks of a padded message made of several ranges of one buffer. A
 * block lying inside one range is returned in place; others are assembled in buf.
 */
typedef struct {
  const uint8_t *data;
  const uint32_t *seg; /* (offset, length) pairs */
  uint32_t nseg, si, pos;
  uint64_t bits;
  int padded, done;
  uint8_t buf[64];
} msg_iter;

static void iter_init(msg_iter *it, const uint8_t *data, const uint32_t *seg, uint32_t nseg) {
  uint64_t total = 0;
  for (uint32_t i = 0; i < nseg; i++) total += seg[2 * i + 1];
  it->data = data;
  it->seg = seg;
  it->nseg = nseg;
  it->si = 0;
  it->pos = 0;
  it->bits = total << 3;
  it->padded = 0;
  it->done = 0;
}

static inline void put_bits(uint8_t *end8, uint64_t bits) {
  for (int i = 0; i < 8; i++) end8[i] = (uint8_t)(bits >> (56 - 8 * i));
}

/* Next block, or NULL after the last one; it->done is set as the last one is returned. */
static const uint8_t *iter_next(msg_iter *it) {
  if (it->done) return NULL;
  if (it->padded) {
    /* The 0x80 marker fell past byte 55 of the previous block: length goes in a block of its own. */
    memset(it->buf, 0, 56);
    put_bits(it->buf + 56, it->bits);
    it->done = 1;
    return it->buf;
  }
  if (it->si < it->nseg) {
    uint32_t off = it->seg[2 * it->si], len = it->seg[2 * it->si + 1];
    if (len - it->pos >= 64) {
      const uint8_t *p = it->data + off + it->pos;
      it->pos += 64;
      if (it->pos == len) {
        it->si++;
        it->pos = 0;
      }
      return p;
    }
  }
  uint32_t fill = 0;
  while (fill < 64 && it->si < it->nseg) {
    uint32_t off = it->seg[2 * it->si], len = it->seg[2 * it->si + 1];
    uint32_t take = len - it->pos;
    if (take > 64 - fill) take = 64 - fill;
    memcpy(it->buf + fill, it->data + off + it->pos, take);
    fill += take;
    it->pos += take;
    if (it->pos == len) {
      it->si++;
      it->pos = 0;
    }
  }
  if (fill == 64) return it->buf;
  it->buf[fill++] = 0x80;
  memset(it->buf + fill, 0, 64 - fill);
  it->padded = 1;
  if (fill <= 56) {
    put_bits(it->buf + 56, it->bits);
    it->done = 1;
  }
  return it->buf;
}

static inline void digest_bytes(const uint32_t st[8], uint8_t out[32]) {
  for (int i = 0; i < 8; i++) store_be32(out + 4 * i, st[i]);
}

/* The single block of sha256 over a 32-byte digest: digest, 0x80, zeros, length 256 bits. */
static inline void second_block(const uint32_t st[8], uint8_t blk[64]) {
  digest_bytes(st, blk);
  memset(blk + 32, 0, 32);
  blk[32] = 0x80;
  blk[62] = 0x01;
}

/* ---------------------------------------------------------------- one-shot */

void bp_sha256(const uint8_t *data, size_t len, uint8_t out[32]) {
  ensure_impl();
  uint32_t st[8];
  memcpy(st, IV, sizeof st);
  size_t full = len / 64;
  for (size_t i = 0; i < full; i++) transform1(st, data + 64 * i);
  uint8_t tail[128];
  size_t rem = len - 64 * full;
  if (rem) memcpy(tail, data + 64 * full, rem);
  tail[rem] = 0x80;
  size_t tlen = rem + 1 + 8 <= 64 ? 64 : 128;
  memset(tail + rem + 1, 0, tlen - rem - 1);
  put_bits(tail + tlen - 8, (uint64_t)len << 3);
  transform1(st, tail);
  if (tlen == 128) transform1(st, tail + 64);
  digest_bytes(st, out);
}

void bp_sha256d(const uint8_t *data, size_t len, uint8_t out[32]) {
  uint8_t blk[64];
  uint32_t st[8];
  bp_sha256(data, len, blk);
  memcpy(st, IV, sizeof st);
  /* bp_sha256 wrote the digest bytes; turn them into the padded second block. */
  memset(blk + 32, 0, 32);
  blk[32] = 0x80;
  blk[62] = 0x01;
  transform1(st, blk);
  digest_bytes(st, out);
}

/* ---------------------------------------------------------------- batch */

typedef struct {
  msg_iter it;
  uint32_t st[8];
  uint8_t blk2[64];
  int stage; /* 0 idle, 1 first hash, 2 second hash */
  size_t item;
  const uint8_t *p;
} lane;

void bp_sha256d_batch(const uint8_t *data, const uint32_t *segs, const uint32_t *counts, size_t nitems,
                      uint8_t *out) {
  ensure_impl();
  lane lanes[2];
  lanes[0].stage = lanes[1].stage = 0;
  size_t next = 0;
  const uint32_t *seg = segs;
  for (;;) {
    for (int l = 0; l < 2; l++) {
      lane *ln = &lanes[l];
      if (ln->stage == 0 && next < nitems) {
        iter_init(&ln->it, data, seg, counts[next]);
        seg += 2 * (size_t)counts[next];
        memcpy(ln->st, IV, sizeof ln->st);
        ln->item = next++;
        ln->stage = 1;
      }
      if (ln->stage == 1) ln->p = iter_next(&ln->it);
      else if (ln->stage == 2) ln->p = ln->blk2;
    }
    lane *a = &lanes[0], *b = &lanes[1];
    if (a->stage && b->stage) transform2(a->st, a->p, b->st, b->p);
    else if (a->stage) transform1(a->st, a->p);
    else if (b->stage) transform1(b->st, b->p);
    else break;
    for (int l = 0; l < 2; l++) {
      lane *ln = &lanes[l];
      if (ln->stage == 1 && ln->it.done) {
        second_block(ln->st, ln->blk2);
        memcpy(ln->st, IV, sizeof ln->st);
        ln->stage = 2;
      } else if (ln->stage == 2) {
        digest_bytes(ln->st, out + 32 * ln->item);
        ln->stage = 0;
      }
    }
  }
}

int bp_merkle_root(const uint8_t *hashes, size_t n, uint8_t out[32]) {
  if (n == 1) {
    memcpy(out, hashes, 32);
    return 0;
  }
  /* Two level buffers (room for the duplicated last hash) and the (offset, length) pairs. */
  size_t pairs = (n + 1) / 2;
  uint8_t *cur = malloc((n + 1) * 32);
  uint8_t *nxt = malloc((pairs + 1) * 32);
  uint32_t *segs = malloc(pairs * 2 * sizeof(uint32_t));
  uint32_t *counts = malloc(pairs * sizeof(uint32_t));
  if (!cur || !nxt || !segs || !counts) {
    free(cur);
    free(nxt);
    free(segs);
    free(counts);
    return -1;
  }
  memcpy(cur, hashes, n * 32);
  for (size_t i = 0; i < pairs; i++) {
    segs[2 * i] = (uint32_t)(64 * i);
    segs[2 * i + 1] = 64;
    counts[i] = 1;
  }
  while (n > 1) {
    if (n & 1) {
      memcpy(cur + 32 * n, cur + 32 * (n - 1), 32);
      n++;
    }
    n /= 2;
    bp_sha256d_batch(cur, segs, counts, n, nxt);
    uint8_t *t = cur;
    cur = nxt;
    nxt = t;
  }
  memcpy(out, cur, 32);
  free(cur);
  free(nxt);
  free(segs);
  free(counts);
  return 0;
}
