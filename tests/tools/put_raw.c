/*
 * dc_test_put_raw URI KEY VALUE: write one raw value through the store API.
 * The command tests use it to plant a corrupt Info where a worker would have
 * written a valid one (the ddlcoord command itself never writes raw values).
 */
#include <ddlcoord/ddlcoord.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: dc_test_put_raw URI KEY VALUE\n");
        return 2;
    }
    dc_store *s = NULL;
    int rc = dc_store_open(argv[1], &s);
    if (rc != DC_OK) {
        fprintf(stderr, "dc_test_put_raw: open %s: %s (%s)\n", argv[1], dc_strerror(rc),
                dc_last_error());
        return 3;
    }
    int64_t rev = 0;
    rc = dc_put(s, argv[2], strlen(argv[2]), argv[3], strlen(argv[3]), 0, &rev);
    if (rc != DC_OK)
        fprintf(stderr, "dc_test_put_raw: put: %s (%s)\n", dc_strerror(rc), dc_last_error());
    else
        printf("%lld\n", (long long)rev);
    dc_store_close(s);
    return rc == DC_OK ? 0 : 3;
}
