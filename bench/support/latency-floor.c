/*
 * The machine's own floor under bench/latency-floor.ts: the same open-loop echo of 60-byte
 * frames over a Unix socket, in C (no runtime, no GC). `server PATH` echoes every frame at once
 * (epoll, blocking in epoll_wait between messages, as a daemon does); `client PATH SECS RATE`
 * sends RATE frames per second on a fixed schedule from one thread (absolute-time sleeps) over
 * 64 sockets and times each reply from its actual send in a second thread; after a 1 s warm-up
 * it prints the latencies in microseconds, one per line, to stdout.
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

#define FRAME 60
#define CLIENTS 64

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int unix_addr(const char *path, struct sockaddr_un *a) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  if (strlen(path) >= sizeof a->sun_path) return -1;
  strcpy(a->sun_path, path);
  return 0;
}

static int serve(const char *path) {
  struct sockaddr_un a;
  if (unix_addr(path, &a) < 0) return 2;
  int l = socket(AF_UNIX, SOCK_STREAM, 0);
  unlink(path);
  if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 128) < 0) return perror("bind"), 2;
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = l};
  epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
  printf("READY\n");
  fflush(stdout);
  struct epoll_event evs[128];
  char buf[65536];
  for (;;) {
    int n = epoll_wait(ep, evs, 128, -1);
    for (int i = 0; i < n; i++) {
      int fd = evs[i].data.fd;
      if (fd == l) {
        int c = accept(l, NULL, NULL);
        struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
        continue;
      }
      ssize_t r = read(fd, buf, sizeof buf);
      if (r <= 0) {
        close(fd);
        continue;
      }
      /* Frames are fixed-size and the client sends whole ones: echo the bytes as read. */
      ssize_t off = 0;
      while (off < r) {
        ssize_t w = write(fd, buf + off, r - off);
        if (w < 0 && errno != EINTR) break;
        if (w > 0) off += w;
      }
    }
  }
}

struct conn {
  int fd;
  double sent[1 << 16];
  unsigned head, tail;
};

static struct conn conns[CLIENTS];
static volatile int counting = 0, finished = 0;
static double *lat;
static size_t nlat, caplat;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *reader(void *arg) {
  (void)arg;
  int ep = epoll_create1(0);
  for (int k = 0; k < CLIENTS; k++) {
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = k};
    epoll_ctl(ep, EPOLL_CTL_ADD, conns[k].fd, &ev);
  }
  struct epoll_event evs[CLIENTS];
  char buf[65536];
  size_t partial[CLIENTS] = {0};
  while (!finished) {
    int n = epoll_wait(ep, evs, CLIENTS, 100);
    double t = now_us();
    for (int i = 0; i < n; i++) {
      struct conn *c = &conns[evs[i].data.u32];
      ssize_t r = read(c->fd, buf, sizeof buf);
      if (r <= 0) continue;
      size_t got = partial[evs[i].data.u32] + r;
      pthread_mutex_lock(&mu);
      while (got >= FRAME) {
        double s = c->sent[c->head++ & 0xffff];
        if (s > 0 && nlat < caplat) lat[nlat++] = t - s;
        got -= FRAME;
      }
      pthread_mutex_unlock(&mu);
      partial[evs[i].data.u32] = got;
    }
  }
  return NULL;
}

static int run_client(const char *path, double secs, double rate) {
  struct sockaddr_un a;
  if (unix_addr(path, &a) < 0) return 2;
  for (int k = 0; k < CLIENTS; k++) {
    conns[k].fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(conns[k].fd, (struct sockaddr *)&a, sizeof a) < 0) return perror("connect"), 2;
  }
  caplat = (size_t)(rate * (secs + 2));
  lat = malloc(caplat * sizeof *lat);
  pthread_t th;
  pthread_create(&th, NULL, reader, NULL);
  char frame[FRAME];
  memset(frame, 7, sizeof frame);
  double every = 1e6 / rate, t0 = now_us(), warm = t0 + 1e6, stop = warm + secs * 1e6;
  double next = t0;
  for (long i = 0;; i++) {
    double t = now_us();
    if (next > t) {
      struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)((next - t) * 1000)};
      nanosleep(&ts, NULL);
    }
    if (next >= stop) break;
    struct conn *c = &conns[i % CLIENTS];
    pthread_mutex_lock(&mu);
    double s = now_us();
    c->sent[c->tail++ & 0xffff] = next >= warm ? s : 0;
    pthread_mutex_unlock(&mu);
    if (write(c->fd, frame, FRAME) != FRAME) return perror("write"), 2;
    next += every;
  }
  usleep(300000);
  finished = 1;
  pthread_join(th, NULL);
  for (size_t i = 0; i < nlat; i++) printf("%.0f\n", lat[i]);
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "server") == 0) return serve(argv[2]);
  if (argc >= 5 && strcmp(argv[1], "client") == 0) return run_client(argv[2], atof(argv[3]), atof(argv[4]));
  fprintf(stderr, "usage: %s server PATH | client PATH SECS RATE\n", argv[0]);
  return 2;
}
