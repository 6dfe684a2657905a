/* printer_pool.c - see printer_pool.h.
 *
 * Who owns a job (pp_job: one allocation holding its address or queue and,
 * later, its result; its bytes are a second one): the loop while
 * printer_pool_send() builds it; then the key's slot, under the mutex, until
 * the key's worker takes it; the worker alone while it runs (it frees the
 * bytes when done with them); the pool's finished list, under the mutex;
 * and the loop again once printer_pool_drain() has taken the list, which
 * frees it after its done call.
 *
 * Fields are marked: "under mu" ones are read and written only with the
 * pool's mutex held; "loop" ones only by the loop's thread (the caller of
 * the API); the unmarked ones are set before a thread can see them and never
 * change after.
 *
 * Stopping: printer_pool_free() sets `stopping` under the mutex, signals each
 * worker's condition variable, and writes one byte into the pool's stop
 * pipe, which nobody ever reads: its read end stays readable, so every wait
 * of every worker (each polls it next to its socket or lp's pipes) wakes at
 * once and keeps waking. That is why one pipe serves all the workers.
 *
 * Descriptors: everything the pool opens is close-on-exec, and lp is started
 * with every descriptor above stderr closed (addclosefrom_np), so no child
 * of the bridge holds a printer's socket or another lp's stdin open (which
 * would keep a printer from seeing the end of a job, or an lp from seeing
 * the end of its input).
 *
 * Signals: worker threads run with every signal blocked, so SIGINT, SIGTERM
 * and SIGHUP keep going to the loop's thread, and a write to an lp that has
 * already exited gives EPIPE rather than a SIGPIPE that would end the
 * bridge (the SIGPIPE left pending on the worker is taken back). lp itself
 * starts with no signal blocked and default dispositions. The bridge must
 * not set SIGCHLD to SIG_IGN (lp's exit status would be lost), nor change
 * PATH (read by workers to find lp) while a pool has threads. */
#define _GNU_SOURCE /* pipe2 and posix_spawn_file_actions_addclosefrom_np (glibc >= 2.34) */
#include "printer_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "charset.h"
#include "clock.h"

#define ERROR_LEN 256
#define QUEUE_MAX 64
#define HOST_MAX 253
#define LP_MISSING "lp not found: install cups and give the printer a raw queue (docs/OUTLET-SETUP.md)"

typedef struct pp_worker pp_worker;
typedef struct pp_job pp_job;

struct pp_job {
    pp_job *next;         /* on the finished list (under mu) */
    pp_worker *worker;
    int64_t id;
    int is_cups;          /* text is a CUPS queue, else a TCP host:port */
    int is_probe;         /* ask CUPS what it holds of the queue in text (no bytes) */
    unsigned char *bytes; /* len bytes; freed (and NULL) once the worker has run the job */
    size_t len;
    /* the result, written by the worker while it owns the job */
    int ok, wrote_any;
    char error[ERROR_LEN]; /* a probe's: CUPS's message about the printer */
    int waiting;           /* a probe's: jobs CUPS holds for the queue */
    char oldest[QUEUE_MAX + 24];
    char text[]; /* the address or the queue, NUL-terminated */
};

struct pp_worker {
    pp_worker *next; /* loop */
    printer_pool *pool;
    char key[PRINTER_KEY_MAX + 1];
    pthread_t thread;
    pthread_cond_t wake; /* signalled when the slot fills, and on stop */
    int in_flight;       /* loop: a job taken whose done call is not made yet */
    pp_job *slot;        /* under mu: a job handed and not yet taken by the worker */
};

struct printer_pool {
    int timeout_ms;
    printer_done_fn done;
    printer_probed_fn probed; /* NULL: probes are refused */
    void *ctx;
    int stop_r, stop_w; /* the stop pipe: written once, by printer_pool_free */
    pthread_mutex_t mu;
    pp_worker *workers;     /* loop: the list; each worker's own fields are marked there */
    int stopping;           /* under mu */
    pp_job *finished;       /* under mu: oldest first */
    pp_job **finished_tail; /* under mu */
};

/* ---- small helpers (worker side) ---------------------------------------- */

__attribute__((format(printf, 3, 4))) static int fail(pp_job *j, int wrote_any, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(j->error, sizeof j->error, fmt, ap);
    va_end(ap);
    j->ok = 0;
    j->wrote_any = wrote_any;
    return -1;
}

