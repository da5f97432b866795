// A file of the hnsw layer that includes ivf/ivf.h, above or beside it: must not compile.
#include "ivf/ivf.h"
