// git's pkt-line framing (gitprotocol-common(5)): four lowercase hex digits giving the length
// of the whole line including those four, then the payload. "0000" is a flush packet.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace mesh::repl {

constexpr std::size_t kPktMax = 65520;            // largest packet, header included
constexpr std::size_t kPktMaxData = kPktMax - 4;  // largest payload
constexpr std::string_view kFlushPkt = "0000";

// One packet around `payload`; nullopt when it does not fit.
inline std::optional<std::string> pkt_line(std::string_view payload) {
  if (payload.size() > kPktMaxData) return std::nullopt;
  static constexpr char kHex[] = "0123456789abcdef";
  std::size_t n = payload.size() + 4;
  std::string out;
  out.reserve(n);
  for (int shift = 12; shift >= 0; shift -= 4) out.push_back(kHex[(n >> shift) & 0xf]);
  out.append(payload);
  return out;
}

// The length field of a packet header (4 hex digits, either case); nullopt if malformed.
inline std::optional<std::size_t> pkt_length(std::string_view header) {
  if (header.size() != 4) return std::nullopt;
  std::size_t n = 0;
  for (char c : header) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else {
      return std::nullopt;
    }
    n = n * 16 + static_cast<std::size_t>(v);
  }
  return n;
}

}  // namespace mesh::repl
