// The IndexWriter of an index type that IndexBase serves: inserts into
// DeltaRows and deletes as tombstones, through the WAL, folded into rows
// and tombstones segments by Checkpoint.
#pragma once

#include <memory>

#include "index/index_base.h"

namespace vx {

// The writer of `index`, opened (not replayed) from the manifest read
// while holding `lock`, dir/LOCK.
Result<std::unique_ptr<IndexWriter>> OpenIndexWriter(std::unique_ptr<FileLock> lock, std::unique_ptr<IndexBase> index,
                                                     const WriterOptions& options);

}  // namespace vx
