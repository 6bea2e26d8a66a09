#ifndef AGENTHOST_CSODIUM_SHIM_H
#define AGENTHOST_CSODIUM_SHIM_H
#include <sodium.h>
#endif