/* errno's text, starting in lower case (it follows "host:port: "). */
static const char *errno_text(int e, char *buf, size_t n)
{
    const char *s = strerror_r(e, buf, n); /* GNU: may return a static string */
    if (s != buf) snprintf(buf, n, "%s", s);
    if (buf[0] >= 'A' && buf[0] <= 'Z') buf[0] = (char)(buf[0] - 'A' + 'a');
    return buf;
}

/* A copy of s fit for a one-line message: at most n-1 characters, control
 * characters and non-ASCII bytes as '?'. */
static void printable(char *dst, size_t n, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++) dst[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    dst[i] = '\0';
}

static double seconds(const printer_pool *p) { return p->timeout_ms / 1000.0; }

enum { LP_LOST = -3, WAIT_FAILED = -2, WAIT_STOP = -1, WAIT_TIMEOUT = 0, WAIT_READY = 1 };

/* Polls fds[0..n-1] (n <= 2; their revents are set) together with the stop
 * pipe until one of them is ready, the pool is being freed, or the
 * monotonic clock reaches `deadline` (kb_now_ms milliseconds). Once the
 * deadline has passed it says WAIT_TIMEOUT even if a descriptor is ready, so
 * a peer that always has more to say cannot keep a worker past it. */
static int wait_for(const printer_pool *p, struct pollfd *fds, int n, double deadline)
{
    struct pollfd all[3];
    for (;;) {
        if (n) memcpy(all, fds, (size_t)n * sizeof *fds);
        all[n] = (struct pollfd){.fd = p->stop_r, .events = POLLIN};
        double left = deadline - kb_now_ms();
        int ms = left <= 0 ? 0 : left >= INT_MAX - 1 ? INT_MAX : (int)left + 1;
        int r = poll(all, (nfds_t)n + 1, ms);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return WAIT_FAILED;
        if (all[n].revents) return WAIT_STOP;
        if (left <= 0) return WAIT_TIMEOUT;
        if (r == 0) continue; /* woke a hair early: the loop checks the clock again */
        for (int i = 0; i < n; i++) fds[i].revents = all[i].revents;
        return WAIT_READY;
    }
}

/* The error of a wait that ended without the deadline passing. */
static int fail_wait(pp_job *j, int w, int wrote_any, const char *where)
{
    if (w == WAIT_STOP) return fail(j, wrote_any, "%s: stopped", where);
    char e[96];
    return fail(j, wrote_any, "%s: cannot wait for the printer (%s)", where, errno_text(errno, e, sizeof e));
}

/* ---- TCP (port 9100) --------------------------------------------------- */

/* Splits "host:port" (host 1-253 of [A-Za-z0-9._-], port 1-65535). 0 or -1. */
static int split_address(const char *addr, char *host, char *port)
{
    const char *colon = strrchr(addr, ':');
    if (!colon) return -1;
    size_t hl = (size_t)(colon - addr), pl = strlen(colon + 1);
    if (hl == 0 || hl > HOST_MAX || pl == 0 || pl > 5 || strspn(colon + 1, "0123456789") != pl) return -1;
    long v = strtol(colon + 1, NULL, 10);
    if (v < 1 || v > 65535) return -1;
    memcpy(host, addr, hl);
    host[hl] = '\0';
    memcpy(port, colon + 1, pl + 1);
    return charset_is(host, HOST_MAX, CHARSET_LOWER | CHARSET_UPPER | CHARSET_DIGITS, "._-") ? 0 : -1;
}

/* How many of the first `sent` bytes the printer's TCP has acknowledged. */
static size_t bytes_taken(int fd, size_t sent)
{
    int queued = 0;
    if (ioctl(fd, SIOCOUTQ, &queued) != 0 || queued < 0) return 0;
    return (size_t)queued >= sent ? 0 : sent - (size_t)queued;
}

static int tcp_connect(const printer_pool *p, pp_job *j, int fd, const struct addrinfo *ai, const char *where)
{
    char e[96];
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) return 0;
    if (errno != EINPROGRESS) return fail(j, 0, "%s: %s", where, errno_text(errno, e, sizeof e));
    struct pollfd pf = {.fd = fd, .events = POLLOUT};
    int w = wait_for(p, &pf, 1, kb_now_ms() + p->timeout_ms);
    if (w == WAIT_TIMEOUT) return fail(j, 0, "%s: no answer to connect within %g s", where, seconds(p));
    if (w != WAIT_READY) return fail_wait(j, w, 0, where);
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0) err = errno;
    return err ? fail(j, 0, "%s: %s", where, errno_text(err, e, sizeof e)) : 0;
}

