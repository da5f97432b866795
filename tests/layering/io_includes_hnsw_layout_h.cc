// A file of the io layer that includes hnsw/layout.h, above or beside it: must not compile.
#include "hnsw/layout.h"
