/* strutil: placeholder until the module lands */
#include "strutil.h"
