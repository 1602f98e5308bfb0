/*
 * An open-loop load generator for bench/query.ts that adds no runtime of its own to what it
 * measures: 64 ZMTP 3.1 DEALER connections (NULL mechanism) to a bus RPC server over a Unix
 * socket, sending the bus's RPC frames (requestId u32 LE | typeId u16 LE | body, one ZMTP frame
 * each) read from a file, RATE per second in all on a fixed schedule from one thread, with each
 * reply timed from its request's actual send by a second thread. With a Node client, the
 * client's own garbage collection and event loop are part of every latency; here only the
 * server, the kernel and the machine are.
 *
 *   zmtp-load PATH FRAMES SECS RATE
 *
 * FRAMES: u32 LE count, then per frame u32 LE length and the frame (its first 4 bytes, the
 * request id, are overwritten). Prints, after a 1 s warm-up, one line per reply: its latency and
 * when its request was sent (µs after the warm-up); then a last line "lost N" for requests
 * without a reply 300 ms after the last send.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CONNS 64
#define MAX_FRAME 65536

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int read_full(int fd, unsigned char *p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

static int write_full(int fd, const unsigned char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Greeting (signature, version 3.1, NULL) and READY with Socket-Type DEALER and an empty Identity. */
static int handshake(int fd) {
  unsigned char g[64] = {0};
  g[0] = 0xff;
  g[8] = 1;
  g[9] = 0x7f;
  g[10] = 3;
  g[11] = 1;
  memcpy(g + 12, "NULL", 4);
  unsigned char ready[64];
  size_t n = 0;
  const char *props[][2] = {{"Socket-Type", "DEALER"}, {"Identity", ""}};
  unsigned char body[128];
  size_t b = 0;
  body[b++] = 5;
  memcpy(body + b, "READY", 5);
  b += 5;
  for (int i = 0; i < 2; i++) {
    size_t kl = strlen(props[i][0]), vl = strlen(props[i][1]);
    body[b++] = (unsigned char)kl;
    memcpy(body + b, props[i][0], kl);
    b += kl;
    body[b++] = 0;
    body[b++] = 0;
    body[b++] = 0;
    body[b++] = (unsigned char)vl;
    memcpy(body + b, props[i][1], vl);
    b += vl;
  }
  ready[n++] = 0x04;
  ready[n++] = (unsigned char)b;
  memcpy(ready + n, body, b);
  n += b;
  if (write_full(fd, g, 64) < 0 || write_full(fd, ready, n) < 0) return -1;
  unsigned char peer[64];
  if (read_full(fd, peer, 64) < 0 || peer[0] != 0xff || peer[10] != 3) return -1;
  /* The server's READY: one command frame, short or long. */
  unsigned char h[9];
  if (read_full(fd, h, 2) < 0 || !(h[0] & 0x04)) return -1;
  size_t len = h[1];
  if (h[0] & 0x02) {
    if (read_full(fd, h + 2, 7) < 0) return -1;
    len = ((size_t)h[5] << 24) | ((size_t)h[6] << 16) | ((size_t)h[7] << 8) | h[8];
  }
  unsigned char skip[4096];
  if (len > sizeof skip || read_full(fd, skip, len) < 0) return -1;
  return 0;
}

static unsigned char **frames;
static uint32_t *frame_len;
static uint32_t nframes;
static int fds[CONNS];
static double *sent_at;
static unsigned char *answered;
static size_t max_requests;
static volatile int finished = 0;
static double warm_at;
static double *lat;
/** When each counted reply's request was sent, µs after the warm-up ended (same order as lat). */
static double *lat_at;
static size_t nlat;

struct rx {
  unsigned char buf[2 * MAX_FRAME + 16];
  size_t have;
};
static struct rx rxs[CONNS];