/* Writes every byte; gives up after timeout_ms without progress. */
static int tcp_write(const printer_pool *p, pp_job *j, int fd, const char *where)
{
    size_t sent = 0;
    double deadline = kb_now_ms() + p->timeout_ms;
    while (sent < j->len) {
        ssize_t n = send(fd, j->bytes + sent, j->len - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            deadline = kb_now_ms() + p->timeout_ms;
            continue;
        }
        int e = n < 0 ? errno : EPIPE;
        if (e == EINTR) continue;
        if (e == EAGAIN || e == EWOULDBLOCK) {
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            int w = wait_for(p, &pf, 1, deadline);
            if (w == WAIT_READY) continue;
            if (w == WAIT_TIMEOUT)
                return fail(j, sent > 0, "%s: timed out after %g s with %zu of %zu bytes taken", where, seconds(p),
                            bytes_taken(fd, sent), j->len);
            return fail_wait(j, w, sent > 0, where);
        }
        if (e == ECONNRESET || e == EPIPE)
            return fail(j, sent > 0, "%s: connection reset by the printer after %zu of %zu bytes sent", where, sent,
                        j->len);
        char t[96];
        return fail(j, sent > 0, "%s: cannot write after %zu of %zu bytes (%s)", where, sent, j->len,
                    errno_text(e, t, sizeof t));
    }
    return 0;
}

/* After the last byte: ends the sending side and waits for the printer to
 * close its own (reading and dropping whatever it says meanwhile). Only
 * that close says the printer has the job: a TCP acknowledgement says the
 * bytes reached its network buffer, not the paper (a printer that is out
 * of paper or hung acknowledges and never prints), so without the close the
 * job fails and is sent again (marked REPRINT by the caller). */
static int tcp_finish(const printer_pool *p, pp_job *j, int fd, const char *where)
{
    char buf[512];
    int any = j->len > 0;
    if (shutdown(fd, SHUT_WR) != 0)
        return fail(j, any, "%s: connection lost at the end of the job (%s)", where, errno_text(errno, buf, 96));
    double deadline = kb_now_ms() + p->timeout_ms;
    for (;;) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int w = wait_for(p, &pf, 1, deadline);
        if (w == WAIT_TIMEOUT) {
            size_t taken = bytes_taken(fd, j->len);
            if (taken == j->len)
                return fail(j, any, "%s: took all %zu bytes but did not finish the job within %g s (out of paper, "
                            "cover open, or a printer that keeps raw connections open)", where, j->len, seconds(p));
            return fail(j, any, "%s: timed out after %g s with %zu of %zu bytes taken", where, seconds(p), taken,
                        j->len);
        }
        if (w != WAIT_READY) return fail_wait(j, w, any, where);
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n == 0) break; /* the printer closed: it has the whole job */
        if (n > 0 || errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
        if (errno == ECONNRESET)
            return fail(j, any, "%s: connection reset by the printer after all %zu bytes were sent", where, j->len);
        return fail(j, any, "%s: lost the connection at the end of the job (%s)", where, errno_text(errno, buf, 96));
    }
    j->ok = 1;
    j->wrote_any = any;
    return 0;
}

static void run_tcp(const printer_pool *p, pp_job *j)
{
    char where[128], host[HOST_MAX + 1], port[6], e[96];
    printable(where, sizeof where, j->text);
    if (strlen(j->text) > HOST_MAX + 6 || split_address(j->text, host, port) != 0) {
        fail(j, 0, "bad printer address \"%s\": expected host:port, e.g. 192.168.1.50:9100", where);
        return;
    }
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int g = getaddrinfo(host, port, &hints, &ai);
    if (g != 0) {
        fail(j, 0, "%s: cannot find the host (%s)", where, g == EAI_SYSTEM ? errno_text(errno, e, sizeof e) : gai_strerror(g));
        return;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fail(j, 0, "%s: cannot open a socket (%s)", where, errno_text(errno, e, sizeof e));
        freeaddrinfo(ai);
        return;
    }
    int rc = tcp_connect(p, j, fd, ai, where);
    freeaddrinfo(ai);
    if (rc == 0 && tcp_write(p, j, fd, where) == 0) tcp_finish(p, j, fd, where);
    close(fd);
}

