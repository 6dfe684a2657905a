/* journal_files.h - the one helper the C tests share for a journal on disk:
 * removing it with its WAL and shared-memory files. Include once. */
#ifndef KB_TESTS_JOURNAL_FILES_H
#define KB_TESTS_JOURNAL_FILES_H

#include <stdio.h>
#include <unistd.h>

/* Deletes the journal at `path` and its -wal and -shm files, if present. */
static void remove_db(const char *path)
{
    char side[1100];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

#endif
