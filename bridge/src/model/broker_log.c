/* broker_log.c - see broker_log.h. */
#include "broker_log.h"

#include <stdio.h>
#include <string.h>

#define MARK "New client connected from "
#define LINE_MAX_LEN 1024

int broker_log_connected(const char *line, size_t len, char *address, size_t address_len, char *username,
                         size_t username_len)
{
    char copy[LINE_MAX_LEN];
    if (len >= sizeof copy || address_len == 0 || username_len == 0) return 0;
    memcpy(copy, line, len);
    copy[len] = '\0';
    char *from = strstr(copy, MARK);
    if (!from) return 0;
    from += strlen(MARK);
    char *as = strstr(from, " as ");
    char *user = as ? strstr(as, " u'") : NULL;
    char *end = user ? strchr(user + 3, '\'') : NULL;
    if (!end) return 0;
    *as = '\0';
    char *port = strrchr(from, ':');
    if (port) *port = '\0';
    if (strncmp(from, "::ffff:", 7) == 0) from += 7;
    if (!from[0]) return 0;
    *end = '\0';
    snprintf(address, address_len, "%s", from);
    snprintf(username, username_len, "%s", user + 3);
    return username[0] != '\0';
}