/* ---- CUPS (lp) --------------------------------------------------------- */

/* The first line lp writes to stderr, kept for the error; the rest dropped. */
typedef struct {
    char line[160];
    size_t len;
    int line_done;
} lp_stderr;

/* Reads what is there (at most 16 reads, so a chatty lp cannot keep the
 * worker here). 1 while the pipe is open, 0 at its end (or error). */
static int read_stderr(int fd, lp_stderr *out)
{
    char buf[512];
    for (int reads = 0; reads < 16; reads++) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 1;
        if (n <= 0) return 0;
        for (ssize_t i = 0; i < n && !out->line_done; i++) {
            char c = buf[i];
            if (c == '\n' && out->len > 0) out->line_done = 1;
            else if (c != '\n' && out->len + 1 < sizeof out->line)
                out->line[out->len++] = (c >= 0x20 && c < 0x7f) ? c : ' ';
        }
        out->line[out->len] = '\0';
    }
    return 1;
}

/* Takes back the SIGPIPE a write to a closed pipe left pending on this
 * thread (every signal is blocked on workers). */
static void take_sigpipe(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&s, NULL, &zero) == SIGPIPE) {
    }
}

/* Waits for lp to exit, reading its stderr meanwhile. WAIT_READY with
 * *status set, or why not: LP_LOST if waitpid cannot find it (someone else
 * reaped it; its pid must not be signalled any more). */
static int lp_wait(const printer_pool *p, pid_t pid, int err_fd, lp_stderr *out, double deadline, int *status)
{
    int open = 1;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) {
            if (open) read_stderr(err_fd, out); /* what it wrote just before it exited */
            return WAIT_READY;
        }
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return LP_LOST;
        if (open) { /* lp's exit closes this pipe: no polling needed */
            struct pollfd pf = {.fd = err_fd, .events = POLLIN};
            int w = wait_for(p, &pf, 1, deadline);
            if (w != WAIT_READY) return w;
            open = read_stderr(err_fd, out);
            continue;
        }
        /* lp closed stderr but runs on: look again every 10 ms */
        double now = kb_now_ms();
        int w = wait_for(p, NULL, 0, now + 10 < deadline ? now + 10 : deadline);
        if (w != WAIT_TIMEOUT || kb_now_ms() >= deadline) return w;
    }
}

/* Finds `name` (lp, lpstat) on PATH as posix_spawnp would (an unset PATH is
 * "/bin:/usr/bin", an empty entry the current directory), so a missing tool
 * is told without starting a process, the same under valgrind (whose fork
 * of a vfork cannot report a failed exec). 0 with its path in `path`, or -1. */
static int find_tool(const char *name, char *path, size_t n)
{
    const char *dirs = getenv("PATH");
    if (!dirs) dirs = "/bin:/usr/bin";
    for (const char *d = dirs;; d++) {
        size_t len = strcspn(d, ":");
        int w = len ? snprintf(path, n, "%.*s/%s", (int)len, d, name) : snprintf(path, n, "%s", name);
        if (w > 0 && (size_t)w < n && access(path, X_OK) == 0) return 0;
        d += len;
        if (!*d) return -1;
    }
}

/* Starts `path` (from find_tool) with argv and envp, stdin from in_r (-1:
 * /dev/null), stdout to out_w (-1: /dev/null) and stderr to err_w, every
 * other descriptor closed and the signals at their defaults. 0 or an errno
 * value. */
static int tool_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[], int in_r, int out_w,
                      int err_w)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0) return rc;
    rc = posix_spawnattr_init(&at);
    if (rc != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return rc;
    }
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    if (!rc && in_r >= 0) rc = posix_spawn_file_actions_adddup2(&fa, in_r, STDIN_FILENO);
    if (!rc && in_r < 0) rc = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    if (!rc && out_w >= 0) rc = posix_spawn_file_actions_adddup2(&fa, out_w, STDOUT_FILENO);
    if (!rc && out_w < 0) rc = posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    if (!rc) rc = posix_spawn_file_actions_adddup2(&fa, err_w, STDERR_FILENO);
    if (!rc) rc = posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
    if (!rc) rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (!rc) rc = posix_spawnattr_setsigmask(&at, &none);
    if (!rc) rc = posix_spawnattr_setsigdefault(&at, &all);
    if (!rc) rc = posix_spawn(pid, path, &fa, &at, argv, envp);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

