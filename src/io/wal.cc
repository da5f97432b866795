#include "io/wal.h"

#include <algorithm>
#include <cstring>

#include "core/checksum.h"
#include "io/paged_file.h"

namespace vx {
namespace {

constexpr uint32_t kWalMagic = 0x4C415756;  // "VWAL"
constexpr uint16_t kWalVersion = 1;
// magic u32, version u16, reserved u16, first LSN u64, reserved u64, checksum u64
constexpr size_t kFileHeaderSize = 32;
// LSN u64, payload bytes u32, type u16, reserved u16, payload check u32, header check u32
constexpr size_t kRecordHeaderSize = 24;
constexpr size_t kReadChunk = 1 << 20;

template <class T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class T>
void Store(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof v);
}

uint32_t Low32(uint64_t v) { return static_cast<uint32_t>(v); }

std::vector<uint8_t> FileHeader(uint64_t first_lsn) {
  std::vector<uint8_t> h(kFileHeaderSize, 0);
  Store(h.data(), kWalMagic);
  Store(h.data() + 4, kWalVersion);
  Store(h.data() + 8, first_lsn);
  Store(h.data() + 24, Checksum(h.data(), 24));
  return h;
}

void EncodeRecord(uint64_t lsn, uint16_t type, std::span<const uint8_t> payload, std::vector<uint8_t>* out) {
  const size_t at = out->size();
  out->resize(at + kRecordHeaderSize + payload.size());
  uint8_t* h = out->data() + at;
  Store(h, lsn);
  Store(h + 8, static_cast<uint32_t>(payload.size()));
  Store(h + 12, type);
  Store(h + 14, uint16_t{0});
  Store(h + 16, Low32(Checksum(payload.data(), payload.size())));
  Store(h + 20, Low32(Checksum(h, 20)));
  if (!payload.empty()) std::memcpy(h + kRecordHeaderSize, payload.data(), payload.size());
}

// Sequential reads of a file through one buffer.
class ChunkReader {
 public:
  ChunkReader(File* f, uint64_t size) : f_(f), size_(size) {}
  // The n bytes at offset (offset + n <= size), valid until the next call.
  Result<const uint8_t*> Get(uint64_t offset, size_t n) {
    if (offset < start_ || offset + n > start_ + buf_.size()) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(std::max(n, kReadChunk), size_ - offset));
      buf_.resize(want);
      size_t got = 0;
      VX_RETURN_IF_ERROR(f_->Read(offset, want, buf_.data(), &got));
      if (got < n) return Status::IOError(f_->path() + ": short read at offset " + std::to_string(offset));
      buf_.resize(got);
      start_ = offset;
    }
    return buf_.data() + (offset - start_);
  }
  // Whether every byte from offset to the end is zero.
  Result<bool> ZeroToEnd(uint64_t offset) {
    for (uint64_t at = offset; at < size_;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kReadChunk, size_ - at));
      VX_ASSIGN_OR_RETURN(const uint8_t* p, Get(at, n));
      if (std::any_of(p, p + n, [](uint8_t b) { return b != 0; })) return false;
      at += n;
    }
    return true;
  }

 private:
  File* f_;
  uint64_t size_;
  uint64_t start_ = 0;
  std::vector<uint8_t> buf_;
};

// A new log of only its header, for `first_lsn`, replacing `path` atomically.
Status WriteEmptyLog(Env* env, const std::string& path, uint64_t first_lsn) {
  const std::vector<uint8_t> header = FileHeader(first_lsn);
  return ReplaceWholeFile(env, path, header.data(), header.size());
}

