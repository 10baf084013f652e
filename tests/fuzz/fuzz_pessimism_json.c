/*
 * Fuzz target: the DM JSON codecs of core/pessimism, which read values
 * anyone with write access to the store can put there: info, operation,
 * resolution marker, conflict report, admin request and admin answer. Input:
 * a selector byte, a key (length byte + bytes), the value. A value that
 * decodes is encoded again and decoded once more (the round trip must
 * succeed).
 */
#include <stdlib.h>
#include <string.h>

#include <ddlcoord/ddlcoord.h>
#include <ddlcoord/pessimism_admin.h>

#include "admin.h"
#include "fuzz.h"
#include "pess.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned sel;
    char key[257];
    const uint8_t *val;
    size_t vlen;
    fz_split(data, size, &sel, key, &val, &vlen);
    char *json = NULL;
    switch (sel % 6) {
    case 0: {
        dc_info *in = NULL;
        if (dc_info_decode(key, val, vlen, &in) == DC_OK) {
            if (dc_info_encode(in, &json) == DC_OK) {
                dc_info *again = NULL;
                if (dc_info_decode(key, json, strlen(json), &again) != DC_OK) abort();
                dc_info_free(again);
            }
            dc_info_free(in);
        }
        break;
    }
    case 1: {
        dc_operation *op = NULL;
        if (dc_operation_decode(key, val, vlen, &op) == DC_OK) {
            if (dc_operation_encode(op, &json) == DC_OK) {
                dc_operation *again = NULL;
                if (dc_operation_decode(key, json, strlen(json), &again) != DC_OK) abort();
                dc_operation_free(again);
            }
            dc_operation_free(op);
        }
        break;
    }
    case 2: {
        pess_marker *mk = NULL;
        if (dcp_marker_decode(key, val, vlen, &mk) == DC_OK) {
            if (dcp_marker_encode(mk, &json) == DC_OK) {
                pess_marker *again = NULL;
                if (dcp_marker_decode(key, json, strlen(json), &again) != DC_OK) abort();
                dcp_marker_free(again);
            }
            dcp_marker_free(mk);
        }
        break;
    }
    case 3: {
        pess_conflict *c = NULL;
        if (dcp_conflict_decode(key, val, vlen, &c) == DC_OK) {
            if (dcp_conflict_encode(c, &json) == DC_OK) {
                pess_conflict *again = NULL;
                if (dcp_conflict_decode(key, json, strlen(json), &again) != DC_OK) abort();
                dcp_conflict_free(again);
            }
            dcp_conflict_free(c);
        }
        break;
    }
    case 4: {
        admin_req r = {0};
        if (dcp_admin_req_decode(key, val, vlen, &r) == DC_OK) {
            if (dcp_admin_req_encode(&r, &json) == DC_OK) {
                admin_req again = {0};
                if (dcp_admin_req_decode(key, json, strlen(json), &again) != DC_OK) abort();
                dcp_admin_req_clear(&again);
            }
        }
        dcp_admin_req_clear(&r);
        break;
    }
    default: {
        dc_admin_answer a = {0};
        if (dcp_admin_answer_decode(val, vlen, &a) == DC_OK) {
            if (dcp_admin_answer_encode(a.code, a.message, a.master, &json) == DC_OK) {
                dc_admin_answer again = {0};
                if (dcp_admin_answer_decode(json, strlen(json), &again) != DC_OK) abort();
                dc_admin_answer_clear(&again);
            }
        }
        dc_admin_answer_clear(&a);
        break;
    }
    }
    free(json);
    return 0;
}