/* 0 if the job's queue name is one CUPS takes (and cannot be read as an
 * option), else -1 with the job failed saying so. */
static int check_queue(pp_job *j)
{
    if (charset_is(j->text, QUEUE_MAX, CHARSET_LOWER | CHARSET_UPPER | CHARSET_DIGITS, "_.-")) return 0;
    char shown[QUEUE_MAX + 1];
    printable(shown, sizeof shown, j->text);
    return fail(j, 0, "bad CUPS queue name \"%s\": expected 1-64 of A-Z a-z 0-9 _ . -", shown);
}

static void run_cups(const printer_pool *p, pp_job *j)
{
    char e[96], where[QUEUE_MAX + 8];
    char *queue = j->text;
    if (check_queue(j) != 0) return;
    snprintf(where, sizeof where, "lp -d %s", queue);
    char lp_path[PATH_MAX];
    if (find_tool("lp", lp_path, sizeof lp_path) != 0) {
        fail(j, 0, LP_MISSING);
        return;
    }
    int in[2] = {-1, -1}, err[2] = {-1, -1};
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0 || fcntl(in[1], F_SETFL, O_NONBLOCK) != 0 ||
        fcntl(err[0], F_SETFL, O_NONBLOCK) != 0) {
        fail(j, 0, "lp -d %s: cannot make its pipes (%s)", queue, errno_text(errno, e, sizeof e));
        for (int i = 0; i < 2; i++) {
            if (in[i] >= 0) close(in[i]);
            if (err[i] >= 0) close(err[i]);
        }
        return;
    }
    pid_t pid = -1;
    char lp[] = "lp", d[] = "-d", o[] = "-o", raw[] = "raw";
    char *argv[] = {lp, d, queue, o, raw, NULL};
    int rc = tool_spawn(&pid, lp_path, argv, environ, in[0], -1, err[1]);
    close(in[0]);
    close(err[1]);
    if (rc != 0) {
        close(in[1]);
        close(err[0]);
        if (rc == ENOENT) fail(j, 0, LP_MISSING);
        else fail(j, 0, "cannot start lp -d %s (%s)", queue, errno_text(rc, e, sizeof e));
        return;
    }

    lp_stderr out = {.len = 0};
    int err_open = 1, w = WAIT_READY, write_errno = 0;
    size_t sent = 0;
    double deadline = kb_now_ms() + p->timeout_ms;
    while (sent < j->len) {
        ssize_t n = write(in[1], j->bytes + sent, j->len - sent);
        if (n > 0) {
            sent += (size_t)n;
            deadline = kb_now_ms() + p->timeout_ms;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd fds[2] = {{.fd = in[1], .events = POLLOUT}, {.fd = err[0], .events = POLLIN}};
            w = wait_for(p, fds, err_open ? 2 : 1, deadline);
            if (w != WAIT_READY) {
                write_errno = errno;
                break;
            }
            if (err_open && fds[1].revents) err_open = read_stderr(err[0], &out);
            continue;
        }
        if (n < 0 && errno == EPIPE) { /* lp stopped reading: its exit status says why */
            take_sigpipe();
            break;
        }
        w = WAIT_FAILED;
        write_errno = n < 0 ? errno : EIO;
        break;
    }
    /* A job given up is killed before its stdin closes, so lp never sees an
     * end of input and never queues part of a ticket. */
    if (w != WAIT_READY) kill(pid, SIGKILL);
    close(in[1]);
    int status = 0, finished = 0;
    if (w == WAIT_READY) {
        w = lp_wait(p, pid, err[0], &out, kb_now_ms() + p->timeout_ms, &status);
        write_errno = errno;
        if (w == WAIT_READY) finished = 1;
        else if (w != LP_LOST) kill(pid, SIGKILL);
    }
    close(err[0]);
    if (!finished) {
        while (w != LP_LOST && waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        errno = write_errno;
        if (w == LP_LOST)
            fail(j, sent > 0, "lp -d %s: lost track of lp (%s)", queue, errno_text(write_errno, e, sizeof e));
        else if (w == WAIT_TIMEOUT && sent < j->len)
            fail(j, sent > 0, "lp -d %s: timed out after %g s with %zu of %zu bytes taken (lp killed)", queue,
                 seconds(p), sent, j->len);
        else if (w == WAIT_TIMEOUT)
            fail(j, sent > 0, "lp -d %s: did not finish within %g s of taking all %zu bytes (lp killed)", queue,
                 seconds(p), j->len);
        else if (w == WAIT_FAILED && sent < j->len)
            fail(j, sent > 0, "lp -d %s: cannot write to lp (%s)", queue, errno_text(write_errno, e, sizeof e));
        else fail_wait(j, w, sent > 0, where);
        return;
    }
    const char *sep = out.len ? ": " : "";
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) fail(j, 0, LP_MISSING);
    else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        fail(j, 0, "lp -d %s failed (exit %d)%s%s", queue, WEXITSTATUS(status), sep, out.line);
    else if (WIFSIGNALED(status))
        fail(j, sent > 0, "lp -d %s failed (killed by signal %d)%s%s", queue, WTERMSIG(status), sep, out.line);
    else if (sent < j->len)
        fail(j, sent > 0, "lp -d %s exited after taking %zu of %zu bytes", queue, sent, j->len);
    else {
        j->ok = 1;
        j->wrote_any = j->len > 0;
    }
}

