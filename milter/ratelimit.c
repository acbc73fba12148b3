/* ratelimit: placeholder until the module lands */
#include "ratelimit.h"