// Reads the log in `f` (`size` bytes), passing each whole record to
// `replay`; *r gets what it found (r->bytes: where the whole records end).
Status Scan(File* f, uint64_t size, const std::string& path, const Wal::ReplayFn& replay, WalReplay* r) {
  ChunkReader in(f, size);
  const auto corrupt = [&](uint64_t offset, const std::string& what) {
    return Status::Corruption(path + ": WAL " + what + " at offset " + std::to_string(offset) + " of " +
                              std::to_string(size) + " bytes");
  };
  // The header is written whole and renamed into place: any damage is corruption.
  if (size < kFileHeaderSize) return corrupt(0, "header cut short");
  VX_ASSIGN_OR_RETURN(const uint8_t* h, in.Get(0, kFileHeaderSize));
  if (Load<uint32_t>(h) != kWalMagic) return corrupt(0, "magic number wrong (not a vx WAL)");
  if (Load<uint64_t>(h + 24) != Checksum(h, 24)) return corrupt(0, "header checksum mismatch");
  if (Load<uint16_t>(h + 4) != kWalVersion) {
    return Status::NotSupported(path + ": WAL format version " + std::to_string(Load<uint16_t>(h + 4)) +
                                " (this vx reads " + std::to_string(kWalVersion) + ")");
  }
  r->first_lsn = Load<uint64_t>(h + 8);
  uint64_t lsn = r->first_lsn;
  uint64_t at = kFileHeaderSize;
  while (at < size) {
    if (size - at < kRecordHeaderSize) break;  // a header cut short: torn tail
    VX_ASSIGN_OR_RETURN(const uint8_t* rh, in.Get(at, kRecordHeaderSize));
    if (Load<uint32_t>(rh + 20) != Low32(Checksum(rh, 20))) {
      VX_ASSIGN_OR_RETURN(const bool zeros, in.ZeroToEnd(at));
      if (zeros) break;  // space the file system extended with zeros
      return corrupt(at, "record header checksum mismatch");
    }
    const uint64_t rec_lsn = Load<uint64_t>(rh);
    const uint32_t len = Load<uint32_t>(rh + 8);
    const uint16_t type = Load<uint16_t>(rh + 12);
    const uint32_t check = Load<uint32_t>(rh + 16);
    if (rec_lsn != lsn) {
      return corrupt(
          at, "record out of sequence (LSN " + std::to_string(rec_lsn) + ", expected " + std::to_string(lsn) + ")");
    }
    if (len > Wal::kMaxPayload || Load<uint16_t>(rh + 14) != 0) return corrupt(at, "record header malformed");
    const uint64_t end = at + kRecordHeaderSize + len;
    if (end > size) break;  // runs past the end: torn tail
    VX_ASSIGN_OR_RETURN(const uint8_t* payload, in.Get(at + kRecordHeaderSize, len));
    if (Low32(Checksum(payload, len)) != check) {
      if (end == size) break;  // the last record, torn
      return corrupt(at, "record (LSN " + std::to_string(rec_lsn) + ") payload checksum mismatch");
    }
    VX_RETURN_IF_ERROR(replay(WalRecord{rec_lsn, type, {payload, len}}));
    ++r->records;
    ++lsn;
    at = end;
  }
  r->bytes = at;
  r->cut_bytes = size - at;
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<Wal>> Wal::Open(Env* env, const std::string& path, const WalOptions& options,
                                       const ReplayFn& replay, WalReplay* found) {
  if (!env->FileExists(path)) VX_RETURN_IF_ERROR(WriteEmptyLog(env, path, options.first_lsn));
  std::unique_ptr<Wal> wal(new Wal(env, path, options));
  VX_ASSIGN_OR_RETURN(wal->file_, env->OpenFile(path, OpenOptions{.write = true}));
  File* f = wal->file_.get();
  VX_ASSIGN_OR_RETURN(const uint64_t size, f->Size());
  WalReplay r;
  VX_RETURN_IF_ERROR(Scan(f, size, path, replay, &r));
  if (r.cut_bytes > 0) {
    VX_RETURN_IF_ERROR(f->Truncate(r.bytes));
    VX_RETURN_IF_ERROR(f->Sync());
  }
  wal->next_lsn_ = r.first_lsn + r.records;
  wal->written_lsn_ = wal->durable_lsn_ = wal->next_lsn_ - 1;
  wal->end_ = r.bytes;
  if (found != nullptr) *found = r;
  return wal;
}

Result<std::unique_ptr<File>> Wal::OpenForRead(Env* env, const std::string& path) {
  if (!env->FileExists(path)) return std::unique_ptr<File>();
  return env->OpenFile(path, OpenOptions{});
}

Status Wal::Read(File* log, const std::string& path, const ReplayFn& replay, WalReplay* found) {
  WalReplay r;
  if (log != nullptr) {
    VX_ASSIGN_OR_RETURN(const uint64_t size, log->Size());
    VX_RETURN_IF_ERROR(Scan(log, size, path, replay, &r));
  }
  if (found != nullptr) *found = r;
  return Status::Ok();
}

Result<uint64_t> Wal::Append(uint16_t type, std::span<const uint8_t> payload) {
  VX_ASSIGN_OR_RETURN(const uint64_t lsn, Enqueue(type, payload));
  VX_RETURN_IF_ERROR(WaitAcknowledged(lsn));
  return lsn;
}

Result<uint64_t> Wal::Enqueue(uint16_t type, std::span<const uint8_t> payload) {
  if (payload.size() > kMaxPayload) {
    return Status::InvalidArgument(path_ + ": a WAL record of " + std::to_string(payload.size()) +
                                   " bytes is over the limit of " + std::to_string(kMaxPayload));
  }
  std::lock_guard lock(mu_);
  if (!failed_.ok()) return failed_;
  const uint64_t lsn = next_lsn_++;
  EncodeRecord(lsn, type, payload, &pending_);
  return lsn;
}

Status Wal::WaitAcknowledged(uint64_t lsn) {
  std::unique_lock lock(mu_);
  const bool sync = options_.sync_on_append;
  for (;;) {
    if ((sync ? durable_lsn_ : written_lsn_) >= lsn) return Status::Ok();
    if (!failed_.ok()) return failed_;
    if (!flushing_) {
      FlushLocked(lock, sync);
    } else {
      flushed_.wait(lock);
    }
  }
}

Status Wal::Sync() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (!failed_.ok()) return failed_;
    if (durable_lsn_ + 1 == next_lsn_) return Status::Ok();
    if (!flushing_) {
      FlushLocked(lock, true);
    } else {
      flushed_.wait(lock);
    }
  }
}

