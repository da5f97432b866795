// A file of the io layer that includes vx/index.h, above or beside it: must not compile.
#include "vx/index.h"
