/*
 * bus_zmq: ZeroMQ sockets for the bus's RPC without a promise per message.
 *
 * zeromq.js resolves one promise per received message and per send, with a libuv hop for
 * each; at tens of thousands of small messages a second that is most of the CPU the bus
 * spends (docs/performance.md). Here one wake-up of a socket drains every message waiting
 * into one Buffer and calls JavaScript once; a send is a plain synchronous call.
 *
 * libzmq is not linked: we borrow the copy zeromq.js already loaded into the process
 * (its addon exports the zmq_* symbols), found with dl_iterate_phdr. So there is one libzmq
 * (4.3.5, drafts on) in the process and nothing to install. We use our own context, so our
 * sockets have their own inproc namespace (and so their own ZAP handler).
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <node_api.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* The libzmq ABI we use (zmq.h of libzmq 4.3; values are stable across 4.x). */
typedef struct {
  unsigned char _[64] __attribute__((aligned(sizeof(void *))));
} zmq_msg_t;
#define ZMQ_PAIR 0
#define ZMQ_FD 14
#define ZMQ_EVENTS 15
#define ZMQ_LAST_ENDPOINT 32
#define ZMQ_LINGER 17
#define ZMQ_DONTWAIT 1
#define ZMQ_SNDMORE 2
#define ZMQ_POLLIN 1
#define ZMQ_POLLOUT 2
#define ZMQ_HAUSNUMERO 156384712
#define ZMQ_EFSM (ZMQ_HAUSNUMERO + 51)
#define ZMQ_ENOCOMPATPROTO (ZMQ_HAUSNUMERO + 52)
#define ZMQ_ETERM (ZMQ_HAUSNUMERO + 53)
#define ZMQ_EMTHREAD (ZMQ_HAUSNUMERO + 54)

static struct {
  void *(*ctx_new)(void);
  void *(*socket)(void *, int);
  int (*close)(void *);
  int (*setsockopt)(void *, int, const void *, size_t);
  int (*getsockopt)(void *, int, void *, size_t *);
  int (*bind)(void *, const char *);
  int (*connect)(void *, const char *);
  int (*send)(void *, const void *, size_t, int);
  int (*msg_init)(zmq_msg_t *);
  int (*msg_recv)(zmq_msg_t *, void *, int);
  int (*msg_close)(zmq_msg_t *);
  void *(*msg_data)(zmq_msg_t *);
  size_t (*msg_size)(const zmq_msg_t *);
  int (*msg_more)(const zmq_msg_t *);
  int (*errno_)(void);
  const char *(*strerror)(int);
  int (*socket_monitor)(void *, const char *, int);
  void (*version)(int *, int *, int *);
} Z;
static void *ctx;
static int loaded;
static char libpath[4096];

/* Frames drained per wake-up before yielding to the event loop (the rest on the next turn). */
#define MAX_FRAMES 8192
#define MAX_BYTES (16u << 20)
#define MORE_BIT 0x80000000u

typedef struct sock {
  void *z; /* NULL once closed */
  napi_env env;
  uv_poll_t poll;
  uv_idle_t idle;
  uv_poll_t mpoll;
  void *mon;
  int has_mon;
  int started; /* poll and idle initialised (only then may they be stopped or closed) */
  int open_handles;
  int finalized;
  int in_drain;
  int want_out;
  int idle_on;
  napi_ref on_read, on_writable, on_event;
  napi_async_context actx;
  uint8_t *arena;
  size_t arena_cap;
  uint32_t *lens;
} sock_t;

static int bind_symbols(void *h) {
#define SYM(field, name)                                   \
  *(void **)(&Z.field) = dlsym(h, name);                   \
  if (!Z.field) return 0;
  SYM(ctx_new, "zmq_ctx_new");
  SYM(socket, "zmq_socket");
  SYM(close, "zmq_close");
  SYM(setsockopt, "zmq_setsockopt");
  SYM(getsockopt, "zmq_getsockopt");
  SYM(bind, "zmq_bind");
  SYM(connect, "zmq_connect");
  SYM(send, "zmq_send");
  SYM(msg_init, "zmq_msg_init");
  SYM(msg_recv, "zmq_msg_recv");
  SYM(msg_close, "zmq_msg_close");
  SYM(msg_data, "zmq_msg_data");
  SYM(msg_size, "zmq_msg_size");
  SYM(msg_more, "zmq_msg_more");
  SYM(errno_, "zmq_errno");
  SYM(strerror, "zmq_strerror");
  SYM(socket_monitor, "zmq_socket_monitor");
  SYM(version, "zmq_version");
#undef SYM
  return 1;
}

