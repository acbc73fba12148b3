/* identity: placeholder until the module lands */
#include "identity.h"
