"""vx: vector search over sets larger than RAM (HNSW and IVF on NVMe).

    import vx
    vx.build("idx", vectors)                 # 2-D numpy array or a vector file
    index = vx.open("idx", memory_mb=64)
    D, I = index.search(queries, k=10)       # float32 distances, int64 keys
    w = vx.open_writer("idx")                # searches too, and sees its writes
    w.insert(keys, vectors); w.upsert(keys, vectors); w.delete(keys); w.checkpoint()
    vx.reindex("idx")                        # rebuild from the live rows (REINDEX)

Errors: ValueError (bad arguments), FileNotFoundError, OSError (I/O, no
space), MemoryError (a budget exceeded), vx.CorruptionError, vx.BusyError,
vx.CancelledError; all carry vx's message.
"""
from ._vx import (BusyError, CancelledError, CorruptionError, Error, Index,
                  __version__, build, open, open_writer, reindex, restore, snapshot,
                  verify)

__all__ = ["build", "open", "open_writer", "reindex", "verify", "snapshot", "restore", "Index", "Error",
           "CorruptionError", "BusyError", "CancelledError", "__version__"]
