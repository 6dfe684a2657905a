/* print_queue.h - the journaled queue of kitchen tickets (issue 18), a table
 * of its own (print_jobs) in the journal's file.
 *
 * A job is one ticket for one printer: which printer (its registry key,
 * "<tenant>" or "<tenant>/<station>"), which order instance (tenant and
 * created_seq), what kind of ticket, and the order document to print as it
 * was when the job was made (a station's view for a station printer).
 *
 * Invariants:
 * - A job made because of an order change is written into the batch that
 *   writes the change (print_queue_add while the pipeline's batch is open),
 *   so it exists if and only if the change was committed.
 * - A job is handed to a printer only once it is committed (print_queue_next
 *   reads only when no batch is open), oldest first per printer, one at a
 *   time: tickets come out in the order their jobs were made.
 * - print_queue_started() durably counts an attempt before any byte is
 *   sent; a job whose attempts are > 0 when it is sent again (a printer that
 *   failed midway, or a bridge that died during the job) is printed marked
 *   REPRINT. print_queue_done() is called only after the printer took every
 *   byte; a done job is never handed out again. */
#ifndef KB_PRINT_QUEUE_H
#define KB_PRINT_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "journal.h"
#include "registry.h"

typedef enum {
    PRINT_JOB_NEW,         /* a new order */
    PRINT_JOB_CANCELLED,   /* an order that had a ticket (or no screen) was cancelled */
    PRINT_JOB_FROM_SCREEN, /* an open order of a screen that went off */
    PRINT_JOB_REPRINT,     /* a reprint asked for by a person */
    PRINT_JOB_TEST,        /* the admin page's test print */
} print_job_kind;

const char *print_job_kind_name(print_job_kind k);

typedef struct {
    int64_t id;
    char printer[REGISTRY_PRINTER_KEY_MAX + 1];
    char tenant[REGISTRY_ID_MAX + 1];
    int64_t created_seq; /* 0 for a test print */
    print_job_kind kind;
    int attempts;
    char *doc; /* malloc'd; the caller frees */
} print_job;

typedef struct print_queue print_queue;

/* Creates the table if the file has none. Borrows j. NULL on error, with
 * the reason in journal_last_error or "out of memory" in err. */
print_queue *print_queue_open(journal *j, char *err, size_t errlen);
void print_queue_free(print_queue *q);

/* Writes a job into the journal's open batch (opening one if none is), to
 * commit with it. 0, or -1. */
int print_queue_add(print_queue *q, const char *printer, const char *tenant, int64_t created_seq,
                    print_job_kind kind, const char *doc);
/* 1 if printer already has a ticket of the instance (a new, from-screen or
 * reprint job, done or not), 0 if not, -1 on error. */
int print_queue_has_ticket(print_queue *q, const char *printer, const char *tenant, int64_t created_seq);
/* The oldest job of printer not yet done: 1 (free out->doc), 0 none, -1
 * error or a batch is open (nothing committed can be told apart then). */
int print_queue_next(print_queue *q, const char *printer, print_job *out);
/* Counts an attempt of job id, committed at once; 0, or -1 (also when a
 * batch is open: try again later). */
int print_queue_started(print_queue *q, int64_t id);
/* Takes back the attempt of a job that reached no printer (a refused
 * connection): 0, or -1 as above (it then prints marked REPRINT). */
int print_queue_unstarted(print_queue *q, int64_t id);
/* Marks job id done, committed at once; 0, or -1 as above. */
int print_queue_done(print_queue *q, int64_t id);
/* How many jobs of printer are not done; -1 on error. */
int64_t print_queue_pending(print_queue *q, const char *printer);
#endif
