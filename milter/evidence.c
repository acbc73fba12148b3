/* evidence: placeholder until the module lands */
#include "evidence.h"