static int find_libzmq(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  (void)data;
  if (!info->dlpi_name || !info->dlpi_name[0]) return 0;
  void *h = dlopen(info->dlpi_name, RTLD_NOW | RTLD_NOLOAD);
  if (!h) return 0;
  if (dlsym(h, "zmq_msg_recv") && dlsym(h, "zmq_socket_monitor") && bind_symbols(h)) {
    snprintf(libpath, sizeof libpath, "%s", info->dlpi_name);
    return 1; /* keep h open: the library must outlive our use of it */
  }
  dlclose(h);
  return 0;
}

static const char *errno_name(int e) {
  switch (e) {
    case EAGAIN: return "EAGAIN";
    case EINTR: return "EINTR";
    case EINVAL: return "EINVAL";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case ENODEV: return "ENODEV";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case ECONNREFUSED: return "ECONNREFUSED";
    case EHOSTUNREACH: return "EHOSTUNREACH";
    case ENOTSOCK: return "ENOTSOCK";
    case EMSGSIZE: return "EMSGSIZE";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ZMQ_EFSM: return "EFSM";
    case ZMQ_ENOCOMPATPROTO: return "ENOCOMPATPROTO";
    case ZMQ_ETERM: return "ETERM";
    case ZMQ_EMTHREAD: return "EMTHREAD";
    default: return "EUNKNOWN";
  }
}

static napi_value throw_zmq(napi_env env, const char *what) {
  int e = Z.errno_();
  char msg[512];
  snprintf(msg, sizeof msg, "%s: %s", what, Z.strerror(e));
  napi_throw_error(env, errno_name(e), msg);
  return NULL;
}

