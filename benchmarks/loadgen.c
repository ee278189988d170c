/*
 * loadgen: an epoll load generator for echo servers that checks every byte
 * that comes back.
 *
 * Why C: the servers under test reach a million lines a second on one core;
 * a Python client would measure itself.  This one runs single-threaded on its
 * own core, and reports its own CPU share over the measured window so that a
 * client-bound result is visible as such.
 *
 * Modes (--mode):
 *   line     N connections each keep WINDOW lines of SIZE bytes (newline
 *            included) in flight; WINDOW 1 is ping-pong.
 *   ws       the same over WebSocket: an HTTP upgrade to --path, then masked
 *            text frames of SIZE payload bytes; the echoed payloads are
 *            checked as one stream, however the server frames them.
 *            With --deflate, the upgrade offers permessage-deflate (RFC 7692)
 *            as Chromium does ("permessage-deflate; client_max_window_bits"),
 *            the server must agree (else the upgrade counts as refused), and
 *            every message goes out compressed with the agreed window and
 *            context takeover (every connection sends the same messages,
 *            so each is compressed once for all: see zshared); compressed
 *            echoes are inflated, each checked to inflate to exactly SIZE
 *            bytes, then checked like any other.
 *   connect  each of N slots loops: connect (and TLS handshake), one line,
 *            its echo, close.  Counts connections (handshakes) per second.
 *   idle     open N connections, echo one line on each, print "#idle-ready",
 *            then hold them until --duration passes or stdin closes.
 *   grpc     the line shape over gRPC: each connection is HTTP/2 in the clear
 *            (prior knowledge) with one call of a bidirectional streaming
 *            echo (--path, by default grpc.examples.echo.Echo's), each record
 *            one gRPC message (an EchoRequest whose string is SIZE bytes) in
 *            a DATA frame of its own; the echoed DATA payloads are checked as
 *            one stream of the same messages.  The client keeps to the
 *            server's flow-control windows and answers its SETTINGS and PINGs.
 *   grpc-idle  idle over gRPC: each connection echoes one message on its call,
 *            then ends the call (END_STREAM) and holds the connection.
 *
 * Connections open SETUP_BATCH at a time, and each echoes one record before
 * the load starts (not measured), so every connection is accepted and warm.
 *
 * Every record (line or message) k of connection c has known content: SIZE
 * bytes of a fixed printable pattern starting at an offset that depends on
 * k and c (on k alone with --deflate: see zshared; a line's last byte is
 * replaced by '\n').  With --compressible the pattern is JSON-like text (the
 * same keys, varying values: what deflate meets in real traffic), and a
 * record never overlaps the 32 records before it, so a compressor's window
 * does not find the previous message in it.  Echoed bytes are compared with
 * that as they arrive; a mismatch, an early EOF or a record not echoed by
 * the end of the drain period is counted as an error.
 *
 * Output: "#measure-start" and "#measure-end" on stdout as the measured
 * window opens and closes (the harness samples the server's CPU time then),
 * and finally one JSON object on one line (with --deflate, its "deflate" object
 * gives the extension agreed and the messages and bytes each way, compressed
 * and inflated).  Exit status 0 when the run
 * completed, whatever the error counts; 2 for bad usage or set-up failure.
 *
 * Build: gcc -O2 -DWITH_TLS -DWITH_ZLIB loadgen.c -o loadgen -lssl -lcrypto -lz
 * (without -DWITH_TLS and the libraries, --tls is refused; without
 * -DWITH_ZLIB and -lz, --deflate).
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifdef WITH_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#endif
#ifdef WITH_ZLIB
#include <zlib.h>
#endif

/* The pattern repeats with a prime period, so consecutive records of one
 * connection, and the same record of neighbouring connections, differ. */
#define PERIOD 4093
/* --compressible: a period far longer than any deflate window (32 KiB), and
 * a stride between a connection's records longer than a record. */
#define TEXT_PERIOD 262139
#define TEXT_STRIDE 7919
#define READ_BUFFER (256 * 1024)
#define MAX_EVENTS 1024
/* Connections being set up at once.  A connection counts as set up once its
 * first record has come back, so the server has certainly accepted it: more
 * at once could overflow a listen backlog (Twisted's default is 50), and the
 * kernel would then retry the dropped SYNs only after a second. */
#define SETUP_BATCH 32

enum mode { MODE_LINE, MODE_WS, MODE_CONNECT, MODE_IDLE };

/* HTTP/2 frame types and flags the gRPC mode reads or writes. */
enum { H2_DATA = 0, H2_HEADERS = 1, H2_RST = 3, H2_SETTINGS = 4, H2_PING = 6,
       H2_GOAWAY = 7, H2_WINDOW_UPDATE = 8 };
#define H2_END_STREAM 0x1
#define H2_ACK 0x1
#define H2_END_HEADERS 0x4
#define H2_PADDED 0x8
#define H2_MAX_WINDOW 0x7fffffffLL
enum phase { PH_SETUP, PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_IDLE, PH_DONE };
enum state { ST_FREE, ST_CONNECTING, ST_HANDSHAKE, ST_UPGRADE, ST_READY, ST_CLOSED };

/* ---- options ---------------------------------------------------------- */

static struct {
    const char *host;
    int port;
    enum mode mode;
    int conns;
    size_t size;
    int window;
    double duration, warmup, drain;
    int tls;
    const char *path;
    int grpc;         /* the gRPC protocol, in the line or idle shape */
    int deflate;      /* ws: offer and use permessage-deflate */
    int level;        /* ws: the zlib compression level of --deflate */
    int compressible; /* records from JSON-like text */
} opt = {"127.0.0.1", 0, MODE_LINE, 1, 64, 1, 5.0, 1.0, 5.0, 0, NULL, 0, 0, -1, 0};

/* Where records start in the pattern: see record(). */
static size_t period = PERIOD;
static uint64_t stride = 31, conn_stride = 17;

/* gRPC: every record's bytes before its SIZE pattern bytes: the message's
 * length prefix, then the EchoRequest's field tag and string length. */
static unsigned char grpc_head[16];
static size_t grpc_head_len;

/* ---- results ---------------------------------------------------------- */

static struct {
    uint64_t records;   /* records echoed in full within the window */
    uint64_t verify;    /* connections whose echo differed from what was sent */
    uint64_t io;        /* unexpected EOF, reset or TLS failure */
    uint64_t connect;   /* failed connects */
    uint64_t upgrade;   /* WebSocket upgrades refused */
    uint64_t missing;   /* records sent but never echoed */
    char detail[256];   /* the first error, for a human */
    /* --deflate, over the whole run: messages sent (all compressed) and
     * their payload bytes on the wire; echoed messages that came back
     * compressed or not, their payload bytes on the wire, and the bytes the
     * compressed ones inflated to. */
    uint64_t z_sent, z_sent_wire, z_echo_compressed, z_echo_plain, z_echo_wire,
        z_echo_inflated;
    char extension[256]; /* what the server agreed to, on the first connection */
} res;

static void error_detail(const char *fmt, ...) {
    if (res.detail[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res.detail, sizeof res.detail, fmt, ap);
    va_end(ap);
}

/* Latency histogram, log-linear in nanoseconds: exact below 128 ns, then 64
 * buckets per power of two (under 1.6 % error), far cheaper than keeping
 * every sample at millions of records a second. */
#define HIST_BUCKETS (128 + 64 * 58)
static uint64_t hist[HIST_BUCKETS];

static int hist_index(uint64_t v) {
    if (v < 128)
        return (int)v;
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - 6;
    return 128 + (shift - 1) * 64 + (int)((v >> shift) - 64);
}

static uint64_t hist_value(int i) {
    if (i < 128)
        return (uint64_t)i;
    int shift = (i - 128) / 64 + 1;
    uint64_t top = (uint64_t)((i - 128) % 64 + 64);
    return (top << shift) + ((1ULL << shift) >> 1);
}

static double hist_percentile(double p) {
    uint64_t total = 0;
    for (int i = 0; i < HIST_BUCKETS; i++)
        total += hist[i];
    if (!total)
        return 0;
    uint64_t rank = (uint64_t)(p / 100.0 * (double)total);
    if (rank >= total)
        rank = total - 1;
    uint64_t seen = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += hist[i];
        if (seen > rank)
            return (double)hist_value(i) / 1000.0; /* microseconds */
    }
    return 0;
}

