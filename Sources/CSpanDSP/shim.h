#ifndef CSPANDSP_SHIM_H
#define CSPANDSP_SHIM_H
// Only the in-band DTMF receiver of spandsp: <spandsp.h> itself pulls in libtiff for fax.
#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>
#include <spandsp/telephony.h>
#include <spandsp/logging.h>
#include <spandsp/complex.h>
#include <spandsp/tone_detect.h>
#include <spandsp/tone_generate.h>
#include <spandsp/super_tone_rx.h>
#include <spandsp/dtmf.h>
#endif