#define CHECK(call)                                                                \
  do {                                                                             \
    if ((call) != napi_ok) {                                                       \
      const napi_extended_error_info *info_;                                       \
      napi_get_last_error_info(env, &info_);                                       \
      bool pending_;                                                               \
      napi_is_exception_pending(env, &pending_);                                   \
      if (!pending_)                                                               \
        napi_throw_error(env, NULL, info_->error_message ? info_->error_message : #call); \
      return NULL;                                                                 \
    }                                                                              \
  } while (0)

static sock_t *get_sock(napi_env env, napi_value v) {
  sock_t *s = NULL;
  if (napi_get_value_external(env, v, (void **)&s) != napi_ok || !s) {
    napi_throw_type_error(env, NULL, "not a socket handle");
    return NULL;
  }
  return s;
}

/* The arguments of a call on a socket: argv[0] is its handle. NULL (a JS error thrown) if it
 * is not one, or if `open` is asked and the socket is closed. */
static sock_t *sock_call(napi_env env, napi_callback_info info, size_t *argc, napi_value *argv, int open) {
  if (napi_get_cb_info(env, info, argc, argv, NULL, NULL) != napi_ok || *argc < 1) {
    napi_throw_type_error(env, NULL, "expected a socket handle");
    return NULL;
  }
  sock_t *s = get_sock(env, argv[0]);
  if (s && open && !s->z) {
    napi_throw_error(env, "ENOTSOCK", "socket is closed");
    return NULL;
  }
  return s;
}

static void maybe_free(sock_t *s) {
  if (s->finalized && s->open_handles == 0) {
    free(s->arena);
    free(s->lens);
    free(s);
  }
}

static void on_handle_closed(uv_handle_t *h) {
  sock_t *s = (sock_t *)h->data;
  s->open_handles--;
  maybe_free(s);
}

static void do_close(sock_t *s) {
  if (!s->z) return;
  napi_env env = s->env;
  if (s->has_mon) {
    uv_poll_stop(&s->mpoll);
    Z.socket_monitor(s->z, NULL, 0);
  }
  /* A socket whose start() never ran (its constructor threw) has zeroed handles: stopping
   * one would dereference a NULL loop. */
  if (s->started) {
    uv_poll_stop(&s->poll);
    uv_idle_stop(&s->idle);
  }
  s->idle_on = 0;
  Z.close(s->z);
  s->z = NULL;
  if (s->has_mon) {
    Z.close(s->mon);
    s->mon = NULL;
    uv_close((uv_handle_t *)&s->mpoll, on_handle_closed);
  }
  if (s->started) {
    uv_close((uv_handle_t *)&s->poll, on_handle_closed);
    uv_close((uv_handle_t *)&s->idle, on_handle_closed);
    s->started = 0;
  }
  if (s->on_read) napi_delete_reference(env, s->on_read);
  if (s->on_writable) napi_delete_reference(env, s->on_writable);
  s->on_read = s->on_writable = NULL;
  if (s->actx) {
    napi_async_destroy(env, s->actx);
    s->actx = NULL;
  }
  if (s->on_event) {
    napi_delete_reference(env, s->on_event);
    s->on_event = NULL;
  }
}

static void finalize_sock(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  sock_t *s = (sock_t *)data;
  do_close(s);
  s->finalized = 1;
  maybe_free(s);
}

/* Calls a JS callback from a libuv callback, in a scope that runs microtasks afterwards. */
static void call_js(sock_t *s, napi_ref fn_ref, size_t argc, napi_value *argv) {
  napi_env env = s->env;
  napi_value fn, recv, result;
  if (napi_get_reference_value(env, fn_ref, &fn) != napi_ok || !fn) return;
  /* napi_make_callback wants an object receiver */
  napi_get_global(env, &recv);
  napi_status st = napi_make_callback(env, s->actx, recv, fn, argc, argv, &result);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (st != napi_ok && pending) {
    /* what a throw in a plain JS callback does: an uncaught exception */
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    napi_fatal_exception(env, exc);
  }
}

static int ensure_arena(sock_t *s, size_t need) {
  if (need <= s->arena_cap) return 1;
  size_t cap = s->arena_cap ? s->arena_cap : 64 * 1024;
  while (cap < need) cap *= 2;
  uint8_t *p = realloc(s->arena, cap);
  if (!p) return 0;
  s->arena = p;
  s->arena_cap = cap;
  return 1;
}

static void start_idle(sock_t *s);

/* ZMQ_EVENTS, retried on EINTR: it processes the socket's commands, which polls the mailbox,
 * and a signal (SIGPROF from the profiler, SIGCHLD...) can interrupt that. A failure that is
 * not retried must not end a drain silently: the fd's signal may be gone. */
static int events_of(void *z, uint32_t *events) {
  for (int i = 0; i < 16; i++) {
    size_t len = sizeof *events;
    if (Z.getsockopt(z, ZMQ_EVENTS, events, &len) == 0) return 0;
    if (Z.errno_() != EINTR) return -1;
  }
  return -1;
}


/* bind, connect and zmq_socket_monitor (which binds) start by processing the socket's
 * commands: a signal there gives EINTR, with nothing done. Run them again. */
static int retry_eintr_ep(int (*call)(void *, const char *), void *z, const char *ep) {
  int rc, tries = 0;
  do rc = call(z, ep);
  while (rc != 0 && Z.errno_() == EINTR && ++tries < 64);
  return rc;
}

static int monitor_eintr(void *z, const char *addr) {
  int rc, tries = 0;
  do rc = Z.socket_monitor(z, addr, 0xFFFF);
  while (rc != 0 && Z.errno_() == EINTR && ++tries < 64);
  return rc;
}

/* Reads every message waiting (up to the budget) and hands them to JS in one Buffer:
 * u32 frame count, then per frame u32 length | MORE_BIT (another frame of the same message
 * follows), then the frames' bytes. */
static void drain(sock_t *s) {
  if (s->in_drain || !s->z) return;
  s->in_drain = 1;
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  /* The loop ends when ZMQ_EVENTS shows nothing to do: only that re-arms the fd. Leaving it
   * any other way (a busy socket, the budget) must schedule another drain. */
  for (int round = 0; s->z; round++) {
    if (round == 64) {
      start_idle(s);
      break;
    }
    uint32_t events = 0;
    if (events_of(s->z, &events) != 0) {
      if (Z.errno_() == EINTR) start_idle(s); /* try again next turn */
      break;
    }
    if ((events & ZMQ_POLLOUT) && s->want_out) {
      s->want_out = 0;
      call_js(s, s->on_writable, 0, NULL);
      if (!s->z) break;
      continue; /* the sends may have changed the events */
    }
    if (!(events & ZMQ_POLLIN)) break;
    uint32_t n = 0;
    size_t bytes = 0;
    int more = 0, budget_left = 1;
    for (;;) {
      zmq_msg_t m;
      Z.msg_init(&m);
      if (Z.msg_recv(&m, s->z, ZMQ_DONTWAIT) < 0) {
        Z.msg_close(&m);
        break; /* EAGAIN (nothing more), or the socket is going away */
      }
      size_t sz = Z.msg_size(&m);
      if (sz >= MORE_BIT || !ensure_arena(s, bytes + sz)) {
        /* cannot happen below ZMQ_MAXMSGSIZE; drop the frame rather than crash */
        Z.msg_close(&m);
        continue;
      }
      memcpy(s->arena + bytes, Z.msg_data(&m), sz);
      bytes += sz;
      more = Z.msg_more(&m);
      Z.msg_close(&m);
      s->lens[n++] = (uint32_t)sz | (more ? MORE_BIT : 0);
      if (!more && (n >= MAX_FRAMES - 64 || bytes >= MAX_BYTES)) {
        budget_left = 0;
        break;
      }
      if (more && n >= MAX_FRAMES) break; /* absurd multipart: JS sees a cut message */
    }
    if (n > 0) {
      size_t head = 4 + 4 * (size_t)n;
      void *data;
      napi_value buf;
      if (napi_create_buffer(env, head + bytes, &data, &buf) == napi_ok) {
        uint8_t *d = data;
        memcpy(d, &n, 4);
        memcpy(d + 4, s->lens, 4 * (size_t)n);
        memcpy(d + head, s->arena, bytes);
        call_js(s, s->on_read, 1, &buf);
      }
    }
    if (!budget_left) {
      start_idle(s);
      break;
    }
  }
  napi_close_handle_scope(env, scope);
  s->in_drain = 0;
}

static void on_idle(uv_idle_t *h) {
  sock_t *s = (sock_t *)h->data;
  uv_idle_stop(h);
  s->idle_on = 0;
  drain(s);
}

static void start_idle(sock_t *s) {
  if (s->idle_on || !s->z || !s->started) return;
  s->idle_on = 1;
  uv_idle_start(&s->idle, on_idle);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  drain((sock_t *)h->data);
}

static void on_mon_poll(uv_poll_t *h, int status, int events) {
  (void)status;
  (void)events;
  sock_t *s = (sock_t *)h->data;
  napi_env env = s->env;
  napi_handle_scope scope;
  napi_open_handle_scope(env, &scope);
  while (s->z && s->mon) {
    uint32_t ev = 0;
    if (events_of(s->mon, &ev) != 0 || !(ev & ZMQ_POLLIN)) break;
    /* A monitor message: [u16 event | u32 value] then the endpoint. */
    zmq_msg_t a, b;
    Z.msg_init(&a);
    if (Z.msg_recv(&a, s->mon, ZMQ_DONTWAIT) < 0) {
      int e = Z.errno_();
      Z.msg_close(&a);
      if (e == EINTR) continue;
      break;
    }
    uint16_t event = 0;
    uint32_t value = 0;
    if (Z.msg_size(&a) >= 6) {
      memcpy(&event, Z.msg_data(&a), 2);
      memcpy(&value, (uint8_t *)Z.msg_data(&a) + 2, 4);
    }
    int more = Z.msg_more(&a);
    Z.msg_close(&a);
    char ep[1024] = "";
    if (more) {
      Z.msg_init(&b);
      if (Z.msg_recv(&b, s->mon, ZMQ_DONTWAIT) >= 0) {
        size_t n = Z.msg_size(&b);
        if (n >= sizeof ep) n = sizeof ep - 1;
        memcpy(ep, Z.msg_data(&b), n);
        ep[n] = 0;
      }
      Z.msg_close(&b);
    }
    if (s->on_event) {
      napi_value argv[3];
      napi_create_uint32(env, event, &argv[0]);
      napi_create_uint32(env, value, &argv[1]);
      napi_create_string_utf8(env, ep, NAPI_AUTO_LENGTH, &argv[2]);
      call_js(s, s->on_event, 3, argv);
    }
  }
  napi_close_handle_scope(env, scope);
}

/* Once per process (worker threads share it): find libzmq and make our context. */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static void load_once(void) {
  dl_iterate_phdr(find_libzmq, NULL);
  if (Z.ctx_new) ctx = Z.ctx_new();
  loaded = ctx != NULL;
}

/* init(): finds libzmq; returns its path and version ("4.3.5 /path"), or throws. */
static napi_value js_init(napi_env env, napi_callback_info info) {
  (void)info;
  pthread_once(&once, load_once);
  if (!loaded) {
    napi_throw_error(env, "ENOLIBZMQ",
                     Z.ctx_new ? "zmq_ctx_new failed" : "no libzmq in this process (import zeromq first)");
    return NULL;
  }
  int a, b, c;
  Z.version(&a, &b, &c);
  char out[4200];
  snprintf(out, sizeof out, "%d.%d.%d %s", a, b, c, libpath);
  napi_value v;
  CHECK(napi_create_string_utf8(env, out, NAPI_AUTO_LENGTH, &v));
  return v;
}

/* open(type) -> handle */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t type;
  CHECK(napi_get_value_int32(env, argv[0], &type));
  if (!loaded) {
    napi_throw_error(env, "ENOLIBZMQ", "init() first");
    return NULL;
  }
  sock_t *s = calloc(1, sizeof *s);
  if (!s) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  s->lens = malloc(sizeof(uint32_t) * MAX_FRAMES);
  s->z = Z.socket(ctx, type);
  if (!s->z || !s->lens) {
    free(s->lens);
    free(s);
    return throw_zmq(env, "zmq_socket");
  }
  int zero = 0;
  Z.setsockopt(s->z, ZMQ_LINGER, &zero, sizeof zero);
  s->env = env;
  napi_value h;
  if (napi_create_external(env, s, finalize_sock, NULL, &h) != napi_ok) {
    Z.close(s->z);
    free(s->lens);
    free(s);
    napi_throw_error(env, NULL, "napi_create_external failed");
    return NULL;
  }
  return h;
}

