#include "lib/format/pb_container_verify.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "lib/format/pb_container.h"
#include "lib/io/file.h"

namespace kmend::pbc {

const char* StateName(VerifyResult::State state) {
  switch (state) {
    case VerifyResult::State::kOk:
      return "ok";
    case VerifyResult::State::kTornTail:
      return "torn_tail";
    case VerifyResult::State::kCorrupt:
      return "corrupt";
  }
  return "unknown";
}

absl::StatusOr<VerifyResult> VerifyFile(const std::string& path, bool parse_records) {
  VerifyResult result;
  result.path = path;
  auto corrupt = [&result](const absl::Status& s) {
    result.state = VerifyResult::State::kCorrupt;
    result.problem_offset = ErrorOffset(s).value_or(0);
    result.message = std::string(s.message());
    return result;
  };

  auto size = io::FileSize(path);
  if (!size.ok()) return size.status();
  result.file_size = *size;
  auto reader = Reader::Open(path);
  if (!reader.ok()) {
    if (reader.status().code() != absl::StatusCode::kDataLoss) return reader.status();
    return corrupt(reader.status());
  }
  Reader& r = **reader;
  result.version = r.version();
  result.pb_type = r.pb_type();

  std::unique_ptr<google::protobuf::Message> msg;
  if (parse_records) {
    auto m = r.NewEmbeddedMessage();
    if (!m.ok()) return corrupt(m.status());
    msg = std::move(*m);
  }
  std::string data;
  while (true) {
    auto next = r.ReadNext(&data);
    if (!next.ok()) {
      if (next.status().code() != absl::StatusCode::kDataLoss) return next.status();
      return corrupt(next.status());
    }
    if (*next == Reader::Next::kEnd) return result;
    if (*next == Reader::Next::kTornTail) {
      result.state = VerifyResult::State::kTornTail;
      result.problem_offset = r.record_offset();
      result.message = absl::StrCat("incomplete record at offset ", r.record_offset(),
                                    " (file ends at ", r.file_size(),
                                    "); a crash during an append");
      return result;
    }
    if (msg != nullptr) {
      absl::Status parsed = ParseRecord(path, r.record_offset(), data, msg.get());
      if (!parsed.ok()) return corrupt(parsed);
    }
    ++result.records;
  }
}

}  // namespace kmend::pbc