/* ---- connections ------------------------------------------------------ */

struct conn {
    int id;
    int fd;
    enum state state;
    int want_out; /* EPOLLOUT currently registered */
    int in_setup; /* counted in `setting_up` */
#ifdef WITH_TLS
    SSL *ssl;
#endif
    uint64_t sent, echoed; /* records written / fully echoed */
    size_t pos;            /* bytes of record `echoed` received so far */
    uint64_t *sent_at;     /* send time of record k at [k % window] */
    char *out;             /* bytes not yet accepted by the socket */
    size_t out_len, out_off, out_cap;
    /* WebSocket: the upgrade response so far, then the frame parser. */
    char reply[2048];
    size_t reply_len;
    unsigned char hdr[14];
    size_t hdr_len, hdr_need;
    uint64_t payload_left;
    int frame_opcode, frame_fin;
    /* permessage-deflate: what was agreed, the echo's inflater, and the
     * message being received (compressed or not, and its length so far). */
    int client_bits, client_no_context, server_no_context;
#ifdef WITH_ZLIB
    z_stream *zin;
#endif
    int msg_compressed;
    uint64_t msg_inflated;
    /* gRPC: the HTTP/2 frame parser, the server's windows, our call. */
    unsigned char h2hdr[9];
    size_t h2hdr_len;
    uint32_t h2left;          /* payload bytes of the current frame to come */
    int h2type, h2flags, h2pad;
    uint32_t h2stream;
    unsigned char h2ctl[64];  /* a control frame's payload (SETTINGS, PING) */
    size_t h2ctl_len;
    int64_t send_conn, send_stream, initial_window;
    uint64_t unacked;         /* DATA bytes received since our last WINDOW_UPDATE */
    int call_ended;           /* we sent END_STREAM (grpc-idle) */
};

static struct conn *conns;
static int epfd;
static enum phase phase = PH_SETUP;
static uint64_t now_ns;
static char *pattern;
static char readbuf[READ_BUFFER];
static int setting_up; /* connections opened but not yet set up */
static int next_to_connect;
static int stop_idle; /* stdin closed: the harness has measured */
#ifdef WITH_TLS
static SSL_CTX *ssl_ctx;
#endif
static struct sockaddr_in server;

static uint64_t mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Where record k of connection c starts in the pattern. */
static const char *record(const struct conn *c, uint64_t k) {
    return pattern + (k * stride + (uint64_t)c->id * conn_stride) % period;
}

static int is_line_mode(void) { return opt.mode != MODE_WS && !opt.grpc; }

/* The size of one record on the wire, before HTTP/2 framing. */
static size_t record_size(void) { return opt.grpc ? grpc_head_len + opt.size : opt.size; }

static void set_out_interest(struct conn *c, int want) {
    if (c->want_out == want || c->fd < 0)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want;
}

static void append_out(struct conn *c, const void *data, size_t n) {
    if (c->out_len + n > c->out_cap) {
        if (c->out_off) { /* reclaim the already-sent prefix first */
            memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
            c->out_len -= c->out_off;
            c->out_off = 0;
        }
        while (c->out_len + n > c->out_cap)
            c->out_cap = c->out_cap ? c->out_cap * 2 : 4096;
        c->out = realloc(c->out, c->out_cap);
        if (!c->out) {
            perror("realloc");
            exit(2);
        }
    }
    memcpy(c->out + c->out_len, data, n);
    c->out_len += n;
}

/* Transport I/O: >0 bytes, 0 end of stream, -1 would block, -2 error. */
static ssize_t io_read(struct conn *c, void *buf, size_t n) {
#ifdef WITH_TLS
    if (c->ssl) {
        int r = SSL_read(c->ssl, buf, (int)n);
        if (r > 0)
            return r;
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ)
            return -1;
        if (e == SSL_ERROR_WANT_WRITE) {
            set_out_interest(c, 1);
            return -1;
        }
        if (e == SSL_ERROR_ZERO_RETURN)
            return 0;
        error_detail("TLS read failed on connection %d", c->id);
        return -2;
    }
#endif
    ssize_t r = read(c->fd, buf, n);
    if (r >= 0)
        return r;
    if (errno == EAGAIN || errno == EINTR)
        return -1;
    error_detail("read: %s", strerror(errno));
    return -2;
}

static ssize_t io_write(struct conn *c, const void *buf, size_t n) {
#ifdef WITH_TLS
    if (c->ssl) {
        int r = SSL_write(c->ssl, buf, (int)n);
        if (r > 0)
            return r;
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
            return -1;
        error_detail("TLS write failed on connection %d", c->id);
        return -2;
    }
#endif
    ssize_t r = write(c->fd, buf, n);
    if (r >= 0)
        return r;
    if (errno == EAGAIN || errno == EINTR)
        return -1;
    error_detail("write: %s", strerror(errno));
    return -2;
}

static void setup_done(struct conn *c) {
    if (c->in_setup) {
        c->in_setup = 0;
        setting_up--;
    }
}

static void close_conn(struct conn *c) {
    if (c->fd >= 0) {
#ifdef WITH_TLS
        if (c->ssl) {
            SSL_shutdown(c->ssl); /* best effort close_notify; no wait */
            SSL_free(c->ssl);
            c->ssl = NULL;
        }
#endif
        close(c->fd);
        c->fd = -1;
    }
#ifdef WITH_ZLIB
    if (c->zin) {
        inflateEnd(c->zin);
        free(c->zin);
        c->zin = NULL;
    }
#endif
    setup_done(c);
    c->state = ST_CLOSED;
    c->want_out = 0;
}

/* A connection failed mid-run: count it, and drop it from the run. */
static void fail_conn(struct conn *c, uint64_t *counter) {
    (*counter)++;
    res.missing += c->sent - c->echoed;
    c->sent = c->echoed = 0;
    close_conn(c);
}

static int flush_out(struct conn *c) {
    while (c->out_off < c->out_len) {
        ssize_t w = io_write(c, c->out + c->out_off, c->out_len - c->out_off);
        if (w == -1) {
            set_out_interest(c, 1);
            return 0;
        }
        if (w < 0) {
            fail_conn(c, &res.io);
            return -1;
        }
        c->out_off += (size_t)w;
    }
    c->out_off = c->out_len = 0;
    set_out_interest(c, 0);
    return 0;
}

#ifdef WITH_ZLIB
/* The compressed messages, shared by every connection.  With --deflate all
 * connections send the same messages in the same order (record() ignores the
 * connection) and the server agrees the same parameters on each, so the bytes
 * a connection's own compressor would make for its message k are the same on
 * every connection, context takeover included: one compressor makes them,
 * once, in order, and connections copy them from a ring.  The server still
 * inflates every connection's stream on its own; the client stops paying a
 * deflate per message (which, at Chromium's level, cost it more than a
 * whole echo through some servers). */
#define ZRING 65536
static struct {
    z_stream z;
    int ready;
    int bits, no_context; /* as agreed on the first connection */
    uint64_t next;        /* the next message to compress */
    unsigned char *data[ZRING];
    size_t len[ZRING], cap[ZRING];
} zshared;

