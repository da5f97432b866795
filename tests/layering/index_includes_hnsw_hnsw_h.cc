// A file of the index layer that includes hnsw/hnsw.h, above or beside it: must not compile.
#include "hnsw/hnsw.h"
