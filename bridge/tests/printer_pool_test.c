/* printer_pool_test.c - the printer pool (adapters/printer/printer_pool.c)
 * against real printers on loopback TCP made here, each a thread with its
 * own listener: a normal one (reads until the end of the job, then closes),
 * a stalled one (accepts, never reads; a tiny receive buffer so 2 MB fill
 * the socket buffers), one that reads everything but never closes, a port
 * that refuses, and a listener whose accept queue is full (a connect that
 * gets no answer). CUPS runs against a PATH with no lp, then against a
 * stand-in `lp` script in a temp dir put first on PATH (its queue name says
 * what it does); the real lp and cupsd are integration.printers_cups's.
 *
 * Checked: ok, wrote_any and the error's words for each; that the printer
 * got exactly the bytes; that a stalled printer does not hold up another
 * key; busy keys refuse a second job; a done call may hand its key the next
 * job; and printer_pool_free() returns within a second while a job is
 * stalled in a write or a connect.
 *
 * Results are waited for by draining in a loop with a deadline (10 ms
 * between polls), never by a fixed sleep; a fake printer's counters are read
 * under its mutex, and what it received only after its thread is joined. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "printer_pool.h"

#include "check.h"

#define LP_MISSING "lp not found: install cups and give the printer a raw queue (docs/OUTLET-SETUP.md)"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static unsigned char *pattern(size_t len, unsigned seed)
{
    unsigned char *b = malloc(len);
    for (size_t i = 0; i < len; i++) b[i] = (unsigned char)((i * 31u + seed) ^ (i >> 9));
    return b;
}

/* ---- what done reported ------------------------------------------------ */

typedef struct {
    char key[PRINTER_KEY_MAX + 1];
    int64_t job;
    int ok, wrote_any;
    char error[256];
    double at;       /* now_ms() at the done call */
    int watch_busy;  /* printer_pool_busy(pool, watch) at the done call */
    int resent;      /* the done call handed its key the next job */
    int probe;       /* a probed call: ok, waiting, oldest and error (the message) */
    int waiting;
    char oldest[96];
} result;

typedef struct {
    printer_pool *pool;
    const char *watch;    /* a key whose busy state each done call records */
    const char *chain;    /* the done call for job 1 sends job 2 here, to this address */
    const unsigned char *chain_bytes;
    size_t chain_len;
    result r[16];
    int n;
} recorder;

static void on_done(void *ctx, const char *key, int64_t job, int ok, int wrote_any, const char *error)
{
    recorder *rec = ctx;
    if (rec->n >= 16) return;
    result *r = &rec->r[rec->n++];
    snprintf(r->key, sizeof r->key, "%s", key);
    r->job = job;
    r->ok = ok;
    r->wrote_any = wrote_any;
    snprintf(r->error, sizeof r->error, "%s", error);
    r->at = now_ms();
    r->watch_busy = rec->watch ? printer_pool_busy(rec->pool, rec->watch) : -1;
    r->resent = 0;
    if (rec->chain && job == 1) {
        r->resent = printer_pool_busy(rec->pool, key) == 0 &&
                    printer_pool_send(rec->pool, key, rec->chain, NULL, 2, rec->chain_bytes, rec->chain_len) == 0;
    }
}

/* Drains until `n` results are in or ms milliseconds pass. 1 if they are. */
static void on_probed(void *ctx, const char *key, int ok, int waiting, const char *oldest, const char *message)
{
    recorder *rec = ctx;
    if (rec->n >= 16) return;
    result *r = &rec->r[rec->n++];
    memset(r, 0, sizeof *r);
    snprintf(r->key, sizeof r->key, "%s", key);
    r->probe = 1;
    r->ok = ok;
    r->waiting = waiting;
    snprintf(r->oldest, sizeof r->oldest, "%s", oldest);
    snprintf(r->error, sizeof r->error, "%s", message);
    r->at = now_ms();
}

static int wait_done(recorder *rec, int n, int ms)
{
    double deadline = now_ms() + ms;
    for (;;) {
        printer_pool_drain(rec->pool);
        if (rec->n >= n) return 1;
        if (now_ms() > deadline) return 0;
        sleep_ms(10);
    }
}

