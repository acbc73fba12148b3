/* rules: placeholder until the module lands */
#include "rules.h"
