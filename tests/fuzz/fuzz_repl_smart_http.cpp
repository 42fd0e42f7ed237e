// libFuzzer target: the request-side rules of the smart HTTP service (smart_http.hpp), which
// read headers and queries straight from the network. Beyond not crashing, what they accept
// must hold the properties the service relies on; a violation traps. The input is split at
// the first NUL: a query/header value before it, a second value after it.
#include <cstdint>
#include <string>
#include <string_view>

#include "smart_http.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mesh::repl;
  std::string_view all(reinterpret_cast<const char*>(data), size);
  std::string_view a = all.substr(0, all.find('\0'));
  std::string_view b = a.size() < all.size() ? all.substr(a.size() + 1) : std::string_view();

  // The service of a query: one of the two, only from an exact service= parameter.
  switch (query_service(a)) {
    case QueryService::upload_pack:
      check(a.find("service=git-upload-pack") != std::string_view::npos);
      break;
    case QueryService::receive_pack:
      check(a.find("service=git-receive-pack") != std::string_view::npos);
      break;
    default:
      break;
  }
  // Git-Protocol becomes an environment value: bounded, and no byte outside the set.
  if (valid_git_protocol(a)) {
    check(a.size() <= 256);
    for (char c : a) {
      check((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '.' || c == '_' || c == '=' || c == '-' || c == ':');
    }
    if (protocol_v2(a)) check(a.find("version=2") != std::string_view::npos);
  }
  // Matching is symmetric in case and ignores parameters and blanks.
  check(iequals(a, b) == iequals(b, a));
  if (media_type_is(a, "application/x-git-receive-pack-request")) {
    check(iequals(trim(a.substr(0, a.find(';'))), "application/x-git-receive-pack-request"));
  }
  std::string_view t = trim(a);
  check(t.size() <= a.size());
  check(t.empty() ||
        (t.front() != ' ' && t.front() != '\t' && t.back() != ' ' && t.back() != '\t'));
  if (accepts_html(a)) check(a.size() >= 9);
  // A log line: one printable line, bounded.
  std::string line = one_line(a);
  check(line.size() <= 512);
  for (unsigned char c : line) check(c >= 0x20 && c != '\n' && c != '\r');
  return 0;
}
