#ifndef CSPEEXDSP_SHIM_H
#define CSPEEXDSP_SHIM_H
#include <speex/speex_resampler.h>
#endif