/* Make message `next` with a sync flush: it then ends on a byte boundary with
 * an empty stored block (00 00 ff ff), which RFC 7692 has the sender strip.
 * With context takeover the stream goes on to the next message; without, it
 * starts over. */
static void zshared_step(struct conn *c) {
    size_t slot = zshared.next % ZRING, cap = (size_t)deflateBound(NULL, (uLong)opt.size) + 64;
    if (zshared.cap[slot] < cap) {
        zshared.data[slot] = realloc(zshared.data[slot], cap);
        zshared.cap[slot] = cap;
    }
    z_stream *z = &zshared.z;
    z->next_in = (unsigned char *)record(c, zshared.next);
    z->avail_in = (uInt)opt.size;
    z->next_out = zshared.data[slot];
    z->avail_out = (uInt)cap;
    int r = deflate(z, Z_SYNC_FLUSH);
    size_t n = cap - z->avail_out;
    if (r != Z_OK || z->avail_in != 0 || z->avail_out == 0 || n < 4 ||
        memcmp(zshared.data[slot] + n - 4, "\0\0\xff\xff", 4) != 0) {
        fprintf(stderr, "loadgen: deflate failed (%d)\n", r);
        exit(2);
    }
    if (zshared.no_context)
        deflateReset(z);
    zshared.len[slot] = n - 4;
    zshared.next++;
}

/* Message k of connection c, compressed; NULL if the connection has fallen
 * so far behind the others that the ring no longer holds it. */
static const unsigned char *ws_compress(struct conn *c, uint64_t k, size_t *size) {
    while (zshared.next <= k)
        zshared_step(c);
    if (k + ZRING < zshared.next)
        return NULL;
    *size = zshared.len[k % ZRING];
    res.z_sent++;
    res.z_sent_wire += *size;
    return zshared.data[k % ZRING];
}
#endif

/* Queue record number c->sent. */
static void queue_record(struct conn *c) {
    const char *src = record(c, c->sent);
    if (opt.grpc) {
        /* One DATA frame on stream 1 per message. */
        size_t n = record_size();
        unsigned char h[9] = {(unsigned char)(n >> 16), (unsigned char)(n >> 8),
                              (unsigned char)n, H2_DATA, 0, 0, 0, 0, 1};
        append_out(c, h, 9);
        append_out(c, grpc_head, grpc_head_len);
        append_out(c, src, opt.size);
        c->send_conn -= (int64_t)n;
        c->send_stream -= (int64_t)n;
    } else if (opt.mode == MODE_WS) {
        /* FIN + text frame, masked with an all-zero key: masking is then the
         * identity, so the payload goes out without a per-byte XOR. */
        const void *payload = src;
        size_t size = opt.size;
        unsigned char first = 0x81;
#ifdef WITH_ZLIB
        if (opt.deflate) {
            payload = ws_compress(c, c->sent, &size);
            if (!payload) {
                error_detail("connection %d fell %d messages behind the others", c->id, ZRING);
                fail_conn(c, &res.io);
                return;
            }
            first |= 0x40; /* RSV1: a compressed message */
        }
#endif
        unsigned char h[14];
        size_t n = 0;
        h[n++] = first;
        if (size < 126) {
            h[n++] = 0x80 | (unsigned char)size;
        } else if (size < 65536) {
            h[n++] = 0x80 | 126;
            h[n++] = (unsigned char)(size >> 8);
            h[n++] = (unsigned char)size;
        } else {
            h[n++] = 0x80 | 127;
            for (int i = 7; i >= 0; i--)
                h[n++] = (unsigned char)((uint64_t)size >> (8 * i));
        }
        memset(h + n, 0, 4);
        n += 4;
        append_out(c, h, n);
        append_out(c, payload, size);
    } else {
        append_out(c, src, opt.size - 1);
        append_out(c, "\n", 1);
    }
    if (c->sent_at)
        c->sent_at[c->sent % (uint64_t)opt.window] = now_ns;
    c->sent++;
}

static int sending(void) { return phase == PH_WARMUP || phase == PH_MEASURE; }

/* Whether the server's flow-control windows take one more gRPC message. */
static int window_open(const struct conn *c) {
    int64_t n = (int64_t)record_size();
    return !opt.grpc || (c->send_conn >= n && c->send_stream >= n);
}

static void top_up(struct conn *c) {
    if (c->state != ST_READY)
        return;
    if (sending() && (opt.mode == MODE_LINE || opt.mode == MODE_WS)) {
        while (c->state == ST_READY && c->sent - c->echoed < (uint64_t)opt.window &&
               window_open(c))
            queue_record(c);
    } else if (c->sent == 0 && window_open(c)) {
        /* The set-up probe; in connect mode, the connection's one record
         * (which a connection still opening while draining sends too). */
        queue_record(c);
    }
    if (c->state == ST_READY)
        flush_out(c);
}

static void start_connect(struct conn *c);

/* Record `echoed` of connection c is complete. */
static void record_done(struct conn *c) {
    if (phase == PH_MEASURE) {
        res.records++;
        if (c->sent_at)
            hist[hist_index(now_ns - c->sent_at[c->echoed % (uint64_t)opt.window])]++;
    }
    c->echoed++;
    c->pos = 0;
    setup_done(c);
    if (opt.grpc && opt.mode == MODE_IDLE && !c->call_ended) {
        /* The call is over: an empty DATA frame ending the stream. */
        static const unsigned char end[9] = {0, 0, 0, H2_DATA, H2_END_STREAM, 0, 0, 0, 1};
        append_out(c, end, sizeof end);
        c->call_ended = 1;
    }
    if (opt.mode == MODE_CONNECT) {
        close_conn(c);
        if (sending())
            start_connect(c);
    }
}

/* Check echoed payload bytes against what was sent; 0 if they match. */
static int verify(struct conn *c, const char *data, size_t n) {
    while (n > 0) {
        if (c->echoed >= c->sent) {
            error_detail("connection %d: %zu bytes echoed that were never sent", c->id, n);
            fail_conn(c, &res.verify);
            return -1;
        }
        size_t size = record_size(), head = opt.grpc ? grpc_head_len : 0;
        size_t take = size - c->pos;
        if (take > n)
            take = n;
        if (c->pos < head) {
            /* The gRPC prefix and field header, the same for every record. */
            size_t part = head - c->pos < take ? head - c->pos : take;
            if (memcmp(data, grpc_head + c->pos, part) != 0) {
                error_detail("connection %d: message %llu has another prefix", c->id,
                             (unsigned long long)c->echoed);
                fail_conn(c, &res.verify);
                return -1;
            }
            data += part;
            n -= part;
            c->pos += part;
            take -= part;
            if (take == 0)
                continue;
        }
        const char *want = record(c, c->echoed) + (c->pos - head);
        size_t body = take;
        int ends = c->pos + take == size;
        if (ends && is_line_mode())
            body--; /* the newline is checked separately */
        if (memcmp(data, want, body) != 0 || (ends && is_line_mode() && data[body] != '\n')) {
            error_detail("connection %d: record %llu differs from what was sent", c->id,
                         (unsigned long long)c->echoed);
            fail_conn(c, &res.verify);
            return -1;
        }
        data += take;
        n -= take;
        c->pos += take;
        if (ends) {
            record_done(c);
            if (c->state != ST_READY)
                return -1; /* connect mode closed it */
        }
    }
    return 0;
}

#ifdef WITH_ZLIB
/* Inflate part of a compressed message and check what comes out; 0 if it
 * matches.  A server may end a message with a final block (BFINAL): the
 * stream then starts over, as RFC 7692 section 7.2.3.3 says. */
