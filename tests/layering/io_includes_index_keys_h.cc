// A file of the io layer that includes index/keys.h, above or beside it: must not compile.
#include "index/keys.h"