void Wal::FlushLocked(std::unique_lock<std::mutex>& lock, bool sync) {
  flushing_ = true;
  std::vector<uint8_t> batch;
  batch.swap(pending_);
  // Pending records are the newest: the last has the last LSN handed out.
  const uint64_t last = batch.empty() ? written_lsn_ : next_lsn_ - 1;
  const uint64_t offset = end_;
  lock.unlock();
  Status s = batch.empty() ? Status::Ok() : file_->Write(offset, batch.data(), batch.size());
  const bool synced = s.ok() && sync;
  if (synced) s = file_->Sync();
  lock.lock();
  if (s.ok()) {
    end_ += batch.size();
    written_lsn_ = last;
    if (synced) {
      durable_lsn_ = last;
      ++syncs_;
    }
  } else {
    failed_ = s.WithContext("the WAL stopped (no more writes; those acknowledged before are kept)");
  }
  flushing_ = false;
  flushed_.notify_all();
}

Status Wal::Reset() {
  std::unique_lock lock(mu_);
  flushed_.wait(lock, [&] { return !flushing_; });
  if (!failed_.ok()) return failed_;
  if (!pending_.empty()) {  // appenders woken by the last flush, not yet running
    FlushLocked(lock, true);
    if (!failed_.ok()) return failed_;
  }
  file_.reset();
  Status s = WriteEmptyLog(env_, path_, next_lsn_);
  if (s.ok()) {
    auto f = env_->OpenFile(path_, OpenOptions{.write = true});
    if (f.ok()) {
      file_ = std::move(*f);
    } else {
      s = f.status();
    }
  }
  if (!s.ok()) {
    failed_ = s.WithContext("the WAL stopped while emptying it (no more writes)");
    return failed_;
  }
  end_ = kFileHeaderSize;
  written_lsn_ = durable_lsn_ = next_lsn_ - 1;
  return Status::Ok();
}

uint64_t Wal::next_lsn() const {
  std::lock_guard lock(mu_);
  return next_lsn_;
}

uint64_t Wal::size_bytes() const {
  std::lock_guard lock(mu_);
  return end_ + pending_.size();
}

uint64_t Wal::syncs() const {
  std::lock_guard lock(mu_);
  return syncs_;
}

}  // namespace vx
