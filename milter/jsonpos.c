/* jsonpos: placeholder until the module lands */
#include "jsonpos.h"
