/* runtime: placeholder until the module lands */
#include "runtime.h"
