/*
 * Compiled once into libddlcoord.so (DC_LINKAGE_SHARED=1) and once into
 * libddlcoord.a (0), while every other file of the core is compiled once for
 * both: the loader asks it whether the core runs as the shared library, whose
 * own directory tells where the driver plugins are (docs/DESIGN.md, "Finding
 * the driver plugins"). Its address also names the library's file (dladdr).
 */
#include "internal.h"

#ifndef DC_LINKAGE_SHARED
#error "DC_LINKAGE_SHARED must be 0 or 1 (core/CMakeLists.txt)"
#endif

const int dc__shared_library = DC_LINKAGE_SHARED;