static int ws_inflate(struct conn *c, const unsigned char *data, size_t n) {
    static unsigned char out[64 * 1024];
    z_stream *z = c->zin;
    z->next_in = (unsigned char *)data;
    z->avail_in = (uInt)n;
    for (;;) {
        z->next_out = out;
        z->avail_out = sizeof out;
        int r = inflate(z, Z_SYNC_FLUSH);
        size_t got = sizeof out - z->avail_out;
        if (r == Z_STREAM_END) {
            inflateReset(z);
        } else if (r != Z_OK && r != Z_BUF_ERROR) {
            error_detail("connection %d: message %llu does not inflate (%s)", c->id,
                         (unsigned long long)c->echoed, z->msg ? z->msg : "zlib error");
            fail_conn(c, &res.verify);
            return -1;
        }
        c->msg_inflated += got;
        res.z_echo_inflated += got;
        if (c->msg_inflated > opt.size) {
            error_detail("connection %d: message %llu inflates past the %zu bytes sent",
                         c->id, (unsigned long long)c->echoed, opt.size);
            fail_conn(c, &res.verify);
            return -1;
        }
        if (got && verify(c, (const char *)out, got) < 0)
            return -1;
        if (z->avail_in == 0 && got < sizeof out)
            return 0;
        if (r == Z_BUF_ERROR && got == 0)
            return 0;
    }
}
#endif

/* A data frame's payload has all come: at the end of a message, check it. */
static int ws_frame_end(struct conn *c) {
    if (c->frame_opcode > 2 || !c->frame_fin)
        return 0;
    if (!c->msg_compressed) {
        res.z_echo_plain++;
        return 0;
    }
    res.z_echo_compressed++;
#ifdef WITH_ZLIB
    static const unsigned char tail[4] = {0, 0, 0xff, 0xff};
    if (ws_inflate(c, tail, sizeof tail) < 0)
        return -1;
    if (c->msg_inflated != opt.size) {
        error_detail("connection %d: message %llu inflates to %llu bytes, not %zu", c->id,
                     (unsigned long long)c->echoed, (unsigned long long)c->msg_inflated,
                     opt.size);
        fail_conn(c, &res.verify);
        return -1;
    }
    if (c->server_no_context)
        inflateReset(c->zin);
#endif
    return 0;
}

/* Feed received bytes through the WebSocket frame parser. */
static int ws_input(struct conn *c, const unsigned char *data, size_t n) {
    while (n > 0) {
        if (c->payload_left == 0 && c->hdr_need == 0) {
            c->hdr_len = 0;
            c->hdr_need = 2;
        }
        if (c->hdr_need) {
            while (n > 0 && c->hdr_len < c->hdr_need) {
                c->hdr[c->hdr_len++] = *data++;
                n--;
                if (c->hdr_len == 2) {
                    if (c->hdr[1] & 0x80) {
                        error_detail("connection %d: server sent a masked frame", c->id);
                        fail_conn(c, &res.verify);
                        return -1;
                    }
                    int len7 = c->hdr[1] & 0x7f;
                    c->hdr_need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
                }
            }
            if (c->hdr_len < c->hdr_need)
                return 0;
            int len7 = c->hdr[1] & 0x7f;
            uint64_t len = (uint64_t)len7;
            if (len7 >= 126) {
                len = 0;
                for (size_t i = 2; i < c->hdr_need; i++)
                    len = (len << 8) | c->hdr[i];
            }
            c->frame_opcode = c->hdr[0] & 0x0f;
            c->frame_fin = c->hdr[0] & 0x80;
            c->payload_left = len;
            c->hdr_need = 0;
            if (c->frame_opcode == 8) {
                error_detail("connection %d: server closed the WebSocket", c->id);
                fail_conn(c, &res.io);
                return -1;
            }
            /* RSV1 marks a compressed message, on its first frame only, and
             * only where permessage-deflate was agreed. */
            int rsv = c->hdr[0] & 0x70, first = c->frame_opcode == 1 || c->frame_opcode == 2;
#ifdef WITH_ZLIB
            int agreed = c->zin != NULL;
#else
            int agreed = 0;
#endif
            if ((rsv & 0x30) || (rsv && !(agreed && first))) {
                error_detail("connection %d: frame (opcode %d) with RSV bits 0x%x", c->id,
                             c->frame_opcode, rsv);
                fail_conn(c, &res.verify);
                return -1;
            }
            if (first) {
                c->msg_compressed = rsv != 0;
                c->msg_inflated = 0;
            }
            if (len == 0) {
                if (ws_frame_end(c) < 0)
                    return -1;
                continue;
            }
        }
        size_t take = c->payload_left < n ? (size_t)c->payload_left : n;
        /* Data frames (text, binary, continuation) carry the echo; control
         * frames such as ping are skipped. */
        if (c->frame_opcode <= 2) {
            if (opt.deflate)
                res.z_echo_wire += take;
#ifdef WITH_ZLIB
            if (c->msg_compressed) {
                if (ws_inflate(c, data, take) < 0)
                    return -1;
            } else
#endif
            if (verify(c, (const char *)data, take) < 0)
                return -1;
        }
        data += take;
        n -= take;
        c->payload_left -= take;
        if (c->payload_left == 0 && ws_frame_end(c) < 0)
            return -1;
    }
    return 0;
}

/* ---- gRPC over HTTP/2 ---------------------------------------------------- */