/* ---- CUPS's own queue (lpstat) ----------------------------------------- */

/* lpstat's environment: ours with LC_ALL=C, so its words ("disabled") are
 * the ones looked for below. NULL if out of memory; free() the array only. */
static char **c_locale_env(void)
{
    static char c_all[] = "LC_ALL=C";
    size_t n = 0;
    while (environ[n]) n++;
    char **env = malloc((n + 2) * sizeof *env);
    if (!env) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "LC_ALL=", 7) != 0) env[k++] = environ[i];
    env[k++] = c_all;
    env[k] = NULL;
    return env;
}

/* Runs `lpstat <flag> <queue>` with its stdout into out (cap bytes, NUL-
 * terminated; more is read and dropped), bounded by the pool's timeout.
 * 0, or -1 with the job failed saying why. */
static int run_lpstat(const printer_pool *p, pp_job *j, const char *path, char *flag, char *out, size_t cap)
{
    char e[96], name[] = "lpstat";
    char *argv[] = {name, flag, j->text, NULL};
    int fds[2][2] = {{-1, -1}, {-1, -1}}; /* stdout, stderr */
    int made = pipe2(fds[0], O_CLOEXEC) == 0 && pipe2(fds[1], O_CLOEXEC) == 0 &&
               fcntl(fds[0][0], F_SETFL, O_NONBLOCK) == 0 && fcntl(fds[1][0], F_SETFL, O_NONBLOCK) == 0;
    char **env = made ? c_locale_env() : NULL;
    pid_t pid = -1;
    int rc = env ? tool_spawn(&pid, path, argv, env, -1, fds[0][1], fds[1][1]) : ENOMEM;
    free(env);
    for (int i = 0; i < 2; i++)
        if (fds[i][1] >= 0) close(fds[i][1]);
    if (!made || rc != 0) {
        for (int i = 0; i < 2; i++)
            if (fds[i][0] >= 0) close(fds[i][0]);
        return fail(j, 0, "cannot start lpstat %s %s (%s)", flag, j->text, errno_text(made ? rc : errno, e, sizeof e));
    }
    lp_stderr err = {.len = 0};
    size_t len = 0;
    int out_open = 1, w = WAIT_READY, status = 0;
    double deadline = kb_now_ms() + p->timeout_ms;
    while (out_open && w == WAIT_READY) {
        struct pollfd pf = {.fd = fds[0][0], .events = POLLIN};
        w = wait_for(p, &pf, 1, deadline);
        if (w != WAIT_READY) break;
        char buf[1024];
        ssize_t n = read(fds[0][0], buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) {
            out_open = 0;
            break;
        }
        size_t keep = len + (size_t)n < cap ? (size_t)n : cap - 1 - len;
        memcpy(out + len, buf, keep);
        len += keep;
    }
    out[len] = '\0';
    if (w == WAIT_READY) w = lp_wait(p, pid, fds[1][0], &err, deadline, &status);
    close(fds[0][0]);
    close(fds[1][0]);
    if (w != WAIT_READY) {
        if (w != LP_LOST) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
        }
        if (w == WAIT_TIMEOUT) return fail(j, 0, "lpstat %s %s: no answer within %g s", flag, j->text, seconds(p));
        return fail_wait(j, w, 0, "lpstat");
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return fail(j, 0, "lpstat %s %s failed%s%s", flag, j->text, err.len ? ": " : "", err.line);
    return 0;
}