/* setopt(h, option, int | Buffer | string) */
static napi_value js_setopt(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  sock_t *s = sock_call(env, info, &argc, argv, 1);
  if (!s) return NULL;
  int32_t opt;
  CHECK(napi_get_value_int32(env, argv[1], &opt));
  napi_valuetype t;
  CHECK(napi_typeof(env, argv[2], &t));
  int rc;
  if (t == napi_number) {
    int64_t v64;
    CHECK(napi_get_value_int64(env, argv[2], &v64));
    /* ZMQ_MAXMSGSIZE (22) is int64; the others we set are int */
    if (opt == 22) rc = Z.setsockopt(s->z, opt, &v64, sizeof v64);
    else {
      int v = (int)v64;
      rc = Z.setsockopt(s->z, opt, &v, sizeof v);
    }
  } else if (t == napi_string) {
    char buf[1024];
    size_t n;
    CHECK(napi_get_value_string_utf8(env, argv[2], NULL, 0, &n));
    if (n >= sizeof buf) {
      napi_throw_range_error(env, "EINVAL", "option value over 1023 bytes");
      return NULL;
    }
    CHECK(napi_get_value_string_utf8(env, argv[2], buf, sizeof buf, &n));
    rc = Z.setsockopt(s->z, opt, buf, n);
  } else {
    void *data;
    size_t n;
    CHECK(napi_get_buffer_info(env, argv[2], &data, &n));
    rc = Z.setsockopt(s->z, opt, data, n);
  }
  if (rc != 0) return throw_zmq(env, "zmq_setsockopt");
  return NULL;
}