static void *reader(void *arg) {
  (void)arg;
  int ep = epoll_create1(0);
  for (int k = 0; k < CONNS; k++) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)k};
    epoll_ctl(ep, EPOLL_CTL_ADD, fds[k], &ev);
  }
  struct epoll_event evs[CONNS];
  while (!finished) {
    int n = epoll_wait(ep, evs, CONNS, 50);
    for (int i = 0; i < n; i++) {
      struct rx *x = &rxs[evs[i].data.u32];
      ssize_t r = read(fds[evs[i].data.u32], x->buf + x->have, sizeof x->buf - x->have);
      if (r <= 0) continue;
      double t = now_us();
      x->have += (size_t)r;
      size_t at = 0;
      for (;;) {
        if (x->have - at < 2) break;
        unsigned char fl = x->buf[at];
        size_t hl = (fl & 0x02) ? 9 : 2, len;
        if (x->have - at < hl) break;
        if (fl & 0x02)
          len = ((size_t)x->buf[at + 5] << 24) | ((size_t)x->buf[at + 6] << 16) | ((size_t)x->buf[at + 7] << 8) |
                x->buf[at + 8];
        else
          len = x->buf[at + 1];
        if (len > MAX_FRAME) {
          fprintf(stderr, "reply frame of %zu bytes\n", len);
          exit(2);
        }
        if (x->have - at < hl + len) break;
        const unsigned char *f = x->buf + at + hl;
        if (!(fl & 0x04) && len >= 4) {
          uint32_t id = (uint32_t)f[0] | ((uint32_t)f[1] << 8) | ((uint32_t)f[2] << 16) | ((uint32_t)f[3] << 24);
          if (id < max_requests && !answered[id]) {
            answered[id] = 1;
            if (sent_at[id] >= warm_at) {
              lat_at[nlat] = sent_at[id] - warm_at;
              lat[nlat++] = t - sent_at[id];
            }
          }
        }
        at += hl + len;
      }
      memmove(x->buf, x->buf + at, x->have - at);
      x->have -= at;
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s PATH FRAMES SECS RATE\n", argv[0]);
    return 2;
  }
  const char *path = argv[1];
  double secs = atof(argv[3]), rate = atof(argv[4]);
  FILE *fp = fopen(argv[2], "rb");
  if (!fp || fread(&nframes, 4, 1, fp) != 1 || nframes == 0) return fprintf(stderr, "bad frames file\n"), 2;
  frames = calloc(nframes, sizeof *frames);
  frame_len = calloc(nframes, sizeof *frame_len);
  for (uint32_t i = 0; i < nframes; i++) {
    if (fread(&frame_len[i], 4, 1, fp) != 1 || frame_len[i] < 6 || frame_len[i] > MAX_FRAME)
      return fprintf(stderr, "bad frame %u\n", i), 2;
    frames[i] = malloc(9 + frame_len[i]);
    if (fread(frames[i] + 9, 1, frame_len[i], fp) != frame_len[i]) return fprintf(stderr, "short file\n"), 2;
  }
  fclose(fp);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof a.sun_path) return 2;
  strcpy(a.sun_path, path);
  for (int k = 0; k < CONNS; k++) {
    fds[k] = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(fds[k], (struct sockaddr *)&a, sizeof a) < 0 || handshake(fds[k]) < 0)
      return perror("connect/handshake"), 2;
  }
  max_requests = (size_t)(rate * (secs + 1) + 1024);
  sent_at = calloc(max_requests, sizeof *sent_at);
  answered = calloc(max_requests, 1);
  lat = calloc(max_requests, sizeof *lat);
  lat_at = calloc(max_requests, sizeof *lat_at);
  double every = 1e6 / rate, t0 = now_us(), stop = t0 + (secs + 1) * 1e6, next = t0;
  warm_at = t0 + 1e6;
  pthread_t th;
  pthread_create(&th, NULL, reader, NULL);
  size_t sent = 0, counted = 0;
  for (uint32_t i = 0; i < max_requests; i++) {
    double t = now_us();
    if (next > t) {
      struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)((next - t) * 1000)};
      nanosleep(&ts, NULL);
    }
    if (next >= stop) break;
    uint32_t fi = i % nframes, len = frame_len[fi];
    unsigned char *f = frames[fi];
    /* The ZMTP header right before the frame: 2 bytes, or 9 for a long frame. */
    unsigned char *start;
    if (len <= 255) {
      start = f + 7;
      start[0] = 0;
      start[1] = (unsigned char)len;
    } else {
      start = f;
      start[0] = 0x02;
      memset(start + 1, 0, 4);
      start[5] = (unsigned char)(len >> 24);
      start[6] = (unsigned char)(len >> 16);
      start[7] = (unsigned char)(len >> 8);
      start[8] = (unsigned char)len;
    }
    f[9] = (unsigned char)i;
    f[10] = (unsigned char)(i >> 8);
    f[11] = (unsigned char)(i >> 16);
    f[12] = (unsigned char)(i >> 24);
    double s = now_us();
    sent_at[i] = s;
    if (s >= warm_at) counted++;
    if (write_full(fds[i % CONNS], start, (size_t)(f + 9 + len - start)) < 0) return perror("write"), 2;
    sent++;
    next += every;
  }
  usleep(300000);
  finished = 1;
  pthread_join(th, NULL);
  for (size_t i = 0; i < nlat; i++) printf("%.0f %.0f\n", lat[i], lat_at[i]);
  printf("lost %zu\n", counted - nlat);
  return 0;
}
