/*
 * ddlcoord: coordinate shard DDL (the pessimistic shard-DDL lock protocol of
 * TiDB Data Migration) over a pluggable, revisioned key-value store.
 *
 * This umbrella header pulls in the whole public API.
 */
#ifndef DDLCOORD_H
#define DDLCOORD_H

#define DDLCOORD_VERSION_MAJOR 0
#define DDLCOORD_VERSION_MINOR 1
#define DDLCOORD_VERSION_PATCH 0
#define DDLCOORD_VERSION       "0.1.0"

#include "error.h"
#include "log.h"
#include "config.h"
#include "store.h"
#include "mem.h"
#include "pessimism.h"
#include "election.h"
#include "version.h"
#include "stats.h"

#endif
