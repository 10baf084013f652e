/* The same macro as core/include/ddlcoord/export.h, for bad.h. */
#ifndef DDLCOORD_EXPORT_H
#define DDLCOORD_EXPORT_H
#define DC_API __attribute__((visibility("default")))
#endif
