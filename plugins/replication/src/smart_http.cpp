#include "smart_http.hpp"

namespace mesh::repl {
namespace {

constexpr std::size_t kMaxGitProtocol = 256;

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Splits on ':' and calls f(item) for each; stops early when f returns true.
template <class F>
bool any_item(std::string_view value, F f) {
  std::size_t i = 0;
  while (i <= value.size()) {
    std::size_t j = value.find(':', i);
    if (j == std::string_view::npos) j = value.size();
    if (f(value.substr(i, j - i))) return true;
    i = j + 1;
  }
  return false;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool media_type_is(std::string_view header, std::string_view want) {
  return iequals(trim(header.substr(0, header.find(';'))), want);
}

QueryService query_service(std::string_view query) {
  QueryService found = QueryService::missing;
  std::size_t i = 0;
  while (i < query.size()) {
    std::size_t j = query.find('&', i);
    if (j == std::string_view::npos) j = query.size();
    std::string_view param = query.substr(i, j - i);
    if (param.starts_with("service=")) {
      if (found != QueryService::missing) return QueryService::bad;  // repeated
      param.remove_prefix(8);
      if (param == "git-upload-pack") {
        found = QueryService::upload_pack;
      } else if (param == "git-receive-pack") {
        found = QueryService::receive_pack;
      } else {
        return QueryService::bad;
      }
    }
    i = j + 1;
  }
  return found;
}

bool valid_git_protocol(std::string_view value) {
  if (value.size() > kMaxGitProtocol) return false;
  if (value.empty()) return true;
  return !any_item(value, [](std::string_view item) {
    if (item.empty()) return true;
    for (char c : item) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '=' || c == '-';
      if (!ok) return true;
    }
    return false;
  });
}

bool protocol_v2(std::string_view git_protocol) {
  return !git_protocol.empty() &&
         any_item(git_protocol, [](std::string_view item) { return item == "version=2"; });
}

Headers git_headers(std::string content_type) {
  return {{"Content-Type", std::move(content_type)},
          {"Cache-Control", "no-cache, max-age=0, must-revalidate"},
          {"Pragma", "no-cache"},
          {"Expires", "Fri, 01 Jan 1980 00:00:00 GMT"}};
}

std::string one_line(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n' || c == '\r') {
      if (!out.empty() && out.back() != ' ') out += "; ";
    } else if (static_cast<unsigned char>(c) >= 0x20) {
      out += c;
    }
    if (out.size() > 4096) break;  // bounded work whatever the input
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == ';')) out.pop_back();
  if (out.size() > 512) out.replace(509, std::string::npos, "...");
  return out;
}

bool accepts_html(std::string_view accept) {
  std::size_t i = 0;
  while (i < accept.size()) {
    std::size_t j = accept.find(',', i);
    if (j == std::string_view::npos) j = accept.size();
    if (media_type_is(accept.substr(i, j - i), "text/html")) return true;
    i = j + 1;
  }
  return false;
}

}  // namespace mesh::repl
