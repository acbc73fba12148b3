/* diag: placeholder until the module lands */
#include "diag.h"
