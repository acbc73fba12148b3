/* scope: placeholder until the module lands */
#include "scope.h"
