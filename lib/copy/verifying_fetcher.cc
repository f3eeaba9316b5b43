#include "lib/copy/verifying_fetcher.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/copy/copy_limits.h"
#include "lib/format/crc32c.h"
#include "lib/rpc/status_payloads.h"
#include "lib/util/status_macros.h"

namespace kmend::copy {

VerifyingFetcher::VerifyingFetcher(ChunkSource* source, std::vector<ItemSpec> plan,
                                   FetcherOptions options)
    : source_(source), plan_(std::move(plan)), options_(std::move(options)) {
  thread_ = std::thread([this] { Run(); });
}

VerifyingFetcher::~VerifyingFetcher() {
  {
    absl::MutexLock l(&mu_);
    cancelled_ = true;
  }
  source_->CancelFetch();
  thread_.join();
}

std::string VerifyingFetcher::ItemWhat(size_t item) const {
  return absl::StrCat(options_.what, ": ", plan_[item].name);
}

void VerifyingFetcher::Run() {
  const size_t depth = static_cast<size_t>(std::max(1, options_.depth));
  auto push = [this](absl::StatusOr<Chunk> r) {
    absl::MutexLock l(&mu_);
    queue_.push_back(std::move(r));
  };
  for (size_t i = 0; i < plan_.size(); ++i) {
    const uint64_t size = static_cast<uint64_t>(std::max<int64_t>(0, plan_[i].size_bytes));
    uint64_t offset = plan_[i].start_offset;
    bool stop = false;
    while (offset < size) {
      {
        absl::MutexLock l(&mu_);
        // Room in the queue, or cancelled.
        auto ready = [this, depth]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return cancelled_ || queue_.size() < depth;
        };
        mu_.Await(absl::Condition(&ready));
        if (cancelled_) {
          stop = true;
          break;
        }
      }
      absl::StatusOr<Chunk> chunk = source_->FetchChunk(i, offset, options_.chunk_size_bytes);
      if (!chunk.ok()) {
        push(chunk.status());
        stop = true;
        break;
      }
      const uint64_t len = chunk->data.size();
      push(std::move(chunk));
      if (len == 0) {  // the consumer rejects it; nothing sane follows
        stop = true;
        break;
      }
      offset += len;
    }
    if (stop) break;
  }
  absl::MutexLock l(&mu_);
  done_ = true;
}

absl::StatusOr<Chunk> VerifyingFetcher::Next() {
  absl::MutexLock l(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || done_; };
  mu_.Await(absl::Condition(&ready));
  if (queue_.empty()) {
    return absl::InternalError(
        absl::StrCat(options_.what, ": chunk fetcher ended before the plan was consumed"));
  }
  absl::StatusOr<Chunk> r = std::move(queue_.front());
  queue_.pop_front();
  return r;
}

absl::Status VerifyingFetcher::FetchItem(size_t item, ChunkSink* sink) {
  if (!failed_.ok()) return failed_;
  if (item != next_item_ || item >= plan_.size()) {
    return absl::FailedPreconditionError(absl::StrCat(
        options_.what, ": items are fetched in plan order: asked for item ", item,
        ", expected ", next_item_, " of ", plan_.size()));
  }
  ++next_item_;
  const ItemSpec& spec = plan_[item];
  const std::string what = ItemWhat(item);
  const uint64_t size = static_cast<uint64_t>(spec.size_bytes);
  absl::Status s = [&]() -> absl::Status {
    uint32_t whole_crc = spec.start_crc32c;
    uint64_t offset = spec.start_offset;
    while (offset < size) {
      if (options_.test_crash_after_chunks >= 0 && chunks_ >= options_.test_crash_after_chunks) {
        return rpc::SimulatedCrashError(
            absl::StrCat(what, ": simulated crash after ", chunks_, " chunks"));
      }
      absl::StatusOr<Chunk> next = Next();
      if (!next.ok()) return Annotate(next.status(), options_.what);
      Chunk& chunk = *next;
      if (options_.test_mutate_chunk) options_.test_mutate_chunk(item, &chunk.data);
      const std::string& data = chunk.data;
      const std::string at = absl::StrCat(what, ": chunk at offset ", offset);
      if (chunk.offset != offset) {
        return absl::DataLossError(
            absl::StrCat(at, ": offset: expected ", offset, ", found ", chunk.offset));
      }
      if (chunk.total_size_bytes != spec.size_bytes) {
        return absl::DataLossError(absl::StrCat(at, ": total size: expected ", spec.size_bytes,
                                                " (as announced), found ",
                                                chunk.total_size_bytes));
      }
      RETURN_IF_ERROR(CheckChunkLength(at, data.size(), options_.chunk_size_bytes));
      if (data.empty() || data.size() > size - offset) {
        return absl::DataLossError(absl::StrCat(at, ": data: expected 1..", size - offset,
                                                " bytes, found ", data.size()));
      }
      const uint32_t crc = crc32c::Value(data);
      if (crc != chunk.crc32c) {
        return absl::DataLossError(absl::StrFormat(
            "%s (%u bytes): crc mismatch (sent 0x%08x, computed 0x%08x)", at, data.size(),
            chunk.crc32c, crc));
      }
      whole_crc = crc32c::Extend(whole_crc, data.data(), data.size());
      RETURN_IF_ERROR(sink->Append(data));
      offset += data.size();
      ++chunks_;
      bytes_ += static_cast<int64_t>(data.size());
      if (options_.on_chunk) options_.on_chunk(item, data.size(), offset == size);
    }
    if (spec.crc32c && whole_crc != *spec.crc32c) {
      return absl::DataLossError(absl::StrFormat(
          "%s (%u bytes): whole-item crc mismatch (announced 0x%08x, computed 0x%08x)", what,
          size, *spec.crc32c, whole_crc));
    }
    return absl::OkStatus();
  }();
  if (!s.ok()) failed_ = s;
  return s;
}

}  // namespace kmend::copy