/* What CUPS holds of the job's queue: `lpstat -o queue` lists the jobs not
 * completed ("kitchen1-5  root  1024  Fri ..."), one a line; when there are
 * any, `lpstat -p queue` says why in its first indented line, and whether
 * CUPS has disabled the queue (its error policy, after a backend failure). */
static void run_probe(const printer_pool *p, pp_job *j)
{
    char path[PATH_MAX], jobs[4096], state[1024], o[] = "-o", pf[] = "-p";
    if (check_queue(j) != 0) return;
    if (find_tool("lpstat", path, sizeof path) != 0) {
        fail(j, 0, LP_MISSING);
        return;
    }
    if (run_lpstat(p, j, path, o, jobs, sizeof jobs) != 0) return;
    size_t ql = strlen(j->text);
    long oldest = -1;
    for (const char *line = jobs; *line;) {
        const char *end = strchr(line, '\n');
        char *num_end = NULL;
        long id = strncmp(line, j->text, ql) == 0 && line[ql] == '-' ? strtol(line + ql + 1, &num_end, 10) : -1;
        if (id > 0 && num_end && (*num_end == ' ' || *num_end == '\t')) {
            j->waiting++;
            if (oldest < 0 || id < oldest) oldest = id;
        }
        if (!end) break;
        line = end + 1;
    }
    j->ok = 1;
    if (!j->waiting) return;
    snprintf(j->oldest, sizeof j->oldest, "%s-%ld", j->text, oldest);
    if (run_lpstat(p, j, path, pf, state, sizeof state) != 0) {
        j->ok = 1; /* the count stands; the message is why lpstat -p failed */
        return;
    }
    const char *why = strchr(state, '\t');
    char reason[200] = "";
    if (why) {
        size_t n = strcspn(why + 1, "\n");
        printable(reason, n + 1 < sizeof reason ? n + 1 : sizeof reason, why + 1);
    }
    const char *first_end = strchr(state, '\n');
    size_t first_len = first_end ? (size_t)(first_end - state) : strlen(state);
    if (memmem(state, first_len, " disabled", 9))
        snprintf(j->error, sizeof j->error, "CUPS has stopped the queue (cupsenable %s starts it again)%s%s", j->text,
                 reason[0] ? ": " : "", reason);
    else
        snprintf(j->error, sizeof j->error, "%s", reason);
}

/* ---- the workers ------------------------------------------------------- */

static void *worker_main(void *arg)
{
    pp_worker *w = arg;
    printer_pool *p = w->pool;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stopping && !w->slot) pthread_cond_wait(&w->wake, &p->mu);
        if (p->stopping) break;
        pp_job *j = w->slot;
        w->slot = NULL;
        pthread_mutex_unlock(&p->mu);

        if (j->is_probe) run_probe(p, j);
        else if (j->is_cups) run_cups(p, j);
        else run_tcp(p, j);
        free(j->bytes);
        j->bytes = NULL;

        pthread_mutex_lock(&p->mu);
        if (p->stopping) {
            free(j); /* dropped: printer_pool_free makes no done calls */
            break;
        }
        *p->finished_tail = j;
        p->finished_tail = &j->next;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static pp_worker *find_worker(const printer_pool *p, const char *key)
{
    for (pp_worker *w = p->workers; w; w = w->next)
        if (strcmp(w->key, key) == 0) return w;
    return NULL;
}

/* A worker for `key` (checked by the caller), its thread started with every
 * signal blocked. NULL if out of memory or the thread cannot start. */
static pp_worker *start_worker(printer_pool *p, const char *key)
{
    pp_worker *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->pool = p;
    snprintf(w->key, sizeof w->key, "%s", key);
    if (pthread_cond_init(&w->wake, NULL) != 0) {
        free(w);
        return NULL;
    }
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&w->thread, NULL, worker_main, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        pthread_cond_destroy(&w->wake);
        free(w);
        return NULL;
    }
    w->next = p->workers;
    p->workers = w;
    return w;
}

