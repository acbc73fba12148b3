/* netaddr: placeholder until the module lands */
#include "netaddr.h"