/* ---- fake printers ----------------------------------------------------- */

typedef enum { PRINTER_NORMAL, PRINTER_STALL, PRINTER_NO_CLOSE } printer_mode;

typedef struct {
    printer_mode mode;
    int listen_fd, port;
    int quit[2]; /* the test writes quit[1] to end the printer */
    pthread_t thread;
    pthread_mutex_t mu;
    int accepted;     /* under mu: connections taken */
    int data_waiting; /* under mu: a stalled printer has unread bytes */
    /* the printer thread's alone until it is joined */
    unsigned char *got;
    size_t got_len, got_cap;
} fake_printer;

/* A loopback listener on a free port (*port), backlog `backlog`; rcvbuf > 0
 * sets the receive buffer its connections inherit. -1 on failure. */
static int listener(int *port, int backlog, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, backlog) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static int wait_quit(fake_printer *f, int fd, short events)
{
    struct pollfd pf[2] = {{.fd = f->quit[0], .events = POLLIN}, {.fd = fd, .events = events}};
    for (;;) {
        int r = poll(pf, fd >= 0 ? 2 : 1, -1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 || pf[0].revents) return 1;
        return 0;
    }
}

/* One connection. 1 if the test asked the printer to quit meanwhile. */
static int serve(fake_printer *f, int c)
{
    if (f->mode == PRINTER_STALL) {
        if (wait_quit(f, c, POLLIN)) return 1;
        pthread_mutex_lock(&f->mu);
        f->data_waiting = 1;
        pthread_mutex_unlock(&f->mu);
        wait_quit(f, -1, 0);
        return 1;
    }
    for (;;) {
        if (wait_quit(f, c, POLLIN)) return 1;
        if (f->got_len + 65536 > f->got_cap) {
            f->got_cap = f->got_cap * 2 + 65536;
            f->got = realloc(f->got, f->got_cap);
        }
        ssize_t n = read(c, f->got + f->got_len, f->got_cap - f->got_len);
        if (n > 0) {
            f->got_len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n == 0 && f->mode == PRINTER_NO_CLOSE) {
            wait_quit(f, -1, 0);
            return 1;
        }
        return 0; /* the end of the job (or an error): close */
    }
}

static void *printer_main(void *arg)
{
    fake_printer *f = arg;
    for (;;) {
        if (wait_quit(f, f->listen_fd, POLLIN)) break;
        int c = accept(f->listen_fd, NULL, NULL);
        if (c < 0) continue;
        pthread_mutex_lock(&f->mu);
        f->accepted++;
        pthread_mutex_unlock(&f->mu);
        int quit = serve(f, c);
        close(c);
        if (quit) break;
    }
    return NULL;
}

static fake_printer *printer_start(printer_mode mode)
{
    fake_printer *f = calloc(1, sizeof *f);
    f->mode = mode;
    f->listen_fd = listener(&f->port, 8, mode == PRINTER_STALL ? 4096 : 0);
    if (f->listen_fd < 0 || pipe(f->quit) != 0) {
        fprintf(stderr, "cannot make a fake printer: %s\n", strerror(errno));
        exit(2);
    }
    pthread_mutex_init(&f->mu, NULL);
    pthread_create(&f->thread, NULL, printer_main, f);
    return f;
}

static int printer_get(fake_printer *f, const int *field)
{
    pthread_mutex_lock(&f->mu);
    int v = *field;
    pthread_mutex_unlock(&f->mu);
    return v;
}

/* Waits (10 ms polls, up to 10 s) for a counter of the printer to be set. */
static int printer_wait(fake_printer *f, const int *field)
{
    double deadline = now_ms() + 10000;
    while (!printer_get(f, field)) {
        if (now_ms() > deadline) return 0;
        sleep_ms(10);
    }
    return 1;
}

/* Ends the printer's thread; f->got is then the test's to read. */
static void printer_stop(fake_printer *f)
{
    if (write(f->quit[1], "q", 1) != 1) perror("printer_stop");
    pthread_join(f->thread, NULL);
    close(f->listen_fd);
}

