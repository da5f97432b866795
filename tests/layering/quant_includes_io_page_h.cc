// A file of the quant layer that includes io/page.h, above or beside it: must not compile.
#include "io/page.h"
