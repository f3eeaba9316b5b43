#include "lib/net/host_port.h"

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace kmend::net {

absl::StatusOr<HostPortPB> ParseHostPort(absl::string_view text) {
  std::string host;
  absl::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == absl::string_view::npos || close + 1 >= text.size() ||
        text[close + 1] != ':') {
      return absl::InvalidArgumentError(
          absl::StrCat("address '", text, "': expected [ipv6]:port"));
    }
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("address '", text, "': expected host:port"));
    }
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  uint32_t port = 0;
  if (host.empty() || !absl::SimpleAtoi(port_text, &port) || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "address '", text, "': expected host:port with a port in 0..65535"));
  }
  HostPortPB hp;
  hp.set_host(host);
  hp.set_port(port);
  return hp;
}

absl::StatusOr<std::vector<HostPortPB>> ParseHostPorts(absl::string_view text) {
  std::vector<HostPortPB> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    auto hp = ParseHostPort(absl::StripAsciiWhitespace(part));
    if (!hp.ok()) return hp.status();
    out.push_back(*std::move(hp));
  }
  if (out.empty()) {
    return absl::InvalidArgumentError("expected at least one host:port");
  }
  return out;
}

std::string HostPortToString(const HostPortPB& hp) {
  if (hp.host().find(':') != std::string::npos) {
    return absl::StrCat("[", hp.host(), "]:", hp.port());
  }
  return absl::StrCat(hp.host(), ":", hp.port());
}

}  // namespace kmend::net
