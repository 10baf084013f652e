/*
 * DC_API marks every function of the public API. libddlcoord is compiled with
 * hidden visibility (-fvisibility=hidden) and DDLCOORD_BUILDING_LIBRARY, so
 * only the declarations marked here are exported from libddlcoord.so: a
 * program that defines a function with the same name as one of the library's
 * internal helpers cannot replace it (see docs/DESIGN.md, "Exported symbols").
 *
 * For a program that uses the library, DC_API expands to nothing.
 */
#ifndef DDLCOORD_EXPORT_H
#define DDLCOORD_EXPORT_H

#if defined(DDLCOORD_BUILDING_LIBRARY) && (defined(__GNUC__) || defined(__clang__))
#define DC_API __attribute__((visibility("default")))
#else
#define DC_API
#endif

#endif
