/*
 * N-API bindings for the SHA-256 cores. Every function works on the caller's typed-array
 * memory in place (no copies) and writes results into an output array the caller allocated,
 * so one call hashes a whole block's txids. All bounds are checked here before any hashing.
 */
#include <node_api.h>
#include <stdint.h>
#include <stdio.h>

#include "sha256.h"

#define CHECK(call)                                                                               \
  do {                                                                                            \
    if ((call) != napi_ok) return throw_error(env, "internal N-API failure");                     \
  } while (0)

static napi_value throw_error(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static napi_value throw_range(napi_env env, const char *msg) {
  napi_throw_range_error(env, NULL, msg);
  return NULL;
}

/* Reads argument i as a typed array of the wanted element type; returns 0 and throws otherwise. */
static int get_array(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len,
                     const char *name) {
  bool is;
  napi_typedarray_type type;
  napi_value ab;
  size_t off;
  char msg[96];
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &type, len, data, &ab, &off) != napi_ok || type != want) {
    snprintf(msg, sizeof msg, "%s must be a %s", name, want == napi_uint8_array ? "Uint8Array" : "Uint32Array");
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, "missing arguments");
    return 0;
  }
  return 1;
}

/* sha256(data, out) / sha256d(data, out): out gets 32 bytes. */
static napi_value hash_one(napi_env env, napi_callback_info info, int dbl) {
  napi_value argv[2];
  void *data, *out;
  size_t len, outlen;
  if (!get_args(env, info, 2, argv)) return NULL;
  if (!get_array(env, argv[0], napi_uint8_array, &data, &len, "data")) return NULL;
  if (!get_array(env, argv[1], napi_uint8_array, &out, &outlen, "out")) return NULL;
  if (outlen < 32) return throw_range(env, "out must hold 32 bytes");
  if (dbl) bp_sha256d(data, len, out);
  else bp_sha256(data, len, out);
  return NULL;
}

static napi_value js_sha256(napi_env env, napi_callback_info info) { return hash_one(env, info, 0); }
static napi_value js_sha256d(napi_env env, napi_callback_info info) { return hash_one(env, info, 1); }

/* sha256dBatch(data, segments, counts, out) */
static napi_value js_sha256d_batch(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  void *data, *segs, *counts, *out;
  size_t len, nsegs, nitems, outlen;
  if (!get_args(env, info, 4, argv)) return NULL;
  if (!get_array(env, argv[0], napi_uint8_array, &data, &len, "data")) return NULL;
  if (!get_array(env, argv[1], napi_uint32_array, &segs, &nsegs, "segments")) return NULL;
  if (!get_array(env, argv[2], napi_uint32_array, &counts, &nitems, "counts")) return NULL;
  if (!get_array(env, argv[3], napi_uint8_array, &out, &outlen, "out")) return NULL;
  if (outlen / 32 < nitems) return throw_range(env, "out is shorter than 32 bytes per item");
  const uint32_t *s = segs, *c = counts;
  size_t used = 0;
  for (size_t i = 0; i < nitems; i++) {
    if (c[i] > (nsegs - used) / 2) return throw_range(env, "counts ask for more segments than given");
    for (uint32_t k = 0; k < c[i]; k++, used += 2) {
      if ((uint64_t)s[used] + s[used + 1] > len) return throw_range(env, "segment runs past the end of data");
    }
  }
  if (nitems) bp_sha256d_batch(data, s, c, nitems, out);
  return NULL;
}

/*
 * sha256Ranges(data, segments, out): item i is sha256 of the range (segments[2i], length
 * segments[2i+1]) of data, written at out[32i]. One call for a block's scripts instead of one each.
 */
static napi_value js_sha256_ranges(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  void *data, *segs, *out;
  size_t len, nsegs, outlen;
  if (!get_args(env, info, 3, argv)) return NULL;
  if (!get_array(env, argv[0], napi_uint8_array, &data, &len, "data")) return NULL;
  if (!get_array(env, argv[1], napi_uint32_array, &segs, &nsegs, "segments")) return NULL;
  if (!get_array(env, argv[2], napi_uint8_array, &out, &outlen, "out")) return NULL;
  if (nsegs % 2) return throw_range(env, "segments must be (offset, length) pairs");
  size_t n = nsegs / 2;
  if (outlen / 32 < n) return throw_range(env, "out is shorter than 32 bytes per item");
  const uint32_t *s = segs;
  for (size_t i = 0; i < n; i++) {
    if ((uint64_t)s[2 * i] + s[2 * i + 1] > len) return throw_range(env, "segment runs past the end of data");
  }
  for (size_t i = 0; i < n; i++) bp_sha256((const uint8_t *)data + s[2 * i], s[2 * i + 1], (uint8_t *)out + 32 * i);
  return NULL;
}

/* merkleRoot(hashes, n, out) */
static napi_value js_merkle_root(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  void *hashes, *out;
  size_t len, outlen;
  uint32_t n;
  if (!get_args(env, info, 3, argv)) return NULL;
  if (!get_array(env, argv[0], napi_uint8_array, &hashes, &len, "hashes")) return NULL;
  if (napi_get_value_uint32(env, argv[1], &n) != napi_ok) {
    napi_throw_type_error(env, NULL, "n must be a number");
    return NULL;
  }
  if (!get_array(env, argv[2], napi_uint8_array, &out, &outlen, "out")) return NULL;
  if (n == 0) return throw_range(env, "merkle root of no hashes");
  /* Level offsets are 32-bit: 64 * ceil(n/2) must fit. */
  if (n > (1u << 26)) return throw_range(env, "too many hashes");
  if (len / 32 < n) return throw_range(env, "hashes is shorter than n * 32 bytes");
  if (outlen < 32) return throw_range(env, "out must hold 32 bytes");
  if (bp_merkle_root(hashes, n, out) != 0) return throw_error(env, "out of memory");
  return NULL;
}

/* impl() -> "sha-ni" | "portable" */
static napi_value js_impl(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value s;
  CHECK(napi_create_string_utf8(env, bp_sha256_impl(), NAPI_AUTO_LENGTH, &s));
  return s;
}

/* forcePortable(on): for tests, so the portable core is checked on SHA-NI machines too. */
static napi_value js_force_portable(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  bool on;
  if (!get_args(env, info, 1, argv)) return NULL;
  CHECK(napi_get_value_bool(env, argv[0], &on));
  bp_sha256_force_portable(on);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"sha256", NULL, js_sha256, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sha256d", NULL, js_sha256d, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sha256dBatch", NULL, js_sha256d_batch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sha256Ranges", NULL, js_sha256_ranges, NULL, NULL, NULL, napi_enumerable, NULL},
      {"merkleRoot", NULL, js_merkle_root, NULL, NULL, NULL, napi_enumerable, NULL},
      {"impl", NULL, js_impl, NULL, NULL, NULL, napi_enumerable, NULL},
      {"forcePortable", NULL, js_force_portable, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  CHECK(napi_define_properties(env, exports, sizeof props / sizeof props[0], props));
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
