/* A public header as check-symbols.sh reads it, with the mistakes it must
 * catch: a DC_API function the library does not export, and a declaration
 * someone forgot to mark with DC_API. */
#ifndef DDLCOORD_BAD_H
#define DDLCOORD_BAD_H

#include "export.h"

DC_API int dc_declared(void);
DC_API int dc_declared_but_missing(void);
int dc_unmarked(void);

#endif