/* ---- the API ----------------------------------------------------------- */

printer_pool *printer_pool_new(int timeout_ms, printer_done_fn done, void *ctx)
{
    if (timeout_ms <= 0 || !done) return NULL;
    printer_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        free(p);
        return NULL;
    }
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        close(fds[0]);
        close(fds[1]);
        free(p);
        return NULL;
    }
    p->stop_r = fds[0];
    p->stop_w = fds[1];
    p->timeout_ms = timeout_ms;
    p->done = done;
    p->ctx = ctx;
    p->finished_tail = &p->finished;
    return p;
}

/* printer_pool_send, and printer_pool_probe with is_probe = 1. */
static int hand(printer_pool *p, const char *key, const char *address, const char *cups, int64_t job,
                const unsigned char *bytes, size_t len, int is_probe)
{
    if (!p || !key || (!cups && !address) || (!bytes && len > 0)) return -1;
    size_t kl = strlen(key);
    if (kl == 0 || kl > PRINTER_KEY_MAX) return -1;
    pp_worker *w = find_worker(p, key);
    if (w && w->in_flight) return -1;

    const char *text = cups ? cups : address;
    size_t tl = strlen(text);
    pp_job *j = calloc(1, sizeof *j + tl + 1);
    if (!j) return -1;
    j->bytes = malloc(len ? len : 1);
    if (!j->bytes) {
        free(j);
        return -1;
    }
    if (len) memcpy(j->bytes, bytes, len);
    j->len = len;
    j->id = job;
    j->is_cups = cups != NULL;
    j->is_probe = is_probe;
    memcpy(j->text, text, tl + 1);
    if (!w) w = start_worker(p, key);
    if (!w) {
        free(j->bytes);
        free(j);
        return -1;
    }
    j->worker = w;

    pthread_mutex_lock(&p->mu);
    w->slot = j;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&p->mu);
    w->in_flight = 1;
    return 0;
}

void printer_pool_on_probed(printer_pool *p, printer_probed_fn probed)
{
    if (p) p->probed = probed;
}

int printer_pool_send(printer_pool *p, const char *key, const char *address, const char *cups, int64_t job,
                      const unsigned char *bytes, size_t len)
{
    return hand(p, key, address, cups, job, bytes, len, 0);
}

int printer_pool_probe(printer_pool *p, const char *key, const char *cups)
{
    if (!p || !p->probed || !cups) return -1;
    return hand(p, key, NULL, cups, 0, NULL, 0, 1);
}

int printer_pool_busy(const printer_pool *p, const char *key)
{
    if (!p || !key) return 0;
    const pp_worker *w = find_worker(p, key);
    return w && w->in_flight;
}

void printer_pool_drain(printer_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    pp_job *list = p->finished;
    p->finished = NULL;
    p->finished_tail = &p->finished;
    pthread_mutex_unlock(&p->mu);
    while (list) {
        pp_job *j = list;
        list = j->next;
        j->worker->in_flight = 0; /* first: done may hand the key its next job */
        if (j->is_probe) p->probed(p->ctx, j->worker->key, j->ok, j->waiting, j->oldest, j->error);
        else p->done(p->ctx, j->worker->key, j->id, j->ok, j->wrote_any, j->ok ? "" : j->error);
        free(j);
    }
}

void printer_pool_free(printer_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    for (pp_worker *w = p->workers; w; w = w->next) pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&p->mu);
    /* Wakes every wait in every worker, for good (see the top). The pipe is
     * empty, so this cannot block. */
    while (write(p->stop_w, "x", 1) < 0 && errno == EINTR) {
    }
    for (pp_worker *w = p->workers; w; w = w->next) pthread_join(w->thread, NULL);
    /* The threads are gone: nothing below races. */
    while (p->workers) {
        pp_worker *w = p->workers;
        p->workers = w->next;
        if (w->slot) {
            free(w->slot->bytes);
            free(w->slot);
        }
        pthread_cond_destroy(&w->wake);
        free(w);
    }
    while (p->finished) {
        pp_job *j = p->finished;
        p->finished = j->next;
        free(j);
    }
    pthread_mutex_destroy(&p->mu);
    close(p->stop_r);
    close(p->stop_w);
    free(p);
}