static napi_value endpoint_call(napi_env env, napi_callback_info info, int is_bind) {
  size_t argc = 2;
  napi_value argv[2];
  sock_t *s = sock_call(env, info, &argc, argv, 1);
  if (!s) return NULL;
  char ep[1024];
  size_t n;
  CHECK(napi_get_value_string_utf8(env, argv[1], ep, sizeof ep, &n));
  int rc = retry_eintr_ep(is_bind ? Z.bind : Z.connect, s->z, ep);
  if (rc != 0) return throw_zmq(env, is_bind ? "bind" : "connect");
  /* bind and connect process the socket's commands, which may swallow the fd's signal */
  start_idle(s);
  if (!is_bind) return NULL;
  char last[1024];
  size_t ln = sizeof last;
  if (Z.getsockopt(s->z, ZMQ_LAST_ENDPOINT, last, &ln) != 0) return throw_zmq(env, "last endpoint");
  napi_value v;
  CHECK(napi_create_string_utf8(env, last, ln > 0 && last[ln - 1] == 0 ? ln - 1 : ln, &v));
  return v;
}
static napi_value js_bind(napi_env env, napi_callback_info info) { return endpoint_call(env, info, 1); }
static napi_value js_connect(napi_env env, napi_callback_info info) { return endpoint_call(env, info, 0); }

