// A file of the hnsw layer that includes the layers below it: compiles.
#include "core/checksum.h"
#include "index/index_base.h"
#include "io/manifest.h"
#include "quant/quantizer.h"
#include "vx/index.h"
