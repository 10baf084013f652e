/*
 * Fuzz target: INI configuration loading (core/store/config.c over inih):
 * the input is the file, handed over as an in-memory file (memfd). Every key
 * loaded is then read back as an integer, the way the drivers read theirs.
 */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <ddlcoord/ddlcoord.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) { /* errors are expected; their log lines are noise here */
        dc_log_set_level(DC_LOG_OFF);
        quiet = 1;
    }
    int fd = memfd_create("fuzz.ini", 0);
    if (fd < 0) return 0;
    if (size > 0 && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    dc_config *cfg = dc_config_new();
    if (cfg) {
        if (dc_config_load_file(cfg, path) == DC_OK) {
            for (int i = 0; i < dc_config_count(cfg); i++) {
                const char *k, *v;
                int64_t n;
                if (dc_config_entry(cfg, i, &k, &v) == DC_OK && k && v)
                    (void)dc_config_int(cfg, k, 0, INT64_MIN, INT64_MAX, &n);
            }
        }
        dc_config_free(cfg);
    }
    close(fd);
    return 0;
}
