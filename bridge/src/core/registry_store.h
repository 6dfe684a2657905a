/* registry_store.h - saving the registry file so that a crash at any moment
 * leaves the old file or the new one, never a torn one.
 *
 * registry_store_save(path, text): writes <path>.tmp, fsyncs it, gives it
 * the current file's mode (and its owner, when run as root), makes <path>.bak a hard link to the current file
 * (replacing an older .bak; a copy where links are not possible), renames
 * the tmp over <path>, and fsyncs the directory. Between the steps <path> is
 * always the old file, and after the rename the new one. Blocking: the file
 * is small and an admin's click is rare. */
#ifndef KB_REGISTRY_STORE_H
#define KB_REGISTRY_STORE_H

#include <stddef.h>

/* 0, or -1 with err naming the file and the cause (nothing is left but, at
 * worst, a stale .tmp, which the next save replaces). */
int registry_store_save(const char *path, const char *text, char *err, size_t errlen);
/* Reads the whole file (malloc'd, NUL-terminated, *len bytes), NULL with
 * err set if it cannot. */
char *registry_store_read(const char *path, size_t *len, char *err, size_t errlen);

#endif