static void printer_free(fake_printer *f)
{
    close(f->quit[0]);
    close(f->quit[1]);
    pthread_mutex_destroy(&f->mu);
    free(f->got);
    free(f);
}

static void address_of(char *buf, size_t n, int port) { snprintf(buf, n, "127.0.0.1:%d", port); }

/* ---- the cases --------------------------------------------------------- */

/* (a) a normal printer: every byte of 200 KB, exactly; and a done call that
 * hands its key the next job. */
static void test_normal(void)
{
    fake_printer *f = printer_start(PRINTER_NORMAL);
    char addr[32];
    address_of(addr, sizeof addr, f->port);
    size_t len = 200 * 1024;
    unsigned char *a = pattern(len, 7), *b = pattern(1000, 99);
    recorder rec = {.chain = addr, .chain_bytes = b, .chain_len = 1000};
    double t0 = now_ms();
    rec.pool = printer_pool_new(5000, on_done, &rec);
    CHECK(rec.pool != NULL);
    CHECK(printer_pool_busy(rec.pool, "grill") == 0);
    CHECK(printer_pool_send(rec.pool, "grill", addr, NULL, 1, a, len) == 0);
    CHECK(printer_pool_busy(rec.pool, "grill") == 1);
    CHECK(printer_pool_busy(rec.pool, "bar") == 0);
    CHECK(wait_done(&rec, 2, 10000));
    CHECK(rec.n == 2);
    CHECK(strcmp(rec.r[0].key, "grill") == 0 && rec.r[0].job == 1);
    CHECK(rec.r[0].ok == 1 && rec.r[0].wrote_any == 1 && rec.r[0].error[0] == '\0');
    CHECK(rec.r[0].resent == 1);
    CHECK(rec.r[1].job == 2 && rec.r[1].ok == 1);
    CHECK(printer_pool_busy(rec.pool, "grill") == 0);
    printer_pool_free(rec.pool);
    printf("normal: 200 KB and 1000 B, one after the other from the done call, in %.0f ms\n", now_ms() - t0);

    printer_stop(f);
    CHECK(f->got_len == len + 1000);
    CHECK(f->got_len == len + 1000 && memcmp(f->got, a, len) == 0 && memcmp(f->got + len, b, 1000) == 0);
    CHECK(printer_get(f, &f->accepted) == 2);
    printer_free(f);
    free(a);
    free(b);
}

