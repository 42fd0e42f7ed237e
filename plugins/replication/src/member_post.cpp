#include "member_post.hpp"

#include <fstream>
#include <vector>

namespace mesh::repl {

namespace {
constexpr std::size_t kMaxAnswer = 8 * 1024;
}

std::string post_file(ByteConn& conn, const std::string& path, const std::filesystem::path& file,
                      std::uint64_t size) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return "cannot read " + file.string();
  const std::string head = "POST " + path +
                           " HTTP/1.1\r\nHost: mesh\r\nContent-Type: application/x-git-pack\r\n"
                           "Content-Length: " +
                           std::to_string(size) + "\r\nConnection: close\r\n\r\n";
  if (!conn.write(head)) return "the connection failed while sending";
  std::vector<char> buf(64 * 1024);
  std::uint64_t sent = 0;
  while (sent < size) {
    in.read(buf.data(),
            static_cast<std::streamsize>(std::min<std::uint64_t>(buf.size(), size - sent)));
    const auto n = static_cast<std::size_t>(in.gcount());
    if (n == 0) return "the pack file ended early";
    if (!conn.write(std::string_view(buf.data(), n))) {
      return "the connection failed after " + std::to_string(sent) + " bytes";
    }
    sent += n;
  }
  // The answer: its status line, and the body's first line for the message.
  std::string answer;
  while (answer.size() < kMaxAnswer) {
    long n = conn.read(buf.data(), std::min(buf.size(), kMaxAnswer - answer.size()));
    if (n <= 0) break;
    answer.append(buf.data(), static_cast<std::size_t>(n));
    auto end = answer.find("\r\n\r\n");
    if (end != std::string::npos && answer.find('\n', end + 4) != std::string::npos) break;
  }
  if (!answer.starts_with("HTTP/1.1 ") || answer.size() < 12) {
    return answer.empty() ? "no answer" : "a malformed answer";
  }
  const std::string status = answer.substr(9, 3);
  if (status[0] == '2') return "";
  std::string text;
  if (auto end = answer.find("\r\n\r\n"); end != std::string::npos) {
    text = answer.substr(end + 4);
    // A chunked body starts with its size line; the text is the line after it.
    if (auto nl = text.find("\r\n"); nl != std::string::npos && nl <= 8 &&
                                     text.find_first_not_of("0123456789abcdefABCDEF") == nl) {
      text = text.substr(nl + 2);
    }
    text = text.substr(0, text.find_first_of("\r\n"));
  }
  return "answered " + status + (text.empty() ? "" : ": " + text);
}

}  // namespace mesh::repl
