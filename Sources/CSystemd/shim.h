#ifndef RUNBOOK_CSYSTEMD_SHIM_H
#define RUNBOOK_CSYSTEMD_SHIM_H

#include <systemd/sd-daemon.h>

// sd_notify is not variadic; sd_notifyf is, and is not needed.

#endif