static void h2_frame(struct conn *c, int type, int flags, uint32_t stream,
                     const void *payload, size_t n) {
    unsigned char h[9] = {(unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n,
                          (unsigned char)type, (unsigned char)flags,
                          (unsigned char)(stream >> 24), (unsigned char)(stream >> 16),
                          (unsigned char)(stream >> 8), (unsigned char)stream};
    append_out(c, h, 9);
    if (n)
        append_out(c, payload, n);
}

static void h2_window_update(struct conn *c, uint32_t stream, uint32_t increment) {
    unsigned char p[4] = {(unsigned char)(increment >> 24), (unsigned char)(increment >> 16),
                          (unsigned char)(increment >> 8), (unsigned char)increment};
    h2_frame(c, H2_WINDOW_UPDATE, 0, stream, p, 4);
}

/* One HPACK field, a literal without indexing and without Huffman coding. */
static size_t hpack_literal(unsigned char *out, const char *name, const char *value) {
    size_t n = 0, ln = strlen(name), lv = strlen(value);
    out[n++] = 0;
    out[n++] = (unsigned char)ln;
    memcpy(out + n, name, ln);
    n += ln;
    out[n++] = (unsigned char)lv;
    memcpy(out + n, value, lv);
    return n + lv;
}

/* The preface, our settings and windows (as large as HTTP/2 allows, so the
 * server never waits on us), and the call's request headers. */
static void grpc_start(struct conn *c) {
    static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    append_out(c, preface, sizeof preface - 1);
    unsigned char settings[12] = {0, 2, 0, 0, 0, 0, /* ENABLE_PUSH 0 */
                                  0, 4, 0x7f, 0xff, 0xff, 0xff}; /* INITIAL_WINDOW_SIZE */
    h2_frame(c, H2_SETTINGS, 0, 0, settings, sizeof settings);
    h2_window_update(c, 0, (uint32_t)(H2_MAX_WINDOW - 65535));
    unsigned char block[512];
    char authority[64];
    snprintf(authority, sizeof authority, "%s:%d", opt.host, opt.port);
    size_t n = 0;
    n += hpack_literal(block + n, ":method", "POST");
    n += hpack_literal(block + n, ":scheme", "http");
    n += hpack_literal(block + n, ":path", opt.path);
    n += hpack_literal(block + n, ":authority", authority);
    n += hpack_literal(block + n, "content-type", "application/grpc");
    n += hpack_literal(block + n, "te", "trailers");
    h2_frame(c, H2_HEADERS, H2_END_HEADERS, 1, block, n);
    c->send_conn = c->send_stream = c->initial_window = 65535;
    c->h2hdr_len = c->h2left = c->h2ctl_len = 0;
    c->unacked = 0;
    c->call_ended = 0;
}

/* A control frame's payload is complete. */
static int grpc_control(struct conn *c) {
    const unsigned char *p = c->h2ctl;
    switch (c->h2type) {
    case H2_SETTINGS:
        if (c->h2flags & H2_ACK)
            return 0;
        for (size_t i = 0; i + 6 <= c->h2ctl_len; i += 6) {
            if (((p[i] << 8) | p[i + 1]) == 4) { /* INITIAL_WINDOW_SIZE */
                int64_t value = ((int64_t)p[i + 2] << 24) | (p[i + 3] << 16) |
                                (p[i + 4] << 8) | p[i + 5];
                c->send_stream += value - c->initial_window;
                c->initial_window = value;
            }
        }
        h2_frame(c, H2_SETTINGS, H2_ACK, 0, NULL, 0);
        return 0;
    case H2_PING:
        if (!(c->h2flags & H2_ACK))
            h2_frame(c, H2_PING, H2_ACK, 0, p, 8);
        return 0;
    case H2_WINDOW_UPDATE: {
        int64_t increment = ((int64_t)(p[0] & 0x7f) << 24) | (p[1] << 16) | (p[2] << 8) | p[3];
        if (c->h2stream == 0)
            c->send_conn += increment;
        else
            c->send_stream += increment;
        return 0;
    }
    case H2_RST:
        error_detail("connection %d: the server reset the call", c->id);
        break;
    case H2_GOAWAY:
        error_detail("connection %d: the server sent GOAWAY", c->id);
        break;
    case H2_HEADERS: /* the response headers; or, ending the stream, the status */
        if (c->call_ended || !(c->h2flags & H2_END_STREAM))
            return 0;
        error_detail("connection %d: the server ended the call after %llu messages", c->id,
                     (unsigned long long)c->echoed);
        break;
    default:
        return 0;
    }
    fail_conn(c, &res.io);
    return -1;
}

/* Feed received bytes through the HTTP/2 frame parser: DATA payloads are
 * checked as the echo, the rest handled as control frames. */
static int grpc_input(struct conn *c, const unsigned char *data, size_t n) {
    while (n > 0) {
        if (c->h2hdr_len < 9) {
            while (n > 0 && c->h2hdr_len < 9) {
                c->h2hdr[c->h2hdr_len++] = *data++;
                n--;
            }
            if (c->h2hdr_len < 9)
                return 0;
            const unsigned char *h = c->h2hdr;
            c->h2left = ((uint32_t)h[0] << 16) | ((uint32_t)h[1] << 8) | h[2];
            c->h2type = h[3];
            c->h2flags = h[4];
            c->h2stream = (((uint32_t)h[5] & 0x7f) << 24) | ((uint32_t)h[6] << 16) |
                          ((uint32_t)h[7] << 8) | h[8];
            c->h2ctl_len = 0;
            c->h2pad = -1;
            if (c->h2type == H2_DATA) {
                c->unacked += c->h2left;
                if (!(c->h2flags & H2_PADDED))
                    c->h2pad = 0;
            }
        }
        if (c->h2type == H2_DATA && c->h2pad < 0 && c->h2left > 0) {
            c->h2pad = *data++; /* the pad length byte */
            n--;
            c->h2left--;
        }
        size_t take = c->h2left < n ? c->h2left : n;
        if (c->h2type == H2_DATA) {
            size_t pad = c->h2pad > 0 ? (size_t)c->h2pad : 0;
            size_t content = c->h2left > pad ? c->h2left - pad : 0;
            size_t echo = take < content ? take : content;
            if (echo && verify(c, (const char *)data, echo) < 0)
                return -1;
        } else {
            size_t room = sizeof c->h2ctl - c->h2ctl_len, keep = take < room ? take : room;
            memcpy(c->h2ctl + c->h2ctl_len, data, keep);
            c->h2ctl_len += keep;
        }
        data += take;
        n -= take;
        c->h2left -= (uint32_t)take;
        if (c->h2left == 0) {
            c->h2hdr_len = 0;
            int ended = (c->h2flags & H2_END_STREAM) &&
                        (c->h2type == H2_DATA || c->h2type == H2_HEADERS);
            if (c->h2type != H2_DATA && grpc_control(c) < 0)
                return -1;
            if (c->h2type == H2_DATA && ended && !c->call_ended) {
                error_detail("connection %d: the server ended the call", c->id);
                fail_conn(c, &res.io);
                return -1;
            }
        }
    }
    /* Our windows start at 2^31 - 1; give back what was read long before
     * they could run out. */
    if (c->unacked > (1u << 30)) {
        h2_window_update(c, 0, (uint32_t)c->unacked);
        h2_window_update(c, 1, (uint32_t)c->unacked);
        c->unacked = 0;
    }
    return 0;
}

static void ws_send_upgrade(struct conn *c) {
    char req[640];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\nOrigin: http://%s:%d\r\n%s\r\n",
                     opt.path, opt.host, opt.port, opt.host, opt.port,
                     opt.deflate ? "Sec-WebSocket-Extensions: permessage-deflate; "
                                   "client_max_window_bits\r\n"
                                 : "");
    append_out(c, req, (size_t)n);
    c->state = ST_UPGRADE;
    c->reply_len = 0;
    flush_out(c);
}

/* Copy the value of header `name` in the upgrade response into `out`
 * (blanks trimmed); return how many such headers there are. */
static int reply_header(const struct conn *c, const char *name, char *out, size_t cap) {
    int count = 0;
    size_t len = strlen(name);
    const char *line = strstr(c->reply, "\r\n");
    while (line && strncmp(line, "\r\n\r\n", 4) != 0) {
        line += 2;
        const char *eol = strstr(line, "\r\n");
        if (!eol)
            break;
        if (!strncasecmp(line, name, len) && line[len] == ':') {
            const char *v = line + len + 1, *end = eol;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
            size_t n = (size_t)(end - v) < cap - 1 ? (size_t)(end - v) : cap - 1;
            memcpy(out, v, n);
            out[n] = 0;
            count++;
        }
        line = eol;
    }
    return count;
}

#ifdef WITH_ZLIB
/* Strip blanks from both ends of s, in place. */
static char *trim(char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    char *end = s + strlen(s);
    while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
        *--end = 0;
    return s;
}

/* Take the server's permessage-deflate response (RFC 7692 section 7.1):
 * known parameters, each at most once, window bits 8 to 15; 0 if agreed. */
static int ws_agree(struct conn *c, char *value) {
    static const char *const names[] = {"server_no_context_takeover",
                                        "client_no_context_takeover",
                                        "server_max_window_bits", "client_max_window_bits"};
    c->client_bits = 15;
    c->client_no_context = c->server_no_context = 0;
    int seen = 0; /* a bit per parameter */
    char *save = NULL;
    char *token = strtok_r(value, ";", &save);
    if (!token || strcasecmp(trim(token), "permessage-deflate") != 0) {
        error_detail("server chose extension \"%s\", not permessage-deflate",
                     token ? token : "");
        return -1;
    }
    while ((token = strtok_r(NULL, ";", &save)) != NULL) {
        char *arg = strchr(token, '=');
        if (arg) {
            *arg++ = 0;
            arg = trim(arg);
            size_t n = strlen(arg);
            if (n >= 2 && arg[0] == '"' && arg[n - 1] == '"') {
                arg[n - 1] = 0;
                arg++;
            }
        }
        token = trim(token);
        int which = -1;
        for (int i = 0; i < 4; i++)
            if (!strcasecmp(token, names[i]))
                which = i;
        if (which < 0 || (seen & (1 << which))) {
            error_detail("permessage-deflate parameter \"%s\" %s", token,
                         which < 0 ? "unknown" : "given twice");
            return -1;
        }
        seen |= 1 << which;
        if (which < 2) {
            if (arg) {
                error_detail("permessage-deflate %s takes no value", token);
                return -1;
            }
            *(which == 0 ? &c->server_no_context : &c->client_no_context) = 1;
            continue;
        }
        char *rest = NULL;
        long bits = arg ? strtol(arg, &rest, 10) : 0;
        if (!arg || !*arg || *rest || bits < 8 || bits > 15) {
            error_detail("permessage-deflate %s=%s: not 8 to 15", token, arg ? arg : "");
            return -1;
        }
        if (which == 3)
            c->client_bits = (int)bits;
    }
    /* zlib's raw deflate has no 256-byte window (it would use 512). */
    if (c->client_bits == 8) {
        error_detail("server asked for client_max_window_bits=8, which zlib cannot honour");
        return -1;
    }
    return 0;
}

