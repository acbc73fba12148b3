/* facts: placeholder until the module lands */
#include "facts.h"
