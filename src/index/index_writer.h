// The IndexWriter of an index type that IndexBase serves: inserts into
// DeltaRows and deletes as tombstones, through the WAL, folded into rows
// and tombstones segments by Checkpoint; Reindex rebuilds it while writes
// and searches go on.
#pragma once

#include <functional>
#include <memory>

#include "index/build.h"
#include "index/index_base.h"

namespace vx {

// What a writer's Reindex needs from the layer above: the build of a new
// generation of the index's directory, committed as `commit` says, and the
// open of the generation the manifest names (as the writer was opened).
struct WriterServices {
  std::function<Status(VectorSource& source, const BuildOptions& options, const BuildCommit& commit)> build;
  std::function<Result<std::unique_ptr<IndexBase>>()> open;
};

// The writer of `index`, opened (not replayed) from the manifest read
// while holding `lock`, dir/LOCK.
Result<std::unique_ptr<IndexWriter>> OpenIndexWriter(std::unique_ptr<FileLock> lock, std::unique_ptr<IndexBase> index,
                                                     const WriterOptions& options, WriterServices services);

}  // namespace vx