/* monitor(h, onEvent(event, value, endpoint)): before bind/connect. */
static napi_value js_monitor(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  sock_t *s = sock_call(env, info, &argc, argv, 0);
  if (!s) return NULL;
  if (!s->z || s->has_mon) {
    napi_throw_error(env, "EINVAL", "socket closed or already monitored");
    return NULL;
  }
  char addr[64];
  snprintf(addr, sizeof addr, "inproc://lnpbp-bus-monitor-%p", (void *)s);
  /* every event: cheap, and the JS side picks what it needs */
  if (monitor_eintr(s->z, addr) != 0) return throw_zmq(env, "zmq_socket_monitor");
  s->mon = Z.socket(ctx, ZMQ_PAIR);
  if (!s->mon) return throw_zmq(env, "monitor socket");
  if (retry_eintr_ep(Z.connect, s->mon, addr) != 0) {
    Z.close(s->mon);
    s->mon = NULL;
    Z.socket_monitor(s->z, NULL, 0);
    return throw_zmq(env, "monitor connect");
  }
  int fd;
  size_t fl = sizeof fd;
  Z.getsockopt(s->mon, ZMQ_FD, &fd, &fl);
  /* One look at the (still empty) pipe: until its reader has found it empty once, libzmq
   * does not signal the fd for new messages. */
  uint32_t ev = 0;
  events_of(s->mon, &ev);
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  int prc = uv_poll_init(loop, &s->mpoll, fd);
  if (prc != 0) {
    Z.socket_monitor(s->z, NULL, 0);
    Z.close(s->mon);
    s->mon = NULL;
    napi_throw_error(env, "EUV", uv_strerror(prc));
    return NULL;
  }
  s->mpoll.data = s;
  s->open_handles++;
  s->has_mon = 1;
  CHECK(napi_create_reference(env, argv[1], 1, &s->on_event));
  uv_poll_start(&s->mpoll, UV_READABLE, on_mon_poll);
  /* the monitor does not keep the process alive by itself */
  uv_unref((uv_handle_t *)&s->mpoll);
  return NULL;
}

/* start(h, onRead(buffer), onWritable()) */
static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  sock_t *s = sock_call(env, info, &argc, argv, 0);
  if (!s) return NULL;
  if (!s->z || s->started) {
    napi_throw_error(env, "EINVAL", "socket closed or already started");
    return NULL;
  }
  int fd;
  size_t fl = sizeof fd;
  if (Z.getsockopt(s->z, ZMQ_FD, &fd, &fl) != 0) return throw_zmq(env, "ZMQ_FD");
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  int prc = uv_poll_init(loop, &s->poll, fd);
  if (prc != 0) {
    napi_throw_error(env, "EUV", uv_strerror(prc));
    return NULL;
  }
  uv_idle_init(loop, &s->idle); /* cannot fail */
  s->poll.data = s;
  s->idle.data = s;
  s->open_handles += 2;
  s->started = 1; /* from here on do_close closes both handles, whatever fails below */
  napi_value name;
  CHECK(napi_create_string_utf8(env, "lnpbp.bus.zmq", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, NULL, name, &s->actx));
  CHECK(napi_create_reference(env, argv[1], 1, &s->on_read));
  CHECK(napi_create_reference(env, argv[2], 1, &s->on_writable));
  uv_poll_start(&s->poll, UV_READABLE, on_poll);
  start_idle(s); /* messages may already wait (the fd will not signal for them) */
  return NULL;
}