#endif

/* After a 101: the extension agreed, if any; 0 if it is what we offered. */
static int ws_extensions(struct conn *c) {
    char value[256];
    int count = reply_header(c, "Sec-WebSocket-Extensions", value, sizeof value);
    if (!opt.deflate) {
        if (count) {
            error_detail("server chose extension \"%s\", but none was offered", value);
            return -1;
        }
        return 0;
    }
    if (count != 1) {
        error_detail(count ? "several Sec-WebSocket-Extensions headers"
                           : "the server did not agree to permessage-deflate (no "
                             "Sec-WebSocket-Extensions in its 101)");
        return -1;
    }
    if (!res.extension[0])
        snprintf(res.extension, sizeof res.extension, "%s", value);
    if (strchr(value, ',')) {
        error_detail("server chose several extensions: %s", value);
        return -1;
    }
#ifdef WITH_ZLIB
    char agreed[sizeof value];
    memcpy(agreed, value, sizeof value);
    if (ws_agree(c, value) < 0)
        return -1;
    if (!zshared.ready) {
        /* Chromium's settings: the default level, memLevel 8, our window as
         * the server allows. */
        zshared.bits = c->client_bits;
        zshared.no_context = c->client_no_context;
        if (deflateInit2(&zshared.z, opt.level, Z_DEFLATED, -zshared.bits, 8,
                         Z_DEFAULT_STRATEGY) != Z_OK) {
            fprintf(stderr, "loadgen: zlib initialisation failed\n");
            exit(2);
        }
        zshared.ready = 1;
    } else if (zshared.bits != c->client_bits || zshared.no_context != c->client_no_context) {
        error_detail("connection %d: the server agreed other parameters than on the first "
                     "(%s)", c->id, agreed);
        return -1;
    }
    /* Inflating with the largest window reads any server's messages. */
    c->zin = calloc(1, sizeof *c->zin);
    if (inflateInit2(c->zin, -15) != Z_OK) {
        fprintf(stderr, "loadgen: zlib initialisation failed\n");
        exit(2);
    }
    return 0;
#else
    return -1;
#endif
}

/* Read the upgrade response byte-exactly up to its blank line, so that no
 * frame byte that follows it is consumed here. */
static void ws_read_upgrade(struct conn *c) {
    while (c->state == ST_UPGRADE) {
        if (c->reply_len + 1 >= sizeof c->reply) {
            error_detail("WebSocket upgrade response too long");
            fail_conn(c, &res.upgrade);
            return;
        }
        ssize_t r = io_read(c, c->reply + c->reply_len, 1);
        if (r == -1)
            return;
        if (r <= 0) {
            c->reply[c->reply_len] = 0;
            error_detail("WebSocket upgrade of %s: connection closed after %zu bytes",
                         opt.path, c->reply_len);
            fail_conn(c, &res.upgrade);
            return;
        }
        c->reply_len++;
        c->reply[c->reply_len] = 0;
        if (c->reply_len >= 4 && !memcmp(c->reply + c->reply_len - 4, "\r\n\r\n", 4)) {
            if (strncmp(c->reply, "HTTP/1.1 101", 12) != 0) {
                char *eol = strstr(c->reply, "\r\n");
                if (eol)
                    *eol = 0;
                error_detail("WebSocket upgrade of %s refused: %s", opt.path, c->reply);
                fail_conn(c, &res.upgrade);
                return;
            }
            if (ws_extensions(c) < 0) {
                fail_conn(c, &res.upgrade);
                return;
            }
            c->state = ST_READY;
            top_up(c);
        }
    }
}

static void became_connected(struct conn *c);

static void tls_handshake(struct conn *c) {
#ifdef WITH_TLS
    int r = SSL_do_handshake(c->ssl);
    if (r == 1) {
        became_connected(c);
        return;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ) {
        set_out_interest(c, 0);
    } else if (e == SSL_ERROR_WANT_WRITE) {
        set_out_interest(c, 1);
    } else {
        unsigned long code = ERR_get_error();
        error_detail("TLS handshake failed: %s",
                     code ? ERR_error_string(code, NULL) : "connection closed");
        ERR_clear_error();
        fail_conn(c, &res.connect);
    }
#else
    (void)c;
#endif
}

/* TCP (and TLS, and WebSocket upgrade) set-up steps after connect. */
static void became_connected(struct conn *c) {
    if (c->state == ST_CONNECTING)
        set_out_interest(c, 0);
#ifdef WITH_TLS
    if (opt.tls && !c->ssl) {
        c->ssl = SSL_new(ssl_ctx);
        SSL_set_fd(c->ssl, c->fd);
        SSL_set_tlsext_host_name(c->ssl, "localhost");
        SSL_set_connect_state(c->ssl);
        c->state = ST_HANDSHAKE;
        tls_handshake(c);
        return;
    }
#endif
    if (opt.mode == MODE_WS) {
        ws_send_upgrade(c);
        return;
    }
    if (opt.grpc)
        grpc_start(c);
    c->state = ST_READY;
    top_up(c);
}

static void start_connect(struct conn *c) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        error_detail("socket: %s", strerror(errno));
        res.connect++;
        c->state = ST_CLOSED;
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->sent = c->echoed = 0;
    c->pos = c->out_len = c->out_off = 0;
    c->hdr_need = 0;
    c->payload_left = 0;
    c->state = ST_CONNECTING;
    c->want_out = 1;
    if (phase == PH_SETUP) {
        c->in_setup = 1;
        setting_up++;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
    if (connect(c->fd, (struct sockaddr *)&server, sizeof server) < 0 && errno != EINPROGRESS) {
        error_detail("connect: %s", strerror(errno));
        fail_conn(c, &res.connect);
    }
}

static void on_event(struct conn *c, uint32_t events) {
    if (c->state == ST_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
            error_detail("connect to %s:%d: %s", opt.host, opt.port, strerror(err));
            fail_conn(c, &res.connect);
            return;
        }
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
            return;
        became_connected(c);
        if (c->state != ST_READY)
            return;
    }
    if (c->state == ST_HANDSHAKE) {
        tls_handshake(c);
        return;
    }
    if ((events & EPOLLOUT) && c->out_off < c->out_len && flush_out(c) < 0)
        return;
    if (c->state == ST_UPGRADE) {
        ws_read_upgrade(c);
        return;
    }
    if (c->state != ST_READY || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    for (;;) {
        ssize_t r = io_read(c, readbuf, sizeof readbuf);
        if (r == -1)
            break;
        if (r <= 0) {
            error_detail("connection %d closed by the server after %llu records", c->id,
                         (unsigned long long)c->echoed);
            fail_conn(c, &res.io);
            return;
        }
        int bad = opt.grpc             ? grpc_input(c, (unsigned char *)readbuf, (size_t)r)
                  : opt.mode == MODE_WS ? ws_input(c, (unsigned char *)readbuf, (size_t)r)
                                        : verify(c, readbuf, (size_t)r);
        if (bad)
            return;
        /* A short plain read drained the socket; TLS must read until it
         * would block, since decrypted bytes may wait inside OpenSSL. */
        if (!opt.tls && (size_t)r < sizeof readbuf)
            break;
    }
    top_up(c);
}