/* (b) a refused connection, bad addresses and keys. */
static void test_refused(void)
{
    int port = 0, fd = listener(&port, 1, 0);
    CHECK(fd >= 0);
    close(fd); /* nobody listens there now */
    char addr[32];
    address_of(addr, sizeof addr, port);
    unsigned char bytes[100] = {0x1b, 0x40};
    recorder rec = {0};
    rec.pool = printer_pool_new(2000, on_done, &rec);
    CHECK(printer_pool_send(rec.pool, "refused", addr, NULL, 10, bytes, sizeof bytes) == 0);
    CHECK(printer_pool_send(rec.pool, "nocolon", "192.168.1.50", NULL, 11, bytes, sizeof bytes) == 0);
    CHECK(printer_pool_send(rec.pool, "badport", "192.168.1.50:99999", NULL, 12, bytes, sizeof bytes) == 0);
    CHECK(printer_pool_send(rec.pool, "badhost", "no such\nhost:9100", NULL, 13, bytes, sizeof bytes) == 0);
    char long_key[PRINTER_KEY_MAX + 2];
    memset(long_key, 'k', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    CHECK(printer_pool_send(rec.pool, long_key, addr, NULL, 14, bytes, sizeof bytes) == -1);
    long_key[PRINTER_KEY_MAX] = '\0'; /* exactly the longest */
    CHECK(printer_pool_send(rec.pool, long_key, "x", NULL, 15, bytes, sizeof bytes) == 0);
    CHECK(printer_pool_send(rec.pool, "", addr, NULL, 16, bytes, sizeof bytes) == -1);
    CHECK(printer_pool_send(rec.pool, "nothing", NULL, NULL, 17, bytes, sizeof bytes) == -1);
    CHECK(printer_pool_send(rec.pool, "nobytes", addr, NULL, 18, NULL, 5) == -1);
    CHECK(printer_pool_busy(rec.pool, "nothing") == 0);
    CHECK(wait_done(&rec, 5, 10000));
    CHECK(rec.n == 5);
    for (int i = 0; i < rec.n; i++) {
        const result *r = &rec.r[i];
        printf("  job %lld: %s\n", (long long)r->job, r->error);
        CHECK(r->ok == 0 && r->wrote_any == 0);
        if (r->job == 10) CHECK(strstr(r->error, addr) != NULL && strstr(r->error, "connection refused") != NULL);
        if (r->job == 11) CHECK(strstr(r->error, "bad printer address \"192.168.1.50\"") != NULL);
        if (r->job == 12) CHECK(strstr(r->error, "bad printer address") != NULL);
        if (r->job == 13) CHECK(strstr(r->error, "bad printer address \"no such?host:9100\"") != NULL);
        if (r->job == 15) CHECK(strcmp(r->key, long_key) == 0 && strstr(r->error, "bad printer address") != NULL);
    }
    printer_pool_free(rec.pool);
}

/* (c) a stalled printer times out with bytes written, and does not hold up
 * another key's normal printer meanwhile; (d) a busy key refuses a job. */
static void test_stalled(void)
{
    fake_printer *bad = printer_start(PRINTER_STALL), *good = printer_start(PRINTER_NORMAL);
    char bad_addr[32], good_addr[32];
    address_of(bad_addr, sizeof bad_addr, bad->port);
    address_of(good_addr, sizeof good_addr, good->port);
    size_t big = 2 * 1024 * 1024, small = 200 * 1024;
    unsigned char *stuck = pattern(big, 3), *fine = pattern(small, 5);
    recorder rec = {.watch = "bad"};
    rec.pool = printer_pool_new(500, on_done, &rec);
    double t0 = now_ms();
    CHECK(printer_pool_send(rec.pool, "bad", bad_addr, NULL, 1, stuck, big) == 0);
    CHECK(printer_wait(bad, &bad->data_waiting)); /* the bad printer is being written to */
    CHECK(printer_pool_send(rec.pool, "good", good_addr, NULL, 2, fine, small) == 0);
    /* (d) */
    CHECK(printer_pool_busy(rec.pool, "bad") == 1);
    CHECK(printer_pool_send(rec.pool, "bad", bad_addr, NULL, 3, fine, 10) == -1);
    CHECK(printer_pool_send(rec.pool, "good", good_addr, NULL, 4, fine, 10) == -1);
    CHECK(wait_done(&rec, 2, 10000));
    CHECK(rec.n == 2);
    const result *g = &rec.r[0], *b = &rec.r[1];
    CHECK(strcmp(g->key, "good") == 0 && g->job == 2 && g->ok == 1);
    CHECK(g->watch_busy == 1); /* the bad printer was still stuck when the good one finished */
    CHECK(strcmp(b->key, "bad") == 0 && b->job == 1);
    CHECK(b->ok == 0 && b->wrote_any == 1);
    CHECK(strstr(b->error, bad_addr) != NULL && strstr(b->error, "timed out after 0.5 s with ") != NULL &&
          strstr(b->error, "of 2097152 bytes taken") != NULL);
    CHECK(b->at - t0 >= 450 && b->at - t0 < 5000);
    CHECK(printer_pool_busy(rec.pool, "bad") == 0);
    printf("stalled: good done after %.0f ms, bad failed after %.0f ms: %s\n", g->at - t0, b->at - t0, b->error);
    printer_pool_free(rec.pool);

    printer_stop(good);
    CHECK(good->got_len == small && memcmp(good->got, fine, small) == 0);
    printer_stop(bad);
    printer_free(good);
    printer_free(bad);
    free(stuck);
    free(fine);
}

/* (e) a printer that reads everything and never closes: not ok (only its
 * close says it has the job), with an error saying it took every byte. */
static void test_no_close(void)
{
    fake_printer *f = printer_start(PRINTER_NO_CLOSE);
    char addr[32];
    address_of(addr, sizeof addr, f->port);
    size_t len = 100 * 1024;
    unsigned char *bytes = pattern(len, 11);
    recorder rec = {0};
    rec.pool = printer_pool_new(500, on_done, &rec);
    double t0 = now_ms();
    CHECK(printer_pool_send(rec.pool, "expo", addr, NULL, 5, bytes, len) == 0);
    CHECK(wait_done(&rec, 1, 10000));
    CHECK(rec.n == 1 && rec.r[0].ok == 0 && rec.r[0].wrote_any == 1);
    CHECK(strstr(rec.r[0].error, "took all 102400 bytes but did not finish the job") != NULL);
    CHECK(rec.r[0].at - t0 >= 450); /* it did wait for the close first */
    printf("no close: failed after %.0f ms: %s\n", rec.r[0].at - t0, rec.r[0].error);
    printer_pool_free(rec.pool);
    printer_stop(f);
    CHECK(f->got_len == len && memcmp(f->got, bytes, len) == 0);
    printer_free(f);
    free(bytes);
}

/* (f) printer_pool_free while a job is stalled in a write, with a timeout far
 * longer than the second it may take. */
static void test_free_stalled_write(void)
{
    fake_printer *f = printer_start(PRINTER_STALL);
    char addr[32];
    address_of(addr, sizeof addr, f->port);
    size_t len = 2 * 1024 * 1024;
    unsigned char *bytes = pattern(len, 13);
    recorder rec = {0};
    rec.pool = printer_pool_new(30000, on_done, &rec);
    CHECK(printer_pool_send(rec.pool, "stuck", addr, NULL, 6, bytes, len) == 0);
    CHECK(printer_wait(f, &f->data_waiting));
    CHECK(!wait_done(&rec, 1, 200)); /* still stuck */
    double t0 = now_ms();
    printer_pool_free(rec.pool);
    double took = now_ms() - t0;
    CHECK(took < 1000);
    CHECK(rec.n == 0);
    printf("free during a stalled write: %.1f ms\n", took);
    printer_stop(f);
    printer_free(f);
    free(bytes);
}

/* A connect that gets no answer (the listener's accept queue is full, so
 * its SYNs are dropped): it times out, and free does not wait for it. */
static void test_connect_stall(void)
{
    int port = 0, lfd = listener(&port, 0, 0);
    CHECK(lfd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    int fill1 = socket(AF_INET, SOCK_STREAM, 0), fill2 = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    CHECK(connect(fill1, (struct sockaddr *)&a, sizeof a) == 0);
    if (connect(fill2, (struct sockaddr *)&a, sizeof a) != 0) CHECK(errno == EINPROGRESS);
    char addr[32];
    address_of(addr, sizeof addr, port);
    unsigned char bytes[10] = {0};

    recorder rec = {0};
    rec.pool = printer_pool_new(300, on_done, &rec);
    double t0 = now_ms();
    CHECK(printer_pool_send(rec.pool, "far", addr, NULL, 7, bytes, sizeof bytes) == 0);
    CHECK(wait_done(&rec, 1, 10000));
    CHECK(rec.n == 1 && rec.r[0].ok == 0 && rec.r[0].wrote_any == 0);
    CHECK(strstr(rec.r[0].error, addr) != NULL && strstr(rec.r[0].error, "no answer to connect within 0.3 s") != NULL);
    CHECK(rec.r[0].at - t0 >= 250);
    printf("connect stall: %s (after %.0f ms)\n", rec.r[0].error, rec.r[0].at - t0);
    printer_pool_free(rec.pool);

    recorder rec2 = {0};
    rec2.pool = printer_pool_new(30000, on_done, &rec2);
    CHECK(printer_pool_send(rec2.pool, "far", addr, NULL, 8, bytes, sizeof bytes) == 0);
    CHECK(!wait_done(&rec2, 1, 200)); /* still connecting */
    t0 = now_ms();
    printer_pool_free(rec2.pool);
    double took = now_ms() - t0;
    CHECK(took < 1000);
    printf("free during a stalled connect: %.1f ms\n", took);
    close(fill1);
    close(fill2);
    close(lfd);
}

static const char fake_lp[] =
    "#!/bin/sh\n"
    "# A stand-in for CUPS's lp (printer_pool_test.c): the queue says what it does.\n"
    "case \"$2\" in\n"
    "fail) echo 'lp: Error - The printer or class does not exist.' >&2; exit 1 ;;\n"
    "missing) exit 127 ;;\n"
    "hang) exec sleep 30 ;;\n"
    "esac\n"
    "echo \"$@\" > \"$0.args\"\n"
    "exec cat > \"$0.out\"\n";

/* Writes `text` as the executable dir/name (its path into `path`) and puts
 * dir first on PATH, before /usr/bin:/bin. Only while no pool thread runs. */
static void stand_in(const char *dir, const char *name, const char *text, char *path, size_t n)
{
    snprintf(path, n, "%s/%s", dir, name);
    FILE *script = fopen(path, "w");
    CHECK(script != NULL);
    if (!script) return;
    fputs(text, script);
    fclose(script);
    chmod(path, 0755);
    char dirs[512];
    snprintf(dirs, sizeof dirs, "%s:/usr/bin:/bin", dir);
    setenv("PATH", dirs, 1);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(4 << 20);
    *len = fread(buf, 1, 4 << 20, f);
    fclose(f);
    return buf;
}

/* (g) CUPS: a bad queue name, lp not on PATH, and a stand-in lp (the real one, with cupsd: integration.printers_cups). */
static void test_cups(void)
{
    unsigned char bytes[100] = {0x1b, 0x40, 'h', 'i'};
    /* A folder for the stand-in lp; empty at first, it is the whole PATH of a
     * box without lp. PATH is only changed while no pool thread runs. */
    char dir[] = "/tmp/kb-printer-pool-test-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    const char *old = getenv("PATH");
    char *saved = strdup(old ? old : "/usr/bin:/bin");
    setenv("PATH", dir, 1);
    recorder rec = {0};
    rec.pool = printer_pool_new(2000, on_done, &rec);
    CHECK(printer_pool_send(rec.pool, "usb1", NULL, "bad queue", 20, bytes, sizeof bytes) == 0);
    CHECK(printer_pool_send(rec.pool, "usb2", NULL, "-d;rm", 21, bytes, sizeof bytes) == 0);
    CHECK(printer_pool_send(rec.pool, "usb3", NULL, "kitchen", 22, bytes, sizeof bytes) == 0);
    CHECK(wait_done(&rec, 3, 10000));
    for (int i = 0; i < rec.n; i++) {
        const result *r = &rec.r[i];
        printf("  cups job %lld: %s\n", (long long)r->job, r->error);
        CHECK(r->ok == 0 && r->wrote_any == 0);
        if (r->job == 20) CHECK(strstr(r->error, "bad CUPS queue name \"bad queue\"") != NULL);
        if (r->job == 21) CHECK(strstr(r->error, "bad CUPS queue name") != NULL);
        if (r->job == 22) CHECK(strcmp(r->error, LP_MISSING) == 0);
    }
    CHECK(rec.n == 3);
    printer_pool_free(rec.pool);

    char lp[80], args[96], out[96];
    stand_in(dir, "lp", fake_lp, lp, sizeof lp);
    snprintf(args, sizeof args, "%s.args", lp);
    snprintf(out, sizeof out, "%s.out", lp);

    size_t len = 200 * 1024; /* more than a pipe holds */
    unsigned char *ticket = pattern(len, 17);
    recorder rec2 = {0};
    rec2.pool = printer_pool_new(500, on_done, &rec2);
    double t0 = now_ms();
    CHECK(printer_pool_send(rec2.pool, "usb-ok", NULL, "kitchen", 30, ticket, len) == 0);
    CHECK(printer_pool_send(rec2.pool, "usb-fail", NULL, "fail", 31, bytes, sizeof bytes) == 0);
    CHECK(printer_pool_send(rec2.pool, "usb-missing", NULL, "missing", 32, bytes, sizeof bytes) == 0);
    CHECK(printer_pool_send(rec2.pool, "usb-hang", NULL, "hang", 33, bytes, sizeof bytes) == 0);
    CHECK(printer_pool_send(rec2.pool, "usb-hang-big", NULL, "hang", 34, ticket, len) == 0);
    /* lp exits without reading 200 KB: the write gets EPIPE, and no SIGPIPE
     * ends this test (which leaves SIGPIPE at its default on purpose). */
    CHECK(printer_pool_send(rec2.pool, "usb-fail-big", NULL, "fail", 35, ticket, len) == 0);
    CHECK(wait_done(&rec2, 6, 10000));
    CHECK(rec2.n == 6);
    for (int i = 0; i < rec2.n; i++) {
        const result *r = &rec2.r[i];
        printf("  lp job %lld after %.0f ms: ok=%d wrote_any=%d %s\n", (long long)r->job, r->at - t0, r->ok,
               r->wrote_any, r->error);
        if (r->job == 30) CHECK(r->ok == 1 && r->wrote_any == 1 && r->error[0] == '\0');
        if (r->job == 31 || r->job == 35)
            CHECK(r->ok == 0 && r->wrote_any == 0 &&
                  strcmp(r->error, "lp -d fail failed (exit 1): lp: Error - The printer or class does not exist.") == 0);
        if (r->job == 32) CHECK(r->ok == 0 && strcmp(r->error, LP_MISSING) == 0);
        if (r->job == 33)
            CHECK(r->ok == 0 && r->wrote_any == 1 &&
                  strstr(r->error, "lp -d hang: did not finish within 0.5 s of taking all 100 bytes") != NULL);
        if (r->job == 34)
            CHECK(r->ok == 0 && r->wrote_any == 1 && strstr(r->error, "lp -d hang: timed out after 0.5 s with ") != NULL &&
                  strstr(r->error, "of 204800 bytes taken (lp killed)") != NULL);
    }
    printer_pool_free(rec2.pool);
    setenv("PATH", saved, 1);
    free(saved);

    size_t got_len = 0;
    char *got = slurp(out, &got_len);
    CHECK(got != NULL && got_len == len && memcmp(got, ticket, len) == 0);
    free(got);
    char *argv = slurp(args, &got_len);
    CHECK(argv != NULL && got_len == strlen("-d kitchen -o raw\n") && memcmp(argv, "-d kitchen -o raw\n", got_len) == 0);
    free(argv);
    free(ticket);
    unlink(out);
    unlink(args);
    unlink(lp);
    rmdir(dir);
}

static const char fake_lpstat[] =
    "#!/bin/sh\n"
    "# A stand-in for CUPS's lpstat (printer_pool_test.c): the queue says what CUPS holds.\n"
    "[ \"$LC_ALL\" = C ] || { echo \"lpstat: LC_ALL is '$LC_ALL', not C\" >&2; exit 3; }\n"
    "case \"$1 $2\" in\n"
    "'-o held') printf 'held-7  root  1024  Fri Dec  4 19:04:35 2026\\nheld-5  root  1024  Fri Dec  4 19:04:36 2026\\n"
    "heldover-9  root  1024  Fri Dec  4 19:04:37 2026\\n' ;;\n"
    "'-p held') printf 'printer held now printing held-5.  enabled since Fri Dec  4 19:03:21 2026\\n"
    "\\tThe printer may not exist or is unavailable at this time.\\n' ;;\n"
    "'-o stopped') printf 'stopped-3  root  1024  Fri Dec  4 19:04:35 2026\\n' ;;\n"
    "'-p stopped') printf 'printer stopped disabled since Fri Dec  4 19:03:21 2026 -\\n\\tUnplugged or turned off\\n' ;;\n"
    "'-o down') echo 'lpstat: Scheduler is not running.' >&2; exit 1 ;;\n"
    "'-o hang') exec sleep 30 ;;\n"
    "esac\n";

static const result *probe_of(const recorder *rec, const char *key)
{
    for (int i = 0; i < rec->n; i++)
        if (rec->r[i].probe && strcmp(rec->r[i].key, key) == 0) return &rec->r[i];
    return NULL;
}

/* (h) What CUPS holds (probes): lpstat not on PATH, then a stand-in lpstat. */
static void test_cups_probe(void)
{
    recorder rec = {0};
    rec.pool = printer_pool_new(500, on_done, &rec);
    CHECK(printer_pool_probe(rec.pool, "usb", "kitchen") == -1); /* no probed callback yet */
    printer_pool_on_probed(rec.pool, on_probed);

    char dir[] = "/tmp/kb-printer-pool-probe-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    const char *old = getenv("PATH");
    char *saved = strdup(old ? old : "/usr/bin:/bin");
    setenv("PATH", dir, 1); /* no pool thread runs yet */
    CHECK(printer_pool_probe(rec.pool, "usb-none", "kitchen") == 0);
    CHECK(printer_pool_busy(rec.pool, "usb-none") == 1);
    CHECK(printer_pool_send(rec.pool, "usb-none", NULL, "kitchen", 1, (const unsigned char *)"x", 1) == -1);
    CHECK(printer_pool_probe(rec.pool, "usb-bad", "bad queue") == 0);
    CHECK(wait_done(&rec, 2, 5000));
    printer_pool_free(rec.pool);
    const result *r = probe_of(&rec, "usb-none");
    CHECK(r && r->ok == 0 && r->waiting == 0 && strcmp(r->error, LP_MISSING) == 0);
    r = probe_of(&rec, "usb-bad");
    CHECK(r && r->ok == 0 && strstr(r->error, "bad CUPS queue name") != NULL);

    char tool[80];
    stand_in(dir, "lpstat", fake_lpstat, tool, sizeof tool);
    setenv("LC_ALL", "de_DE.UTF-8", 1); /* the probe must set C for lpstat itself */
    recorder rec2 = {0};
    rec2.pool = printer_pool_new(500, on_done, &rec2);
    printer_pool_on_probed(rec2.pool, on_probed);
    const char *queues[] = {"held", "stopped", "empty", "down", "hang"};
    for (int i = 0; i < 5; i++) CHECK(printer_pool_probe(rec2.pool, queues[i], queues[i]) == 0);
    CHECK(wait_done(&rec2, 5, 5000));
    for (int i = 0; i < rec2.n; i++)
        printf("  probe %s: ok=%d waiting=%d oldest=%s %s\n", rec2.r[i].key, rec2.r[i].ok, rec2.r[i].waiting,
               rec2.r[i].oldest, rec2.r[i].error);
    r = probe_of(&rec2, "held");
    CHECK(r && r->ok == 1 && r->waiting == 2 && strcmp(r->oldest, "held-5") == 0 &&
          strcmp(r->error, "The printer may not exist or is unavailable at this time.") == 0);
    r = probe_of(&rec2, "stopped");
    CHECK(r && r->ok == 1 && r->waiting == 1 && strcmp(r->oldest, "stopped-3") == 0 &&
          strcmp(r->error, "CUPS has stopped the queue (cupsenable stopped starts it again): Unplugged or turned off") == 0);
    r = probe_of(&rec2, "empty");
    CHECK(r && r->ok == 1 && r->waiting == 0 && r->oldest[0] == '\0' && r->error[0] == '\0');
    r = probe_of(&rec2, "down");
    CHECK(r && r->ok == 0 && strcmp(r->error, "lpstat -o down failed: lpstat: Scheduler is not running.") == 0);
    r = probe_of(&rec2, "hang");
    CHECK(r && r->ok == 0 && strcmp(r->error, "lpstat -o hang: no answer within 0.5 s") == 0);
    printer_pool_free(rec2.pool);
    setenv("PATH", saved, 1);
    unsetenv("LC_ALL");
    free(saved);
    unlink(tool);
    rmdir(dir);
}

int main(void)
{
    double t0 = now_ms();
    test_normal();
    test_refused();
    test_stalled();
    test_no_close();
    test_free_stalled_write();
    test_connect_stall();
    test_cups();
    test_cups_probe();
    printf("printer pool tests: %.0f ms\n", now_ms() - t0);
    return check_report();
}
