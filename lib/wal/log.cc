// The public Log methods: Open (validate options, recover, start the writer)
// and thin forwarding to Log::Impl, whose parts live in the log_*.cc files
// listed in lib/wal/log_internal.h.
#include "lib/wal/log.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/util/status_macros.h"
#include "lib/wal/log_internal.h"

namespace kmend::wal {

using log_internal::Task;
using log_internal::TaskKind;

Log::Log(std::string dir) : dir_(std::move(dir)) {}

Log::~Log() {
  absl::Status st = Close();
  (void)st;  // nowhere to report it; callers who care call Close() themselves
}

absl::StatusOr<std::unique_ptr<Log>> Log::Open(const std::string& dir, const LogOptions& options) {
  if (options.compression != kmend::ZSTD && options.compression != kmend::LZ4 &&
      options.compression != kmend::NO_COMPRESSION) {
    return absl::InvalidArgumentError(
        absl::StrCat("WAL codec must be ZSTD, LZ4 or NO_COMPRESSION, got ",
                     kmend::CompressionType_Name(options.compression)));
  }
  std::unique_ptr<Log> log(new Log(dir));
  log->impl_ = std::make_unique<Impl>(dir, options);
  RETURN_IF_ERROR(log->impl_->Recover(&log->recovery_));
  log->impl_->Start();
  return log;
}

absl::Status Log::Append(absl::Span<const consensus::ReplicateMsg> entries) {
  return impl_->Append(entries);
}

absl::Status Log::Write(absl::Span<const consensus::ReplicateMsg> entries) {
  return impl_->Append(entries, /*sync=*/false);
}

absl::Status Log::Sync() { return impl_->Sync(); }

void Log::AppendAsync(absl::Span<const consensus::ReplicateMsg> entries, AppendCallback done) {
  impl_->AppendAsync(entries, std::move(done));
}

Log::Reservation& Log::Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    if (impl_ != nullptr) impl_->Abandon(static_cast<Task*>(task_));
    impl_ = other.impl_;
    task_ = other.task_;
    other.impl_ = nullptr;
    other.task_ = nullptr;
  }
  return *this;
}

Log::Reservation::~Reservation() {
  if (impl_ != nullptr) impl_->Abandon(static_cast<Task*>(task_));
}

absl::StatusOr<Log::Reservation> Log::Reserve(absl::Span<const consensus::ReplicateMsg> entries) {
  ASSIGN_OR_RETURN(Task * task, impl_->Reserve(entries));
  Reservation r;
  r.impl_ = impl_.get();
  r.task_ = task;
  return r;
}

void Log::Fill(Reservation reservation, absl::Span<const consensus::ReplicateMsg> entries,
               AppendCallback done) {
  if (reservation.impl_ == nullptr) {
    done(absl::InvalidArgumentError("Fill of an empty reservation"));
    return;
  }
  Task* task = static_cast<Task*>(reservation.task_);
  reservation.impl_ = nullptr;  // consumed: the destructor must not abandon it
  impl_->Fill(task, entries, std::move(done));
}

absl::StatusOr<std::vector<consensus::ReplicateMsg>> Log::ReadEntries(int64_t from_index,
                                                                      int64_t to_index,
                                                                      uint64_t max_bytes) const {
  return impl_->ReadEntries(from_index, to_index, max_bytes);
}

consensus::OpId Log::LastOpId() const { return impl_->LastOpId(); }
int64_t Log::LastQueuedIndex() const { return impl_->LastQueuedIndex(); }
int64_t Log::FirstIndex() const { return impl_->FirstIndex(); }
int Log::NumSegments() const { return impl_->NumSegments(); }
absl::StatusOr<EntryLocation> Log::Locate(int64_t index) const { return impl_->Locate(index); }

absl::Status Log::TruncateAfter(int64_t index) {
  return impl_->RunControl(TaskKind::kTruncate, index).status();
}

absl::StatusOr<int> Log::GarbageCollect(int64_t retention_index) {
  if (!impl_->MayCollect(retention_index)) return 0;
  return impl_->RunControl(TaskKind::kGc, retention_index);
}

absl::Status Log::Close() {
  if (impl_ == nullptr || !impl_->running()) return absl::OkStatus();
  absl::StatusOr<int> r = impl_->RunControl(TaskKind::kClose, 0);
  impl_->Join();
  return r.status();
}

Log::Stats Log::stats() const { return impl_->stats(); }

}  // namespace kmend::wal