static uint64_t outstanding(void) {
    uint64_t n = 0;
    for (int i = 0; i < opt.conns; i++)
        if (conns[i].state == ST_READY)
            n += conns[i].sent - conns[i].echoed;
    return n;
}

static void usage(const char *argv0) {
    fprintf(stderr,
            "usage: %s --port N [--host A] [--mode line|ws|connect|idle|grpc|grpc-idle]\n"
            "          [--conns N]"
            "          [--size BYTES] [--window N] [--duration S] [--warmup S] [--drain S]\n"
            "          [--tls] [--path /ws] [--deflate [--deflate-level 0-9]]"
            " [--compressible]\n",
            argv0);
    exit(2);
}

static void parse_args(int argc, char **argv) {
    static struct option longopts[] = {
        {"host", 1, 0, 'h'},   {"port", 1, 0, 'p'},     {"mode", 1, 0, 'm'},
        {"conns", 1, 0, 'c'},  {"size", 1, 0, 's'},     {"window", 1, 0, 'w'},
        {"duration", 1, 0, 'd'}, {"warmup", 1, 0, 'W'}, {"drain", 1, 0, 'D'},
        {"tls", 0, 0, 't'},    {"path", 1, 0, 'P'},     {"deflate", 0, 0, 'z'},
        {"deflate-level", 1, 0, 'L'}, {"compressible", 0, 0, 'x'}, {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'h': opt.host = optarg; break;
        case 'p': opt.port = atoi(optarg); break;
        case 'm':
            if (!strcmp(optarg, "line")) opt.mode = MODE_LINE;
            else if (!strcmp(optarg, "ws")) opt.mode = MODE_WS;
            else if (!strcmp(optarg, "connect")) opt.mode = MODE_CONNECT;
            else if (!strcmp(optarg, "idle")) opt.mode = MODE_IDLE;
            else if (!strcmp(optarg, "grpc")) opt.mode = MODE_LINE, opt.grpc = 1;
            else if (!strcmp(optarg, "grpc-idle")) opt.mode = MODE_IDLE, opt.grpc = 1;
            else usage(argv[0]);
            break;
        case 'c': opt.conns = atoi(optarg); break;
        case 's': opt.size = (size_t)atol(optarg); break;
        case 'w': opt.window = atoi(optarg); break;
        case 'd': opt.duration = atof(optarg); break;
        case 'W': opt.warmup = atof(optarg); break;
        case 'D': opt.drain = atof(optarg); break;
        case 't': opt.tls = 1; break;
        case 'P': opt.path = optarg; break;
        case 'z': opt.deflate = 1; break;
        case 'L': opt.level = atoi(optarg); break;
        case 'x': opt.compressible = 1; break;
        default: usage(argv[0]);
        }
    }
    if (opt.port <= 0 || opt.conns <= 0 || opt.window <= 0 || opt.size < 2 || opt.duration <= 0 ||
        opt.level < -1 || opt.level > 9)
        usage(argv[0]);
    if (opt.deflate && opt.mode != MODE_WS) {
        fprintf(stderr, "loadgen: --deflate is for --mode ws\n");
        exit(2);
    }
#ifndef WITH_ZLIB
    if (opt.deflate) {
        fprintf(stderr, "loadgen: built without zlib (no zlib headers): no --deflate\n");
        exit(2);
    }
#endif
    if (opt.mode != MODE_LINE && opt.mode != MODE_WS)
        opt.window = 1;
    if (!opt.path)
        opt.path = opt.grpc ? "/grpc.examples.echo.Echo/BidirectionalStreamingEcho" : "/ws";
    if (opt.grpc && opt.tls) {
        fprintf(stderr, "loadgen: the gRPC modes speak h2c only\n");
        exit(2);
    }
    if (opt.grpc) {
        /* The prefix (flags, length), then field 1's tag and string length. */
        unsigned char varint[8];
        size_t v = 0, size = opt.size;
        do {
            varint[v++] = (unsigned char)((size & 0x7f) | (size > 0x7f ? 0x80 : 0));
            size >>= 7;
        } while (size);
        size_t message = 1 + v + opt.size;
        grpc_head[0] = 0;
        grpc_head[1] = (unsigned char)(message >> 24);
        grpc_head[2] = (unsigned char)(message >> 16);
        grpc_head[3] = (unsigned char)(message >> 8);
        grpc_head[4] = (unsigned char)message;
        grpc_head[5] = 0x0a;
        memcpy(grpc_head + 6, varint, v);
        grpc_head_len = 6 + v;
    }
#ifndef WITH_TLS
    if (opt.tls) {
        fprintf(stderr, "loadgen: built without TLS support (no OpenSSL headers)\n");
        exit(2);
    }
#endif
}

/* JSON-like text, never a newline: a log of events as an application would
 * send them, the same keys with values drawn from small vocabularies and
 * growing counters (xorshift64, fixed seed: every run sends the same). */
static void json_text(char *out, size_t n) {
    static const char *const users[] = {"alice", "bob",   "carol",  "dave",   "erin",  "frank",
                                        "grace", "heidi", "ivan",   "judy",   "mallory", "niaj",
                                        "olivia", "peggy", "rupert", "sybil"};
    static const char *const actions[] = {"view",   "click", "scroll", "purchase",
                                          "login", "logout", "search", "share"};
    static const char *const paths[] = {"/",      "/search", "/cart", "/checkout",
                                        "/items", "/account", "/help", "/blog"};
    uint64_t x = 88172645463325252ULL, id = 104729, ts = 1700000000;
    char item[256];
    size_t at = 0;
    while (at < n) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        id += 1 + x % 7;
        ts += x % 3;
        int len = snprintf(item, sizeof item,
                           "{\"id\":%llu,\"ts\":%llu,\"user\":\"%s\",\"action\":\"%s\","
                           "\"path\":\"%s/%llu\",\"ok\":%s,\"ms\":%llu.%02llu},",
                           (unsigned long long)id, (unsigned long long)ts, users[x >> 60],
                           actions[(x >> 20) & 7], paths[(x >> 24) & 7],
                           (unsigned long long)((x >> 28) % 1000), (x >> 40) % 11 ? "true" : "false",
                           (unsigned long long)((x >> 44) % 300),
                           (unsigned long long)((x >> 52) % 100));
        size_t take = (size_t)len < n - at ? (size_t)len : n - at;
        memcpy(out + at, item, take);
        at += take;
    }
}

