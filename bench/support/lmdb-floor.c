/*
 * The LMDB writes an index of the chain cannot do without, replayed from a file through LMDB's
 * C API with no JavaScript in the way: bench/index-floor.ts writes the operations (the same it
 * replays through lmdb-js) and builds this against the LMDB that lmdb-js bundles.
 *
 *   lmdb-floor OPS DIR
 *
 * OPS: "LF1\0", then records: u8 op, u8 table, u16 LE key length, u32 LE value length, key,
 * value. Ops: 1 put, 2 put with MDB_APPEND, 3 delete, 8 start timing (commits what came
 * before), 9 commit (and begin the next transaction), 0 end. Tables: 0 dupSort (a packed
 * table's level 0), 1 and 2 plain. Commits are MDB_NOSYNC, as bpd's durability `os`. Prints
 * "ops N wall_s W cpu_s C" for the timed part.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lmdb.h"

static void check(int rc, const char *what) {
  if (rc != 0) {
    fprintf(stderr, "%s: %s\n", what, mdb_strerror(rc));
    exit(1);
  }
}

/* This LMDB (lmdb-js's fork) reports committing a transaction that wrote nothing. */
static void commit(MDB_txn *txn) {
  int rc = mdb_txn_commit(txn);
#ifdef MDB_EMPTY_TXN
  if (rc == MDB_EMPTY_TXN) rc = 0;
#endif
  check(rc, "commit");
}

static double now(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: lmdb-floor OPS DIR\n");
    return 2;
  }
  FILE *f = fopen(argv[1], "rb");
  if (f == NULL) {
    perror(argv[1]);
    return 1;
  }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *ops = malloc((size_t)size);
  if (ops == NULL || fread(ops, 1, (size_t)size, f) != (size_t)size || size < 4 || memcmp(ops, "LF1", 4) != 0) {
    fprintf(stderr, "%s: not an ops file\n", argv[1]);
    return 1;
  }
  fclose(f);

  MDB_env *env;
  check(mdb_env_create(&env), "env");
  check(mdb_env_set_mapsize(env, (size_t)16 << 30), "mapsize");
  check(mdb_env_set_maxdbs(env, 4), "maxdbs");
  check(mdb_env_open(env, argv[2], MDB_NOSYNC | MDB_NOMETASYNC, 0644), "open");
  MDB_txn *txn;
  MDB_dbi dbi[3];
  check(mdb_txn_begin(env, NULL, 0, &txn), "begin");
  check(mdb_dbi_open(txn, "t0", MDB_CREATE | MDB_DUPSORT, &dbi[0]), "dbi 0");
  check(mdb_dbi_open(txn, "t1", MDB_CREATE, &dbi[1]), "dbi 1");
  check(mdb_dbi_open(txn, "t2", MDB_CREATE, &dbi[2]), "dbi 2");

  double wall0 = 0, cpu0 = 0;
  long timed = 0;
  int timing = 0;
  size_t at = 4;
  for (;;) {
    if (at + 8 > (size_t)size) {
      fprintf(stderr, "ops file ends early\n");
      return 1;
    }
    uint8_t op = ops[at], t = ops[at + 1];
    uint32_t kl = ops[at + 2] | (uint32_t)ops[at + 3] << 8;
    uint32_t vl = ops[at + 4] | (uint32_t)ops[at + 5] << 8 | (uint32_t)ops[at + 6] << 16 | (uint32_t)ops[at + 7] << 24;
    at += 8;
    if (op == 0) break;
    if (t > 2 || at + kl + vl > (size_t)size) {
      fprintf(stderr, "bad record at %zu\n", at - 8);
      return 1;
    }
    MDB_val k = {kl, ops + at}, v = {vl, ops + at + kl};
    at += kl + vl;
    switch (op) {
      case 1:
        check(mdb_put(txn, dbi[t], &k, &v, 0), "put");
        break;
      case 2:
        check(mdb_put(txn, dbi[t], &k, &v, MDB_APPEND), "append");
        break;
      case 3: {
        int rc = mdb_del(txn, dbi[t], &k, NULL);
        if (rc != MDB_NOTFOUND) check(rc, "del");
        break;
      }
      case 8:
      case 9:
        commit(txn);
        check(mdb_txn_begin(env, NULL, 0, &txn), "begin");
        if (op == 8) {
          timing = 1;
          wall0 = now(CLOCK_MONOTONIC);
          cpu0 = now(CLOCK_THREAD_CPUTIME_ID);
        }
        break;
      default:
        fprintf(stderr, "bad op %d\n", op);
        return 1;
    }
    if (timing && op != 8) timed++;
  }
  commit(txn);
  double wall = now(CLOCK_MONOTONIC) - wall0, cpu = now(CLOCK_THREAD_CPUTIME_ID) - cpu0;
  printf("ops %ld wall_s %.6f cpu_s %.6f\n", timed, wall, cpu);
  mdb_env_close(env);
  return 0;
}
