#ifndef CZLIB_SHIM_H
#define CZLIB_SHIM_H
#include <zlib.h>
static inline int CZlib_deflateInit(z_streamp s, int level) { return deflateInit(s, level); }
static inline int CZlib_inflateInit(z_streamp s) { return inflateInit(s); }
#endif