/* send(h, frame0, frame1, ...) -> true (handed to ZeroMQ) | false (would block: nothing sent).
 * Frames are Buffers/Uint8Arrays or strings. */
static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 18;
  napi_value argv[18];
  sock_t *s = sock_call(env, info, &argc, argv, 1);
  if (!s) return NULL;
  if (argc < 2 || argc > 17) {
    napi_throw_type_error(env, NULL, "send(handle, ...frames): 1 to 16 frames");
    return NULL;
  }
  size_t nf = argc - 1;
  int ok = 1;
  for (size_t i = 0; i < nf; i++) {
    napi_value f = argv[i + 1];
    napi_valuetype t;
    CHECK(napi_typeof(env, f, &t));
    const void *data;
    size_t n;
    char sbuf[1024];
    char *heap = NULL;
    if (t == napi_string) {
      CHECK(napi_get_value_string_utf8(env, f, NULL, 0, &n));
      char *dst = sbuf;
      if (n >= sizeof sbuf) {
        heap = malloc(n + 1);
        if (!heap) {
          napi_throw_error(env, "ENOMEM", "out of memory");
          return NULL;
        }
        dst = heap;
      }
      CHECK(napi_get_value_string_utf8(env, f, dst, n + 1, &n));
      data = dst;
    } else {
      bool is_ta;
      CHECK(napi_is_typedarray(env, f, &is_ta));
      if (is_ta) {
        napi_typedarray_type tt;
        size_t len, off;
        napi_value ab;
        void *d;
        CHECK(napi_get_typedarray_info(env, f, &tt, &len, &d, &ab, &off));
        if (tt != napi_uint8_array) {
          napi_throw_type_error(env, NULL, "frames must be Uint8Array, Buffer or string");
          return NULL;
        }
        data = d;
        n = len;
      } else {
        napi_throw_type_error(env, NULL, "frames must be Uint8Array, Buffer or string");
        return NULL;
      }
    }
    int flags = ZMQ_DONTWAIT | (i + 1 < nf ? ZMQ_SNDMORE : 0);
    /* A signal during the command processing every send starts with gives EINTR, the frame
     * not taken: send it again (the profiler's SIGPROF made this common). */
    int sent, tries = 0;
    while ((sent = Z.send(s->z, data, n, flags)) < 0 && Z.errno_() == EINTR && ++tries < 64) {
    }
    free(heap);
    if (sent < 0) {
      int e = Z.errno_();
      /* Only the first frame can fail with EAGAIN: libzmq takes the rest of a message it started. */
      if (e == EAGAIN && i == 0) {
        ok = 0;
        s->want_out = 1;
        break;
      }
      return throw_zmq(env, "send");
    }
  }
  /* A send may have consumed the fd's signal for messages that arrived meanwhile. */
  if (!s->in_drain) {
    uint32_t events = 0;
    if (events_of(s->z, &events) != 0 || (events & ZMQ_POLLIN) || (s->want_out && (events & ZMQ_POLLOUT)))
      start_idle(s);
  }
  napi_value r;
  CHECK(napi_get_boolean(env, ok, &r));
  return r;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  sock_t *s = sock_call(env, info, &argc, argv, 0);
  if (!s) return NULL;
  do_close(s);
  return NULL;
}

static napi_value init_module(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"init", NULL, js_init, NULL, NULL, NULL, napi_default, NULL},
      {"open", NULL, js_open, NULL, NULL, NULL, napi_default, NULL},
      {"setopt", NULL, js_setopt, NULL, NULL, NULL, napi_default, NULL},
      {"bind", NULL, js_bind, NULL, NULL, NULL, napi_default, NULL},
      {"connect", NULL, js_connect, NULL, NULL, NULL, napi_default, NULL},
      {"monitor", NULL, js_monitor, NULL, NULL, NULL, napi_default, NULL},
      {"start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init_module)
