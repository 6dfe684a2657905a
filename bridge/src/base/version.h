/* version.h - the bridge's version, as /health reports it. */
#ifndef KB_VERSION_H
#define KB_VERSION_H

#define KB_VERSION "0.1.0"

#endif
