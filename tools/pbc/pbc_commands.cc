// kmend-pbc: dump and verify PB container files (Kudu's and kmend's metadata
// files: consensus-meta, tablet-meta, instance, block container metadata).
// A thin front over lib/format; see docs/cli.md "pbc".
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "lib/format/pb_container.h"
#include "lib/format/pb_container_verify.h"
#include "tools/common/cli.h"

namespace kmend::tools {
namespace {

constexpr char kTool[] = "kmend-pbc";
constexpr int kSchemaVersion = 1;

int ExitCodeFor(const absl::Status& s) {
  return s.code() == absl::StatusCode::kDataLoss ? kExitProblems : kExitError;
}

// Dumps one file; returns its exit code. Records are printed as they are read,
// so the good prefix of a damaged file is still shown.
int DumpFile(const std::string& path, OutputFormat format, nlohmann::json* files) {
  nlohmann::json doc = {{"file", path}};
  auto finish = [&](const char* state, const std::string& message, uint64_t offset, int rc) {
    doc["state"] = state;
    if (!message.empty()) {
      doc["message"] = message;
      doc["problem_offset"] = offset;
    }
    if (format == OutputFormat::kJson) {
      files->push_back(std::move(doc));
    } else if (rc != kExitOk) {
      std::cerr << kTool << ": " << message << std::endl;
    }
    return rc;
  };
  auto reader = pbc::Reader::Open(path);
  if (!reader.ok()) {
    bool corrupt = reader.status().code() == absl::StatusCode::kDataLoss;
    return finish(corrupt ? "corrupt" : "error", std::string(reader.status().message()),
                  pbc::ErrorOffset(reader.status()).value_or(0), ExitCodeFor(reader.status()));
  }
  pbc::Reader& r = **reader;
  doc["version"] = r.version();
  doc["pb_type"] = r.pb_type();
  doc["records"] = nlohmann::json::array();
  if (format == OutputFormat::kPlain) {
    std::cout << "File: " << path << " (container v" << r.version() << ", pb_type "
              << r.pb_type() << ")" << std::endl;
  }
  auto msg = r.NewEmbeddedMessage();
  if (!msg.ok()) {
    return finish("corrupt", std::string(msg.status().message()),
                  pbc::ErrorOffset(msg.status()).value_or(0), kExitProblems);
  }
  std::string data;
  for (int index = 0;; ++index) {
    auto next = r.ReadNext(&data);
    if (!next.ok()) {
      return finish("corrupt", std::string(next.status().message()),
                    pbc::ErrorOffset(next.status()).value_or(r.record_offset()),
                    ExitCodeFor(next.status()));
    }
    if (*next == pbc::Reader::Next::kEnd) return finish("ok", "", 0, kExitOk);
    if (*next == pbc::Reader::Next::kTornTail) {
      return finish("torn_tail",
                    absl::StrCat(path, ": torn tail: incomplete record at offset ",
                                 r.record_offset(), " (file ends at ", r.file_size(), ")"),
                    r.record_offset(), kExitProblems);
    }
    absl::Status parsed = pbc::ParseRecord(path, r.record_offset(), data, msg->get());
    if (!parsed.ok()) {
      return finish("corrupt", std::string(parsed.message()), r.record_offset(),
                    kExitProblems);
    }
    if (format == OutputFormat::kPlain) {
      std::string text;
      google::protobuf::TextFormat::PrintToString(**msg, &text);
      std::cout << "-- record " << index << " at offset " << r.record_offset() << " ("
                << data.size() << " bytes)\n"
                << text << std::flush;
    } else {
      std::string json;
      google::protobuf::util::JsonPrintOptions options;
      options.preserve_proto_field_names = true;
      auto st = google::protobuf::util::MessageToJsonString(**msg, &json, options);
      nlohmann::json record = {{"offset", r.record_offset()},
                               {"size_bytes", data.size()},
                               {"pb_type", r.pb_type()}};
      if (st.ok()) {
        record["message"] = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
      } else {
        record["message_error"] = st.ToString();
      }
      doc["records"].push_back(std::move(record));
    }
  }
}

// Messages from lib/ start with "<path>: "; the plain line already names it.
std::string WithoutPathPrefix(const std::string& message, const std::string& path) {
  std::string prefix = path + ": ";
  return message.compare(0, prefix.size(), prefix) == 0 ? message.substr(prefix.size())
                                                         : message;
}

void PrintVerifyPlain(const pbc::VerifyResult& v) {
  switch (v.state) {
    case pbc::VerifyResult::State::kOk:
      std::cout << v.path << ": OK (container v" << v.version << ", " << v.pb_type << ", "
                << v.records << (v.records == 1 ? " record" : " records") << ", "
                << v.file_size << " bytes)" << std::endl;
      break;
    case pbc::VerifyResult::State::kTornTail:
      std::cout << v.path << ": TORN TAIL at offset " << v.problem_offset << " ("
                << v.records << " complete records before it; file ends at " << v.file_size
                << ")" << std::endl;
      break;
    case pbc::VerifyResult::State::kCorrupt:
      std::cout << v.path << ": CORRUPT: " << WithoutPathPrefix(v.message, v.path) << std::endl;
      break;
  }
}

nlohmann::json VerifyJson(const pbc::VerifyResult& v) {
  nlohmann::json doc = {{"file", v.path},
                        {"state", pbc::StateName(v.state)},
                        {"version", v.version},
                        {"pb_type", v.pb_type},
                        {"file_size", v.file_size},
                        {"records", v.records}};
  if (v.state != pbc::VerifyResult::State::kOk) {
    doc["problem_offset"] = v.problem_offset;
    doc["message"] = v.message;
  }
  return doc;
}

int Run(int argc, char** argv) {
  CLI::App app{"kmend-pbc: dump and verify PB container files (Kudu/kmend metadata)",
               kTool};
  app.require_subcommand(1);
  OutputFormat format = OutputFormat::kPlain;
  std::vector<std::string> files;

  CLI::App* dump = app.add_subcommand(
      "dump", "Print every record of each file, decoded with its embedded descriptors");
  dump->add_option("files", files, "Container files")->required();
  AddFormatOption(dump, &format);

  CLI::App* verify = app.add_subcommand(
      "verify", "Check framing, every CRC32C and that every record parses; exit 1 on damage");
  verify->add_option("files", files, "Container files")->required();
  AddFormatOption(verify, &format);

  int rc = ParseArgs(app, argc, argv);
  if (rc >= 0) return rc;

  int worst = kExitOk;
  nlohmann::json out = {{"schema_version", kSchemaVersion}, {"files", nlohmann::json::array()}};
  if (dump->parsed()) {
    for (const std::string& f : files) {
      worst = std::max(worst, DumpFile(f, format, &out["files"]));
    }
  } else {
    for (const std::string& f : files) {
      auto v = pbc::VerifyFile(f);
      if (!v.ok()) {
        worst = kExitError;
        if (format == OutputFormat::kJson) {
          out["files"].push_back(
              {{"file", f}, {"state", "error"}, {"message", std::string(v.status().message())}});
        } else {
          std::cout << f << ": ERROR: " << v.status().message() << std::endl;
        }
        continue;
      }
      if (v->state != pbc::VerifyResult::State::kOk) worst = std::max(worst, kExitProblems);
      if (format == OutputFormat::kJson) {
        out["files"].push_back(VerifyJson(*v));
      } else {
        PrintVerifyPlain(*v);
      }
    }
  }
  if (format == OutputFormat::kJson) {
    out["ok"] = worst == kExitOk;
    PrintJson(out);
  }
  return worst;
}

}  // namespace
}  // namespace kmend::tools

int main(int argc, char** argv) { return kmend::tools::Run(argc, argv); }
