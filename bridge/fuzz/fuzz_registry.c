/* fuzz_registry.c - libFuzzer harness for the tenant registry parser. */
#include <stddef.h>
#include <stdint.h>

#include "registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    registry *r = NULL;
    char err[256];
    if (registry_parse((const char *)data, size, &r, err, sizeof err) == 0) {
        for (size_t i = 0; i < r->n_devices; i++) registry_find_device(r, r->devices[i].username);
        registry_free(r);
    }
    return 0;
}
