/* printer_pool.h - sends print jobs to the kitchen's printers without ever
 * blocking the bridge's event loop: network ESC/POS thermal printers (Epson
 * TM-T88 and compatibles) taking raw jobs on TCP (port 9100: one connection
 * per job, connect, write the bytes, close), and USB printers behind CUPS
 * (`lp -d <queue> -o raw`, the bytes on its stdin).
 *
 * One worker thread per printer key, each with a one-job slot: the loop hands
 * a job with printer_pool_send() and later collects its result with
 * printer_pool_drain(), which calls `done` on the loop's thread. A stalled or
 * unreachable printer ties up only its own worker, so one bad printer never
 * delays another. A worker is started on a key's first job and lives until
 * printer_pool_free().
 *
 * Invariants:
 *  - a key has at most one job in flight: from the printer_pool_send() that
 *    took it until the done call for it (printer_pool_busy() is 1 all that
 *    time; a send for a busy key is refused with -1);
 *  - every job that is taken gets exactly one done call, unless
 *    printer_pool_free() drops it first;
 *  - every wait of a worker (connect, writes, the printer's close, lp) is
 *    bounded by timeout_ms and wakes at once when the pool is freed. The one
 *    exception is the lookup of a printer given by host name (getaddrinfo
 *    cannot be interrupted; it is bounded by the resolver's own timeout):
 *    give printers IPv4 addresses.
 *
 * A TCP job is ok only once the printer has confirmed it: after the last
 * byte the worker shuts down its sending side and waits for the printer to
 * close its side (what CUPS's socket backend does). A printer that does not
 * close within timeout_ms fails the job, even if its TCP acknowledged every
 * byte: that says the bytes are in its buffer, not on paper.
 *
 * All the functions below are for one thread, the loop's; the pool's own
 * threads never call back into the caller. */
#ifndef KB_PRINTER_POOL_H
#define KB_PRINTER_POOL_H

#include <stddef.h>
#include <stdint.h>

/* The longest printer key, in characters. */
#define PRINTER_KEY_MAX 64

typedef struct printer_pool printer_pool;

/* A finished job. Called from printer_pool_drain(), on the thread that calls
 * it (the loop's), once per job, in the order the jobs finished; never from a
 * worker thread. `key` and `error` are borrowed for the call (copy them to
 * keep them). By the time it runs the key is no longer busy, so it may hand
 * that key its next job with printer_pool_send(); it must not call
 * printer_pool_drain() or printer_pool_free().
 *
 * ok=1: the printer took every byte (error is ""). ok=0: `error` says why in
 * one line for an operator, e.g. "192.168.1.50:9100: connection refused",
 * "192.168.1.50:9100: timed out after 5 s with 1200 of 5000 bytes taken",
 * "lp not found: install cups and give the printer a raw queue (docs/OUTLET-SETUP.md)".
 * wrote_any=1 if some bytes may have reached the printer (a reprint may then
 * print part of the ticket twice); 0 if none can have. */
typedef void (*printer_done_fn)(void *ctx, const char *key, int64_t job, int ok, int wrote_any, const char *error);

/* What CUPS still holds for a queue, the answer to printer_pool_probe():
 * `waiting` jobs not completed (0: none), the oldest one's id (e.g.
 * "kitchen1-5"; "" when none), and `message`, CUPS's word on the printer
 * ("The printer may not exist or is unavailable at this time.", or, when
 * CUPS has disabled the queue, "CUPS has stopped the queue (cupsenable
 * kitchen1 starts it again): ..."; may be ""). ok=0: lpstat could not say
 * (cupsd not running, lpstat missing); `message` then says why and waiting
 * is 0. Called like done (from printer_pool_drain(), on the loop's thread,
 * the key no longer busy); the strings are borrowed for the call. */
typedef void (*printer_probed_fn)(void *ctx, const char *key, int ok, int waiting, const char *oldest,
                                  const char *message);

/* A pool whose jobs give up after timeout_ms (> 0) of waiting: for the
 * connect, for each stretch without write progress, and for the printer's
 * close at the end (for CUPS: for each stretch without lp taking bytes, and
 * for lp's exit after the last one). `done` must not be NULL; `ctx` is
 * borrowed and passed to it. NULL if out of memory (or timeout_ms <= 0 or
 * done is NULL). */
printer_pool *printer_pool_new(int timeout_ms, printer_done_fn done, void *ctx);

/* Hands job `job` for printer `key` (1 to PRINTER_KEY_MAX characters; the
 * key's worker thread is started on its first job): to TCP `address`
 * ("host:port", host a name or an IPv4 address) when `cups` is NULL, else to
 * the CUPS queue `cups` (1-64 of [A-Za-z0-9_.-]; `address` is then unused
 * and may be NULL). Copies key, address, cups and the `len` bytes; borrows
 * nothing after it returns. A bad address or queue name is not refused here:
 * the job fails through done with an error saying so.
 *
 * 0 if the job was taken (done will be called for it); -1 if not, and
 * nothing changed: the key already has a job in flight (the caller sends one
 * job at a time per key), the key is empty or too long, an argument is NULL,
 * out of memory, or the key's thread cannot be started. */
int printer_pool_send(printer_pool *p, const char *key, const char *address, const char *cups, int64_t job,
                      const unsigned char *bytes, size_t len);

/* The answer to probes, called with the pool's ctx; NULL turns probes off
 * (the default). Set it before the first probe. */
void printer_pool_on_probed(printer_pool *p, printer_probed_fn probed);

/* Asks CUPS what it still holds of queue `cups`: `lpstat -o <cups>`, and
 * `lpstat -p <cups>` when it holds jobs, run by `key`'s worker with LC_ALL=C
 * and each bounded by timeout_ms. For a ticket CUPS has taken (its lp exited
 * 0) but not printed: a USB printer that is off or unplugged, or a queue CUPS
 * has stopped. A probe takes the key's one slot like a job: 0 if taken (the
 * probed call comes later; printer_pool_busy() is 1 until then), -1 as for
 * printer_pool_send(), or when no probed callback is set. */
int printer_pool_probe(printer_pool *p, const char *key, const char *cups);

/* 1 if `key` has a job in flight (taken, its done call not made yet), else 0. */
int printer_pool_busy(const printer_pool *p, const char *key);

/* Calls done for every job finished since the last call, in the order they
 * finished, on the calling thread. Never blocks on a printer (it takes the
 * pool's mutex only to take the list of finished jobs). Call it from the
 * loop, e.g. every tick. */
void printer_pool_drain(printer_pool *p);

/* Stops every worker promptly (within ~100 ms even if one is in the middle of
 * a stalled write, a connect or a wait for lp, which is killed; see above for
 * a host name lookup), joins the threads and frees everything. Jobs in flight,
 * and finished jobs not drained yet, are dropped without a done call. NULL is
 * fine. */
void printer_pool_free(printer_pool *p);

#endif
