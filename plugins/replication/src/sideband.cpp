#include "sideband.hpp"

#include <algorithm>

#include "pkt_line.hpp"

namespace mesh::repl {

std::string sideband_message(std::string_view msg, int sideband) {
  const std::size_t max_line = (sideband == 2 ? kPktMax : 1000) - 4 - 1 - 1;  // band, '\n'
  std::string out;
  std::size_t i = 0;
  while (i < msg.size()) {
    std::size_t j = msg.find('\n', i);
    if (j == std::string_view::npos) j = msg.size();
    std::string line(msg.substr(i, std::min(j - i, max_line)));
    out += *pkt_line("\x02" + line + "\n");
    i = j + 1;
  }
  return out;
}

void SidebandTracker::feed(std::string_view d) {
  while (!d.empty() && !broken_) {
    if (left_ > 0) {
      if (at_payload_start_) {
        at_payload_start_ = false;
        if (d.front() == '\x01') pack_ = true;
      }
      std::size_t n = std::min(left_, d.size());
      left_ -= n;
      d.remove_prefix(n);
      continue;
    }
    header_[have_header_++] = d.front();
    d.remove_prefix(1);
    if (have_header_ < 4) continue;
    have_header_ = 0;
    auto len = pkt_length(std::string_view(header_, 4));
    if (!len || *len == 3 || *len > kPktMax) {
      // Not pkt-lines (a pack without sideband): no message can go in safely.
      broken_ = true;
      return;
    }
    if (*len <= 4) continue;  // flush, delim, response-end, an empty line
    left_ = *len - 4;
    at_payload_start_ = true;
  }
}

}  // namespace mesh::repl
