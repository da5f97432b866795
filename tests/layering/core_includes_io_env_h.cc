// A file of the core layer that includes io/env.h, above or beside it: must not compile.
#include "io/env.h"