static void setup(void) {
    signal(SIGPIPE, SIG_IGN);
    /* One descriptor per connection: raise the soft limit as far as allowed. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    memset(&server, 0, sizeof server);
    server.sin_family = AF_INET;
    server.sin_port = htons((uint16_t)opt.port);
    if (inet_pton(AF_INET, opt.host, &server.sin_addr) != 1) {
        fprintf(stderr, "loadgen: --host must be an IPv4 address\n");
        exit(2);
    }
    if (opt.compressible) {
        period = TEXT_PERIOD;
        stride = TEXT_STRIDE;
    }
    if (opt.deflate)
        conn_stride = 0; /* every connection the same messages: see zshared */
    pattern = malloc(period + opt.size);
    if (opt.compressible)
        json_text(pattern, period + opt.size);
    else
        for (size_t i = 0; i < period + opt.size; i++)
            pattern[i] = (char)('!' + (i * 7 + i / 13) % 94); /* printable, never '\n' */
    conns = calloc((size_t)opt.conns, sizeof *conns);
    for (int i = 0; i < opt.conns; i++) {
        conns[i].id = i;
        conns[i].fd = -1;
        conns[i].state = ST_FREE;
        conns[i].sent_at = calloc((size_t)opt.window, sizeof(uint64_t));
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
#ifdef WITH_TLS
    if (opt.tls) {
        ssl_ctx = SSL_CTX_new(TLS_client_method());
        /* A benchmark of the server's TLS, not of certificate checks: the
         * peers use a throw-away self-signed certificate on loopback. */
        SSL_CTX_set_verify(ssl_ctx, SSL_VERIFY_NONE, NULL);
        SSL_CTX_set_mode(ssl_ctx,
                         SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        /* Every connect-mode handshake is a full one. */
        SSL_CTX_set_session_cache_mode(ssl_ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(ssl_ctx, SSL_OP_NO_TICKET);
    }
#endif
}

static void say(const char *line) {
    fputs(line, stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

/* Connections still being set up, and connections open; counted only
 * outside the measured window, where an O(conns) scan costs nothing. */
static void census(int *pending, int *alive) {
    *pending = *alive = 0;
    for (int i = 0; i < opt.conns; i++) {
        const struct conn *c = &conns[i];
        if (c->state == ST_FREE || c->state == ST_CLOSED)
            continue;
        (*alive)++;
        if (c->state != ST_READY || (opt.mode != MODE_CONNECT && c->echoed == 0))
            (*pending)++;
    }
}

/* `in` as the inside of a JSON string: quotes and backslashes escaped,
 * anything not printable ASCII as '?'. */
static void json_escape(char *out, size_t cap, const char *in) {
    size_t j = 0;
    for (const char *p = in; *p && j < cap - 2; p++) {
        if (*p == '"' || *p == '\\')
            out[j++] = '\\';
        out[j++] = (*p >= ' ' && *p < 127) ? *p : '?';
    }
    out[j] = 0;
}

int main(int argc, char **argv) {
    parse_args(argc, argv);
    setup();

    uint64_t start = mono_ns(), phase_at = start, measure_start = 0, measure_end = 0;
    double cpu_start = 0, cpu_end = 0;
    const uint64_t setup_limit = 30ULL * 1000000000ULL;
    struct epoll_event events[MAX_EVENTS];
    int pending, alive;

    if (opt.mode == MODE_CONNECT) { /* every slot connects over and over */
        phase = PH_WARMUP;
        for (int i = 0; i < opt.conns; i++)
            start_connect(&conns[i]);
    }

    while (phase != PH_DONE) {
        /* Open connections a batch at a time until all are up. */
        while (phase == PH_SETUP && setting_up < SETUP_BATCH && next_to_connect < opt.conns)
            start_connect(&conns[next_to_connect++]);

        int n = epoll_wait(epfd, events, MAX_EVENTS, 5);
        now_ns = mono_ns();
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == NULL)
                stop_idle = 1;
            else
                on_event(events[i].data.ptr, events[i].events);
        }

        switch (phase) {
        case PH_SETUP:
            census(&pending, &alive);
            if (next_to_connect == opt.conns && pending == 0) {
                if (alive == 0) {
                    phase = PH_DONE;
                } else if (opt.mode == MODE_IDLE) {
                    phase = PH_IDLE;
                    phase_at = now_ns;
                    say("#idle-ready");
                    /* The harness closes stdin once it has measured; if
                     * stdin cannot be watched (/dev/null), --duration ends it. */
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
                    epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);
                } else {
                    phase = PH_WARMUP;
                    phase_at = now_ns;
                    for (int i = 0; i < opt.conns; i++)
                        top_up(&conns[i]);
                }
            } else if (now_ns - start > setup_limit) {
                error_detail("%d connections not set up within 30 s", pending);
                res.connect += (uint64_t)pending;
                phase = PH_DONE;
            }
            break;
        case PH_WARMUP:
            if (now_ns - phase_at >= (uint64_t)(opt.warmup * 1e9)) {
                phase = PH_MEASURE;
                phase_at = measure_start = now_ns;
                cpu_start = cpu_seconds();
                say("#measure-start");
            }
            break;
        case PH_MEASURE:
            if (now_ns - phase_at >= (uint64_t)(opt.duration * 1e9)) {
                measure_end = now_ns;
                cpu_end = cpu_seconds();
                say("#measure-end");
                phase = PH_DRAIN;
                phase_at = now_ns;
            }
            break;
        case PH_DRAIN: {
            /* Connect mode lets the connections in flight finish too. */
            census(&pending, &alive);
            uint64_t left = opt.mode == MODE_CONNECT ? (uint64_t)alive : outstanding();
            if (left == 0 || now_ns - phase_at >= (uint64_t)(opt.drain * 1e9)) {
                res.missing += left;
                if (left)
                    error_detail("%llu records not echoed within %.1f s of the end",
                                 (unsigned long long)left, opt.drain);
                phase = PH_DONE;
            }
            break;
        }
        case PH_IDLE:
            if (stop_idle || now_ns - phase_at >= (uint64_t)(opt.duration * 1e9))
                phase = PH_DONE;
            break;
        case PH_DONE:
            break;
        }
    }

    for (int i = 0; i < opt.conns; i++)
        close_conn(&conns[i]);

    double seconds = measure_end > measure_start ? (measure_end - measure_start) / 1e9 : 0;
    double rate = seconds > 0 ? (double)res.records / seconds : 0;
    char detail[600];
    json_escape(detail, sizeof detail, res.detail);
    printf("{\"mode\": \"%s\", \"conns\": %d, \"size\": %zu, \"window\": %d, \"tls\": %s, "
           "\"seconds\": %.6f, \"records\": %llu, \"records_per_s\": %.1f, "
           "\"bytes_per_s\": %.1f, \"p50_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f, "
           "\"client_cpu_share\": %.4f, \"errors\": {\"verify\": %llu, \"io\": %llu, "
           "\"connect\": %llu, \"upgrade\": %llu, \"missing\": %llu}, \"detail\": \"%s\"",
           opt.grpc ? (opt.mode == MODE_IDLE ? "grpc-idle" : "grpc")
           : opt.mode == MODE_LINE ? "line" : opt.mode == MODE_WS ? "ws"
           : opt.mode == MODE_CONNECT ? "connect" : "idle",
           opt.conns, opt.size, opt.window, opt.tls ? "true" : "false", seconds,
           (unsigned long long)res.records, rate, rate * (double)opt.size,
           hist_percentile(50), hist_percentile(99), hist_percentile(99.9),
           seconds > 0 ? (cpu_end - cpu_start) / seconds : 0,
           (unsigned long long)res.verify, (unsigned long long)res.io,
           (unsigned long long)res.connect, (unsigned long long)res.upgrade,
           (unsigned long long)res.missing, detail);
    if (opt.deflate) {
        json_escape(detail, sizeof detail, res.extension);
        printf(", \"deflate\": {\"extension\": \"%s\", \"sent\": %llu, \"sent_wire\": %llu, "
               "\"echoed_compressed\": %llu, \"echoed_plain\": %llu, \"echo_wire\": %llu, "
               "\"echo_inflated\": %llu}",
               detail, (unsigned long long)res.z_sent, (unsigned long long)res.z_sent_wire,
               (unsigned long long)res.z_echo_compressed, (unsigned long long)res.z_echo_plain,
               (unsigned long long)res.z_echo_wire, (unsigned long long)res.z_echo_inflated);
    }
    printf("}\n");
    return 0;
}
